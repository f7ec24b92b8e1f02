"""Input and output shapes of the datasets API."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.fields import CodedChoiceField
from datasets import image_urls
from datasets.models import Dataset, DatasetType, Image, Label


class DatasetStatsSerializer(serializers.Serializer):
    total_entries = serializers.IntegerField()
    labeled_entries = serializers.IntegerField()
    error_entries = serializers.IntegerField()
    total_labels = serializers.IntegerField()


class DatasetOutputSerializer(serializers.ModelSerializer):
    project = serializers.IntegerField(source="project_id", read_only=True)
    stats = serializers.SerializerMethodField()

    class Meta:
        model = Dataset
        fields = ["id", "project", "name", "type", "status", "status_message", "stats", "created_at", "updated_at"]
        read_only_fields = fields

    @extend_schema_field(DatasetStatsSerializer)
    def get_stats(self, dataset: Dataset) -> dict[str, int]:
        return {
            "total_entries": dataset.total_entries,
            "labeled_entries": dataset.labeled_entries,
            "error_entries": dataset.error_entries,
            "total_labels": dataset.total_labels,
        }


def type_field(**kwargs: object) -> CodedChoiceField:
    return CodedChoiceField(choices=DatasetType.choices, invalid_code="unknown_dataset_type", **kwargs)


class DatasetUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    type = type_field(required=False)


class BoxSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    label = serializers.CharField(max_length=1000)
    left = serializers.IntegerField(min_value=0)
    top = serializers.IntegerField(min_value=0)
    width = serializers.IntegerField(min_value=1)
    height = serializers.IntegerField(min_value=1)


class EntryErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class EntryOutputSerializer(serializers.ModelSerializer):
    """An entry; labels and boxes come from `selectors.entries_annotate` (no query per entry)."""

    labels = serializers.SerializerMethodField()
    boxes = serializers.SerializerMethodField()
    errors = EntryErrorSerializer(many=True, read_only=True)
    image_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = Image
        fields = [
            "id", "source_ref", "width", "height", "format", "orientation", "image_url", "thumbnail_url",
            "labels", "boxes", "errors", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_labels(self, entry: Image) -> list[str]:
        return entry.label_names

    @extend_schema_field(BoxSerializer(many=True))
    def get_boxes(self, entry: Image) -> list[dict]:
        keys = ("id", "label", "left", "top", "width", "height")
        return [dict(zip(keys, row, strict=True)) for row in entry.box_rows]

    # The context's `project_id` is the entry's project, whose bucket rule decides which images get a URL.
    def get_image_url(self, entry: Image) -> str | None:
        return image_urls.entry_image_url(entry, project_id=self.context["project_id"])

    def get_thumbnail_url(self, entry: Image) -> str | None:
        return image_urls.entry_thumbnail_url(entry, project_id=self.context["project_id"])


class EntryUpdateSerializer(serializers.Serializer):
    labels = serializers.ListField(child=serializers.CharField(max_length=1000), required=False, max_length=1000)
    boxes = BoxSerializer(many=True, required=False)


class EntryFilterSerializer(serializers.Serializer):
    contains_labels = serializers.CharField(required=False, help_text="Comma-separated label names (any of, up to 10)")
    labeled = serializers.BooleanField(required=False, allow_null=True, default=None)
    has_errors = serializers.BooleanField(required=False, allow_null=True, default=None)
    source_ref_contains = serializers.CharField(required=False, max_length=2048)

    def validate_contains_labels(self, value: str) -> list[str]:
        names = [name.strip() for name in value.split(",") if name.strip()]
        if len(names) > 10:
            raise serializers.ValidationError("At most 10 labels.", code="too_many_labels")
        return names


class LabelOutputSerializer(serializers.ModelSerializer):
    entry_count = serializers.IntegerField(read_only=True)
    bounding_box_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Label
        fields = ["name", "entry_count", "bounding_box_count"]
        read_only_fields = fields


class LabelInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=1000)


SOURCE_KINDS = [("empty", "Empty"), ("s3_folder", "S3 folder"), ("manifest", "Manifest"), ("dataset", "Copy")]


class SourceSerializer(serializers.Serializer):
    kind = CodedChoiceField(choices=SOURCE_KINDS, invalid_code="unknown_source_kind")
    s3_uri = serializers.CharField(max_length=2100, required=False)
    auto_label = serializers.BooleanField(required=False, default=False)
    connection = serializers.IntegerField(required=False, allow_null=True, default=None)
    dataset = serializers.IntegerField(required=False)

    def validate(self, attrs: dict) -> dict:
        kind = attrs["kind"]
        if kind in {"s3_folder", "manifest"} and not attrs.get("s3_uri"):
            raise serializers.ValidationError({"s3_uri": f"A {kind} source needs an s3_uri."}, code="required")
        if kind == "dataset" and attrs.get("dataset") is None:
            raise serializers.ValidationError(
                {"dataset": "A dataset source names the dataset to copy."}, code="required"
            )
        return attrs


class DatasetCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    type = type_field(required=False, default=DatasetType.TRAIN)
    source = SourceSerializer(required=False, default={"kind": "empty"})


class DatasetCreatedSerializer(DatasetOutputSerializer):
    """A new dataset with `import`, the job that fills it (null for an empty dataset)."""

    def get_fields(self) -> dict[str, serializers.Field]:
        from importers.serializers import ImportJobOutputSerializer  # importers build on datasets

        fields = super().get_fields()
        fields["import"] = ImportJobOutputSerializer(source="import_job", allow_null=True, read_only=True)
        return fields


class DistributeInputSerializer(serializers.Serializer):
    training_dataset = serializers.IntegerField()
    test_dataset = serializers.IntegerField()
    test_fraction = serializers.FloatField(required=False, default=0.2, min_value=0.01, max_value=0.99)
    seed = serializers.IntegerField(required=False, default=0)


class DistributeOutputSerializer(serializers.Serializer):
    moved = serializers.IntegerField()
    training_dataset = DatasetOutputSerializer()
    test_dataset = DatasetOutputSerializer()


class EntriesChangesSerializer(serializers.Serializer):
    changes = serializers.CharField(trim_whitespace=False, help_text="Manifest lines (JSON Lines)")


class LineErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    code = serializers.CharField()
    message = serializers.CharField()
    rejected = serializers.BooleanField(help_text="True: the line was not stored; false: stored without this part")
    source_ref = serializers.CharField(allow_blank=True)


class EntriesUpdateResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    errors = LineErrorSerializer(many=True)


class UploadErrorSerializer(serializers.Serializer):
    file = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()


class UploadResultSerializer(serializers.Serializer):
    created = EntryOutputSerializer(many=True)
    errors = UploadErrorSerializer(many=True)


class UploadInputSerializer(serializers.Serializer):
    """For the schema: multipart/form-data with any number of `files` and optional `labels`."""

    files = serializers.ListField(child=serializers.FileField())
    labels = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Names, or one comma-separated field"
    )
