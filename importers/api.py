"""Import jobs API: progress, line errors, cancel."""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from core.pagination import IdCursorPagination, paginated_response
from core.parsers import LimitedJSONParser
from core.uploads import UploadTooLarge, refused_uploads, size_words, upload_limit
from core.validation import validated
from datasets.models import Dataset
from datasets.serializers import SourceSerializer
from importers import services
from importers.models import ImportJob, ImportLineError
from importers.serializers import ImportJobOutputSerializer, ImportLineErrorSerializer
from projects.api_base import ProjectScopedApi
from projects.permissions import Capability


class ImportJobScopedApi(ProjectScopedApi):
    def get_job(self, job_id: int) -> ImportJob:
        job, _ = self.get_member_object(ImportJob.objects.all(), job_id, project_path="dataset__project")
        return job


class ImportJobDetailApi(ImportJobScopedApi):
    capabilities = {"get": Capability.READ}

    @extend_schema(responses={200: ImportJobOutputSerializer})
    def get(self, request: Request, job_id: int) -> Response:
        return Response(ImportJobOutputSerializer(self.get_job(job_id)).data)


class ImportJobErrorsApi(ImportJobScopedApi):
    capabilities = {"get": Capability.READ}

    @extend_schema(responses={200: ImportLineErrorSerializer(many=True)})
    def get(self, request: Request, job_id: int) -> Response:
        job = self.get_job(job_id)
        errors = ImportLineError.objects.filter(job=job)
        return paginated_response(self, errors, ImportLineErrorSerializer, paginator_class=IdCursorPagination)


class ImportJobCancelApi(ImportJobScopedApi):
    capabilities = {"post": Capability.DATASETS_MANAGE}

    @extend_schema(request=None, responses={200: ImportJobOutputSerializer})
    def post(self, request: Request, job_id: int) -> Response:
        job = services.import_cancel(job_id=self.get_job(job_id).pk)
        return Response(ImportJobOutputSerializer(job).data)


class ManifestUploadSerializer(serializers.Serializer):
    manifest = serializers.FileField(help_text="A Ground Truth manifest (JSON Lines), up to 1 GB")


@upload_limit("MANIFEST_MAX_BYTES")
class DatasetImportApi(ProjectScopedApi):
    capabilities = {"post": Capability.DATASETS_MANAGE}
    parser_classes = [LimitedJSONParser, MultiPartParser]

    @extend_schema(
        request={"application/json": SourceSerializer, "multipart/form-data": ManifestUploadSerializer},
        responses={202: ImportJobOutputSerializer},
    )
    def post(self, request: Request, dataset_id: int) -> Response:
        dataset, _ = self.get_member_object(Dataset.objects.all(), dataset_id)
        if request.content_type.startswith("multipart/"):
            data = request.data  # parsed here at the latest, so the refused files are known
            if refused_uploads(request._request):
                raise UploadTooLarge(
                    f"The manifest is over {size_words(settings.MANIFEST_MAX_BYTES)}; it was not received.",
                    code="ERROR_MANIFEST_SIZE_TOO_LARGE",
                    fields={"manifest": "Too large."},
                )
            upload = validated(ManifestUploadSerializer, data)["manifest"]
            source = {"kind": "manifest", "upload": upload, "upload_size": upload.size}
        else:
            source = validated(SourceSerializer, request.data)
        job = services.import_start(dataset_id=dataset.pk, source=source, user=request.user)
        return Response(ImportJobOutputSerializer(job).data, status=status.HTTP_202_ACCEPTED)
