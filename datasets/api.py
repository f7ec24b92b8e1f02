"""Datasets, entries and labels API: views authorize through ProjectScopedApi and call one service each."""

from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from core.errors import InvalidInput
from core.pagination import IdCursorPagination, paginated_response
from core.parsers import LimitedJSONParser, NDJSONParser, NDJSONRenderer, ndjson_download
from core.validation import validated
from datasets import export, selectors
from datasets.models import Dataset
from datasets.serializers import (
    DatasetCreatedSerializer,
    DatasetCreateSerializer,
    DatasetOutputSerializer,
    DatasetUpdateSerializer,
    DistributeInputSerializer,
    DistributeOutputSerializer,
    EntriesChangesSerializer,
    EntriesUpdateResultSerializer,
    EntryFilterSerializer,
    EntryOutputSerializer,
    EntryUpdateSerializer,
    LabelInputSerializer,
    LabelOutputSerializer,
    UploadInputSerializer,
    UploadResultSerializer,
)
from datasets.services import datasets as dataset_services
from datasets.services import distribute as distribute_services
from datasets.services import entries as entry_services
from datasets.services import entries_update as entries_update_services
from datasets.services import labels as label_services
from datasets.services import uploads as upload_services
from datasets.services.uploads import UploadedFileInput
from datasets.validation import BoxInput
from importers import services as import_services
from projects.api_base import ProjectScopedApi
from projects.permissions import Capability


class DatasetScopedApi(ProjectScopedApi):
    def get_dataset(self, dataset_id: int) -> Dataset:
        dataset, _ = self.get_member_object(Dataset.objects.all(), dataset_id)
        return dataset


class ProjectDatasetListApi(DatasetScopedApi):
    capabilities = {"get": Capability.READ, "post": Capability.DATASETS_MANAGE}

    @extend_schema(responses={200: DatasetOutputSerializer(many=True)})
    def get(self, request: Request, project_id: int) -> Response:
        project, _ = self.get_project(project_id)
        datasets = selectors.datasets_visible_to(user=request.user, project_id=project.pk)
        return paginated_response(self, datasets, DatasetOutputSerializer)

    @extend_schema(
        request=DatasetCreateSerializer, responses={201: DatasetCreatedSerializer, 202: DatasetCreatedSerializer}
    )
    def post(self, request: Request, project_id: int) -> Response:
        project, _ = self.get_project(project_id)
        data = validated(DatasetCreateSerializer, request.data)
        source = data["source"]
        # Copying needs only the right to read the source, which may lie in another of the caller's projects.
        source_dataset = (
            selectors.dataset_readable_by(user=request.user, dataset_id=source["dataset"])
            if source["kind"] == "dataset"
            else None
        )
        dataset, job = import_services.dataset_create_from_source(
            project_id=project.pk,
            name=data["name"],
            type=data["type"],
            source=source,
            user=request.user,
            source_dataset=source_dataset,
        )
        dataset.import_job = job
        return Response(
            DatasetCreatedSerializer(dataset).data, status=status.HTTP_202_ACCEPTED if job else status.HTTP_201_CREATED
        )


class DistributeApi(DatasetScopedApi):
    capabilities = {"post": Capability.DATASETS_MANAGE}

    @extend_schema(request=DistributeInputSerializer, responses={200: DistributeOutputSerializer})
    def post(self, request: Request, project_id: int) -> Response:
        project, _ = self.get_project(project_id)
        data = validated(DistributeInputSerializer, request.data)
        training = selectors.dataset_readable_by(user=request.user, dataset_id=data["training_dataset"])
        test = selectors.dataset_readable_by(user=request.user, dataset_id=data["test_dataset"])
        if project.pk not in (training.project_id, test.project_id):
            raise InvalidInput("The datasets do not belong to this project.", code="datasets_in_different_projects")
        moved = distribute_services.datasets_distribute(
            training_id=training.pk, test_id=test.pk, fraction=data["test_fraction"], seed=data["seed"]
        )
        training.refresh_from_db()
        test.refresh_from_db()
        return Response(
            DistributeOutputSerializer({"moved": moved, "training_dataset": training, "test_dataset": test}).data
        )


class DatasetDetailApi(DatasetScopedApi):
    capabilities = {"get": Capability.READ, "patch": Capability.DATASETS_MANAGE, "delete": Capability.DATASETS_MANAGE}

    @extend_schema(responses={200: DatasetOutputSerializer})
    def get(self, request: Request, dataset_id: int) -> Response:
        return Response(DatasetOutputSerializer(self.get_dataset(dataset_id)).data)

    @extend_schema(request=DatasetUpdateSerializer, responses={200: DatasetOutputSerializer})
    def patch(self, request: Request, dataset_id: int) -> Response:
        dataset = dataset_services.dataset_update(
            dataset=self.get_dataset(dataset_id), **validated(DatasetUpdateSerializer, request.data)
        )
        return Response(DatasetOutputSerializer(dataset).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, dataset_id: int) -> Response:
        dataset_services.dataset_delete(dataset_id=self.get_dataset(dataset_id).pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


ENTRY_FILTERS = [
    OpenApiParameter("contains_labels", str, description="Comma-separated label names; any of them (up to 10)"),
    OpenApiParameter("labeled", bool),
    OpenApiParameter("has_errors", bool),
    OpenApiParameter("source_ref_contains", str),
    OpenApiParameter("page_size", int, description="1-500, default 100"),
]


class EntryListApi(DatasetScopedApi):
    capabilities = {"get": Capability.READ, "post": Capability.DATASETS_MANAGE}
    parser_classes = [NDJSONParser, LimitedJSONParser]

    @extend_schema(parameters=ENTRY_FILTERS, responses={200: EntryOutputSerializer(many=True)})
    def get(self, request: Request, dataset_id: int) -> Response:
        dataset = self.get_dataset(dataset_id)
        filters = validated(EntryFilterSerializer, request.query_params)
        entries = selectors.dataset_entries(dataset_id=dataset.pk, **filters)
        return paginated_response(
            self,
            entries,
            EntryOutputSerializer,
            paginator_class=IdCursorPagination,
            prepare=selectors.entries_annotate,
            context={"project_id": dataset.project_id},
        )

    @extend_schema(
        summary="UpdateDatasetEntries: add or replace entries by source-ref",
        request={"application/x-ndjson": str, "application/json": EntriesChangesSerializer},
        responses={200: EntriesUpdateResultSerializer},
    )
    def post(self, request: Request, dataset_id: int) -> Response:
        dataset = self.get_dataset(dataset_id)
        if isinstance(request.data, bytes):
            body = request.data
        else:
            body = validated(EntriesChangesSerializer, request.data)["changes"].encode()
        result = entries_update_services.entries_update_from_manifest(
            dataset_id=dataset.pk, lines=body.splitlines(), user=request.user
        )
        return Response(EntriesUpdateResultSerializer(result).data)


class UploadApi(DatasetScopedApi):
    capabilities = {"post": Capability.DATASETS_MANAGE}
    parser_classes = [MultiPartParser]

    @extend_schema(
        summary="Add images from a computer (PNG/JPEG, checked by content)",
        request={"multipart/form-data": UploadInputSerializer},
        responses={201: UploadResultSerializer},
    )
    def post(self, request: Request, dataset_id: int) -> Response:
        dataset = self.get_dataset(dataset_id)
        files = [UploadedFileInput(f.name, f, f.size) for f in request.FILES.getlist("files")]
        refused = [
            (name, "file_too_large", f"{name}: the file is over 15 MB")
            for name in getattr(request._request, "refused_uploads", [])
        ]
        if not files and not refused:
            raise InvalidInput(
                "Send one or more images in the multipart field `files`.",
                code="no_files",
                fields={"files": "Required."},
            )
        labels = [name for value in request.data.getlist("labels") for name in value.split(",") if name.strip()]
        result = upload_services.images_upload(
            dataset_id=dataset.pk, files=files, labels=labels, user=request.user, refused=refused
        )
        created = selectors.entries_annotate(
            list(selectors.dataset_entries(dataset_id=dataset.pk).filter(pk__in=result.created_ids).order_by("pk"))
        )
        body = {"created": created, "errors": result.errors}
        return Response(
            UploadResultSerializer(body, context={"project_id": dataset.project_id}).data,
            status=status.HTTP_201_CREATED,
        )


class ManifestExportApi(DatasetScopedApi):
    capabilities = {"get": Capability.READ}
    renderer_classes = [JSONRenderer, NDJSONRenderer]

    @extend_schema(responses={(200, "application/x-ndjson"): str})
    def get(self, request: Request, dataset_id: int) -> StreamingHttpResponse:
        dataset = self.get_dataset(dataset_id)
        chunks = export.iter_manifest_chunks(dataset_id=dataset.pk, job_name=f"groundwork/{dataset.name}")
        return ndjson_download(chunks, filename=f"{dataset.name}.manifest")


class EntryDetailApi(DatasetScopedApi):
    capabilities = {"get": Capability.READ, "patch": Capability.ENTRIES_EDIT, "delete": Capability.DATASETS_MANAGE}

    @extend_schema(responses={200: EntryOutputSerializer})
    def get(self, request: Request, dataset_id: int, entry_id: int) -> Response:
        dataset = self.get_dataset(dataset_id)
        return Response(
            EntryOutputSerializer(
                selectors.entry_get(dataset_id=dataset.pk, entry_id=entry_id),
                context={"project_id": dataset.project_id},
            ).data
        )

    @extend_schema(request=EntryUpdateSerializer, responses={200: EntryOutputSerializer})
    def patch(self, request: Request, dataset_id: int, entry_id: int) -> Response:
        dataset = self.get_dataset(dataset_id)
        data = validated(EntryUpdateSerializer, request.data)
        boxes = data.get("boxes")
        entry_services.entry_update(
            dataset_id=dataset.pk,
            entry_id=entry_id,
            user=request.user,
            labels=data.get("labels"),
            boxes=None if boxes is None else [BoxInput(**box) for box in boxes],
        )
        return Response(
            EntryOutputSerializer(
                selectors.entry_get(dataset_id=dataset.pk, entry_id=entry_id),
                context={"project_id": dataset.project_id},
            ).data
        )

    @extend_schema(responses={204: None})
    def delete(self, request: Request, dataset_id: int, entry_id: int) -> Response:
        dataset = self.get_dataset(dataset_id)
        entry_services.entry_delete(dataset_id=dataset.pk, entry_id=entry_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LabelListApi(DatasetScopedApi):
    capabilities = {"get": Capability.READ, "post": Capability.LABELS_MANAGE}

    @extend_schema(responses={200: LabelOutputSerializer(many=True)})
    def get(self, request: Request, dataset_id: int) -> Response:
        dataset = self.get_dataset(dataset_id)
        return paginated_response(
            self, selectors.dataset_labels_with_counts(dataset_id=dataset.pk), LabelOutputSerializer
        )

    @extend_schema(request=LabelInputSerializer, responses={201: LabelOutputSerializer})
    def post(self, request: Request, dataset_id: int) -> Response:
        dataset = self.get_dataset(dataset_id)
        label = label_services.label_create(dataset_id=dataset.pk, **validated(LabelInputSerializer, request.data))
        return Response({"name": label.name, "entry_count": 0, "bounding_box_count": 0}, status=status.HTTP_201_CREATED)


class LabelDetailApi(DatasetScopedApi):
    capabilities = {"get": Capability.READ, "patch": Capability.LABELS_MANAGE, "delete": Capability.LABELS_MANAGE}

    @extend_schema(responses={200: LabelOutputSerializer})
    def get(self, request: Request, dataset_id: int, name: str) -> Response:
        dataset = self.get_dataset(dataset_id)
        return Response(LabelOutputSerializer(selectors.label_get_with_counts(dataset_id=dataset.pk, name=name)).data)

    @extend_schema(request=LabelInputSerializer, responses={200: LabelOutputSerializer})
    def patch(self, request: Request, dataset_id: int, name: str) -> Response:
        dataset = self.get_dataset(dataset_id)
        new_name = validated(LabelInputSerializer, request.data)["name"]
        label = label_services.label_rename(dataset_id=dataset.pk, name=name, new_name=new_name)
        return Response(
            LabelOutputSerializer(selectors.label_get_with_counts(dataset_id=dataset.pk, name=label.name)).data
        )

    @extend_schema(responses={204: None})
    def delete(self, request: Request, dataset_id: int, name: str) -> Response:
        dataset = self.get_dataset(dataset_id)
        label_services.label_delete(dataset_id=dataset.pk, name=name)
        return Response(status=status.HTTP_204_NO_CONTENT)
