"""The create-dataset wizard, the upload page, and the live page of an import with its error list as CSV."""

import csv
from collections.abc import Iterator

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header

from core.errors import GroundworkError
from core.uploads import refused_uploads, upload_limit
from datasets.models import DatasetType
from datasets.selectors import dataset_readable_by, datasets_visible_to
from frontend.access import dataset_for, import_for, project_for
from frontend.forms import DatasetCreateForm, add_service_error
from frontend.project_views import dataset_url
from importers import services as import_services
from importers.models import FINISHED_STATUSES, ImportLineError
from projects.permissions import Capability
from projects.selectors import project_connections


@upload_limit("MANIFEST_MAX_BYTES")
@login_required
def dataset_new(request: HttpRequest, project_id: int) -> HttpResponse:
    project, _ = project_for(request, project_id, Capability.DATASETS_MANAGE)
    form = DatasetCreateForm(
        request.POST or None,
        request.FILES or None,
        connections=project_connections(project_id=project.pk),
        datasets=datasets_visible_to(user=request.user, project_id=project.pk),
        initial={"type": request.GET.get("type", DatasetType.TRAIN)},
        refused_files=refused_uploads(request),
    )
    if request.method == "POST" and form.is_valid():
        source = form.source_spec()
        try:
            source_dataset = (
                dataset_readable_by(user=request.user, dataset_id=source["dataset"])
                if source["kind"] == "dataset"
                else None
            )
            api_source = {"kind": "empty"} if source["kind"] == "upload" else source
            dataset, job = import_services.dataset_create_from_source(
                project_id=project.pk,
                name=form.cleaned_data["name"],
                type=form.cleaned_data["type"],
                source=api_source,
                user=request.user,
                source_dataset=source_dataset,
            )
        except GroundworkError as error:
            add_service_error(form, error, DatasetCreateForm.FIELD_MAP)
        else:
            if job is not None:
                return redirect("frontend:import", import_id=job.pk)
            messages.success(request, f"Dataset “{dataset.name}” created.")
            if form.cleaned_data["source"] == "upload":
                return redirect("frontend:dataset_upload", dataset_id=dataset.pk)
            return redirect("frontend:project", project_id=project.pk)
    return render(request, "frontend/dataset_new.html", {"project": project, "form": form})


@login_required
def dataset_upload(request: HttpRequest, dataset_id: int) -> HttpResponse:
    dataset, _ = dataset_for(request, dataset_id, Capability.DATASETS_MANAGE)
    return render(
        request,
        "frontend/dataset_upload.html",
        {"dataset": dataset, "project": dataset.project, "dataset_url": dataset_url(dataset.pk)},
    )


@login_required
def import_detail(request: HttpRequest, import_id: int) -> HttpResponse:
    job, access = import_for(request, import_id, Capability.READ)
    context = {
        "job": job,
        "dataset": job.dataset,
        "project": job.dataset.project,
        "dataset_url": dataset_url(job.dataset_id),
        "finished": job.status in FINISHED_STATUSES,
        "can_cancel": access.allows(Capability.DATASETS_MANAGE),
    }
    return render(request, "frontend/import.html", context)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_rows(job_id: int) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(["line", "source_ref", "code", "message"])
    rows = (
        ImportLineError.objects.filter(job_id=job_id)
        .order_by("id")
        .values_list("line", "source_ref", "code", "message")
    )
    for row in rows.iterator(chunk_size=2000):
        yield writer.writerow(["" if value is None else value for value in row])


@login_required
def import_errors_csv(request: HttpRequest, import_id: int) -> StreamingHttpResponse:
    job, _ = import_for(request, import_id, Capability.READ)
    response = StreamingHttpResponse(_csv_rows(job.pk), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=f"import-{job.pk}-errors.csv"
    )
    return response
