from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from importers.models import ImportJob, ImportLineError
from importers.progress import import_progress


class ImportCountsSerializer(serializers.Serializer):
    seen = serializers.IntegerField()
    imported = serializers.IntegerField()
    skipped = serializers.IntegerField()
    failed = serializers.IntegerField()


class ImportProgressSerializer(serializers.Serializer):
    phase = serializers.ChoiceField(choices=["queued", "reading", "listing", "probing", "copying", "finished"])
    done = serializers.IntegerField(allow_null=True, help_text="bytes read (reading), images probed (probing)")
    total = serializers.IntegerField(allow_null=True, help_text="null when unknown (an S3 listing has no total)")
    fraction = serializers.FloatField(allow_null=True, help_text="done / total of the current phase")


class ImportErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class ImportJobOutputSerializer(serializers.ModelSerializer):
    dataset = serializers.IntegerField(source="dataset_id", read_only=True)
    counts = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "dataset",
            "kind",
            "status",
            "counts",
            "progress",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    @extend_schema_field(ImportCountsSerializer)
    def get_counts(self, job: ImportJob) -> dict[str, int]:
        return {"seen": job.seen, "imported": job.imported, "skipped": job.skipped, "failed": job.failed}

    @extend_schema_field(ImportProgressSerializer)
    def get_progress(self, job: ImportJob) -> dict:
        return import_progress(job).as_dict()

    @extend_schema_field(ImportErrorSerializer(allow_null=True))
    def get_error(self, job: ImportJob) -> dict[str, str] | None:
        return {"code": job.error_code, "message": job.error_message} if job.error_code else None


class ImportLineErrorSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImportLineError
        fields = ["line", "source_ref", "code", "message"]
        read_only_fields = fields
