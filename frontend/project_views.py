"""Project pages: "New project", and a project's page with its datasets, members and connections.

Each view resolves the project through frontend.access (404 for outsiders, 403 for a missing right), calls one
service, and redirects back (post/redirect/get) or renders the page again with the form's errors.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.errors import GroundworkError
from datasets.models import DatasetStatus, DatasetType
from datasets.selectors import datasets_visible_to
from datasets.services import datasets as dataset_services
from datasets.services import distribute as distribute_services
from frontend.access import dataset_for, project_for
from frontend.forms import (
    ConnectionForm,
    DistributeForm,
    MemberAddForm,
    MemberRoleForm,
    ProjectCreateForm,
    add_service_error,
)
from importers import services as import_services
from importers.models import ImportJob, ImportStatus
from labeling.selectors import jobs_of_project, teams_of_project
from projects import selectors, services
from projects.models import Project, Role
from projects.permissions import ASSIGNABLE_ROLES, Access, Capability, role_allows
from projects.s3 import drop_folder_uri


@login_required
def project_new(request: HttpRequest) -> HttpResponse:
    form = ProjectCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data, training = form.cleaned_data, form.training_dataset()
        try:
            if training is None:
                project, job = (
                    services.project_create(user=request.user, name=data["name"], description=data["description"]),
                    None,
                )
            else:
                project, _, job = import_services.project_create_with_training_dataset(
                    user=request.user, name=data["name"], description=data["description"], training_dataset=training
                )
        except GroundworkError as error:
            add_service_error(form, error, {"source.s3_uri": "s3_uri", "name": "dataset_name"})
        else:
            messages.success(request, f"Project “{project.name}” created.")
            if job is not None:
                return redirect("frontend:import", import_id=job.pk)
            return redirect("frontend:project", project_id=project.pk)
    return render(request, "frontend/project_new.html", {"form": form})


# The project page shows the newest jobs and first teams; their own pages list them all.
PROJECT_PAGE_LIST_LIMIT = 8


def dataset_url(dataset_id: int) -> str:
    """The gallery of a dataset."""
    return reverse("frontend:dataset", kwargs={"dataset_id": dataset_id})


def _project_page(request: HttpRequest, project: Project, access: Access, **forms: object) -> HttpResponse:
    # A form with errors comes back inside the whole page with 200, as Django's form views answer.
    datasets = list(datasets_visible_to(user=request.user, project_id=project.pk))
    running = dict(
        ImportJob.objects.filter(dataset__project_id=project.pk, status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING])
        .order_by("id")
        .values_list("dataset_id", "id")
    )
    for dataset in datasets:
        dataset.url = dataset_url(dataset.pk)
        dataset.import_id = running.get(dataset.pk)
        dataset.busy = dataset.status in (DatasetStatus.CREATING, DatasetStatus.UPDATING)
    can_manage_datasets = access.allows(Capability.DATASETS_MANAGE)
    training = [d for d in datasets if d.type == DatasetType.TRAIN and d.total_entries and not d.busy]
    empty_tests = [d for d in datasets if d.type == DatasetType.TEST and not d.total_entries and not d.busy]
    can_distribute = can_manage_datasets and training and empty_tests

    assignable = ASSIGNABLE_ROLES[Role(access.role)] if access.allows(Capability.MEMBERS_MANAGE) else frozenset()
    members = list(selectors.project_memberships(project_id=project.pk))
    for member in members:
        member.is_me = member.user_id == request.user.pk
        member.can_change = Role(member.role) in assignable
        member.can_remove = member.can_change or member.is_me
        member.role_options = [r for r in Role if r in assignable] if member.can_change else []

    context = {
        "project": project,
        "role": access.role,
        "datasets": datasets,
        "can_manage_datasets": can_manage_datasets,
        "distribute_form": forms.get("distribute_form")
        or (DistributeForm(training=training, test=empty_tests) if can_distribute else None),
        "members": members,
        "can_invite": bool(assignable),
        "member_form": forms.get("member_form") or MemberAddForm(roles=assignable),
        "can_see_connections": can_manage_datasets,
        "drop_folder": drop_folder_uri(project.pk) if can_manage_datasets else None,
        "can_manage_connections": access.allows(Capability.CONNECTIONS_MANAGE),
        "connections": selectors.project_connections(project_id=project.pk) if can_manage_datasets else [],
        "connection_form": forms.get("connection_form") or ConnectionForm(),
        "teams": list(teams_of_project(project_id=project.pk)[:PROJECT_PAGE_LIST_LIMIT]),
        "jobs": list(jobs_of_project(project_id=project.pk)[:PROJECT_PAGE_LIST_LIMIT]),
        "list_limit": PROJECT_PAGE_LIST_LIMIT,
        "can_manage_teams": role_allows(access.role, Capability.TEAMS_MANAGE),
        "can_manage_jobs": role_allows(access.role, Capability.JOBS_MANAGE),
    }
    return render(request, "frontend/project.html", context)


@login_required
def project_detail(request: HttpRequest, project_id: int) -> HttpResponse:
    project, access = project_for(request, project_id, Capability.READ)
    return _project_page(request, project, access)


def _back(project_id: int, anchor: str) -> HttpResponse:
    return redirect(reverse("frontend:project", kwargs={"project_id": project_id}) + f"#{anchor}")


@login_required
@require_POST
def dataset_delete(request: HttpRequest, dataset_id: int) -> HttpResponse:
    dataset, _ = dataset_for(request, dataset_id, Capability.DATASETS_MANAGE)
    try:
        dataset_services.dataset_delete(dataset_id=dataset.pk)
    except GroundworkError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Dataset “{dataset.name}” deleted.")
    return _back(dataset.project_id, "datasets")


@login_required
@require_POST
def datasets_distribute(request: HttpRequest, project_id: int) -> HttpResponse:
    project, access = project_for(request, project_id, Capability.DATASETS_MANAGE)
    datasets = datasets_visible_to(user=request.user, project_id=project.pk)
    form = DistributeForm(
        request.POST,
        training=datasets.filter(type=DatasetType.TRAIN),
        test=datasets.filter(type=DatasetType.TEST),
    )
    if form.is_valid():
        data = form.cleaned_data
        try:
            moved = distribute_services.datasets_distribute(
                training_id=data["training_dataset"],
                test_id=data["test_dataset"],
                fraction=data["test_fraction"],
                seed=data["seed"],
            )
        except GroundworkError as error:
            add_service_error(form, error)
        else:
            messages.success(request, f"{moved} images moved into the test dataset.")
            return _back(project.pk, "datasets")
    return _project_page(request, project, access, distribute_form=form)


@login_required
@require_POST
def member_add(request: HttpRequest, project_id: int) -> HttpResponse:
    project, access = project_for(request, project_id, Capability.MEMBERS_MANAGE)
    form = MemberAddForm(request.POST, roles=ASSIGNABLE_ROLES[Role(access.role)])
    if form.is_valid():
        try:
            membership = services.membership_add(
                project_id=project.pk, actor=request.user, actor_role=access.role, **form.cleaned_data
            )
        except GroundworkError as error:
            add_service_error(form, error)
        else:
            messages.success(request, f"{membership.user.username} joined as {membership.get_role_display().lower()}.")
            return _back(project.pk, "members")
    return _project_page(request, project, access, member_form=form)


@login_required
@require_POST
def member_change(request: HttpRequest, project_id: int, user_id: int) -> HttpResponse:
    # Whether this change is allowed depends on both roles: the service asks check_membership_change.
    project, access = project_for(request, project_id, Capability.READ)
    form = MemberRoleForm(request.POST)
    try:
        if not form.is_valid():
            messages.error(request, "Choose a role.")
        elif "remove" in request.POST:
            services.membership_remove(
                project_id=project.pk, actor=request.user, actor_role=access.role, user_id=user_id
            )
            if user_id == request.user.pk:
                messages.success(request, f"You left “{project.name}”.")
                return redirect("frontend:home")
            messages.success(request, "Member removed.")
        else:
            membership = services.membership_change_role(
                project_id=project.pk,
                actor=request.user,
                actor_role=access.role,
                user_id=user_id,
                role=form.cleaned_data["role"],
            )
            messages.success(request, f"{membership.user.username} is now {membership.get_role_display().lower()}.")
    except GroundworkError as error:
        if error.http_status == 403:
            raise DjangoPermissionDenied(error.message) from None
        messages.error(request, error.message)
    return _back(project.pk, "members")


@login_required
@require_POST
def connection_create(request: HttpRequest, project_id: int) -> HttpResponse:
    project, access = project_for(request, project_id, Capability.CONNECTIONS_MANAGE)
    form = ConnectionForm(request.POST)
    if form.is_valid():
        try:
            connection = services.connection_create(project_id=project.pk, user=request.user, **form.cleaned_data)
        except GroundworkError as error:
            add_service_error(form, error)
        else:
            messages.success(request, f"Storage connection “{connection.name}” added.")
            return _back(project.pk, "connections")
    return _project_page(request, project, access, connection_form=form)


@login_required
@require_POST
def connection_delete(request: HttpRequest, project_id: int, connection_id: int) -> HttpResponse:
    project, _ = project_for(request, project_id, Capability.CONNECTIONS_MANAGE)
    try:
        services.connection_delete(project_id=project.pk, connection_id=connection_id)
    except GroundworkError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "Storage connection deleted.")
    return _back(project.pk, "connections")
