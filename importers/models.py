"""Import jobs: one row per import into a dataset (S3 folder, manifest, copy), with progress and line errors."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from datasets.models import Dataset


class ImportKind(models.TextChoices):
    S3_FOLDER = "s3_folder", "S3 folder"
    MANIFEST = "manifest", "Ground Truth manifest"
    COPY = "dataset", "Copy of a dataset"


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"


FINISHED_STATUSES = (ImportStatus.SUCCEEDED, ImportStatus.FAILED, ImportStatus.CANCELED)


class ImportJob(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="imports")
    kind = models.CharField(max_length=16, choices=ImportKind.choices)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=ImportStatus.choices, default=ImportStatus.QUEUED)
    creates_dataset = models.BooleanField(default=False, help_text="The dataset was created by this import")
    seen = models.PositiveIntegerField(default=0)
    imported = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    error_code = models.CharField(max_length=64, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    line_error_count = models.PositiveIntegerField(default=0, help_text="All line errors, stored or not")
    cancel_requested = models.BooleanField(default=False)
    checkpoint = models.JSONField(default=dict, blank=True, help_text="Where a redelivered task resumes")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last progress written by a worker")
    finished_at = models.DateTimeField(null=True, blank=True)
    crash_count = models.PositiveSmallIntegerField(default=0, help_text="Runs ended by an unexpected error")
    last_crash = models.CharField(max_length=500, blank=True, default="", help_text="The last such error")

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=ImportKind.values), name="importjob_kind_valid"),
            models.CheckConstraint(condition=Q(status__in=ImportStatus.values), name="importjob_status_valid"),
        ]
        indexes = [models.Index(fields=["dataset", "status"], name="importjob_dataset_status")]

    def __str__(self) -> str:
        return f"{self.kind} import {self.pk} ({self.status})"


class ImportLineError(models.Model):
    """One rejected line or object of an import (the first 10,000 of a job are kept)."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="line_errors", db_index=False)
    line = models.PositiveIntegerField(null=True, blank=True)
    source_ref = models.CharField(max_length=2048, blank=True, default="")
    code = models.CharField(max_length=64)
    message = models.TextField()

    class Meta:
        ordering = ["job_id", "id"]
        indexes = [models.Index(fields=["job", "id"], name="importlineerror_job_id")]

    def __str__(self) -> str:
        return f"{self.code} at line {self.line}"
