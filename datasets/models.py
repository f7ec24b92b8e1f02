"""Datasets of images ("entries") with image-level labels and bounding boxes.

Models hold data and constraints only. Every write goes through datasets/services.py, which also keeps the
dataset's stats columns current. Indexes are chosen for 250,000-entry datasets: every entry list is read in
id order within one dataset, optionally filtered by `is_labeled`, `has_errors` or a label.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from projects.models import Project, StorageConnection


class DatasetType(models.TextChoices):
    TRAIN = "train", "Training"
    TEST = "test", "Test"


class DatasetStatus(models.TextChoices):
    CREATING = "creating", "Creating"
    READY = "ready", "Ready"
    UPDATING = "updating", "Updating"
    FAILED = "failed", "Failed"


class Origin(models.TextChoices):
    """Where a row came from: its provenance, with `origin_id` naming the import or labeling job."""

    IMPORT = "import", "Import"
    UPLOAD = "upload", "Upload"
    USER = "user", "User"
    JOB = "job", "Labeling job"
    COPY = "copy", "Copy"


class Provenance(models.Model):
    origin = models.CharField(max_length=8, choices=Origin.choices, default=Origin.USER)
    origin_id = models.BigIntegerField(null=True, blank=True, help_text="Import job or labeling job id")
    # No database constraint: a row-by-row foreign-key check costs a fifth of the database's work in an import
    # (every entry, link and box names the same user). The id comes from the authenticated user or the job's
    # creator, and deleting a user sets it to NULL through Django (the index stays for that).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True


class Dataset(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=8, choices=DatasetType.choices, default=DatasetType.TRAIN)
    status = models.CharField(max_length=10, choices=DatasetStatus.choices, default=DatasetStatus.READY)
    status_message = models.TextField(blank=True, default="")
    # Stats, kept true by the services that change entries (never computed on read).
    total_entries = models.PositiveIntegerField(default=0)
    labeled_entries = models.PositiveIntegerField(default=0)
    error_entries = models.PositiveIntegerField(default=0)
    total_labels = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["project_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="dataset_unique_project_name"),
            models.CheckConstraint(condition=Q(type__in=DatasetType.values), name="dataset_type_valid"),
            models.CheckConstraint(condition=Q(status__in=DatasetStatus.values), name="dataset_status_valid"),
        ]

    def __str__(self) -> str:
        return self.name


class Label(models.Model):
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=256)
    # Kept exact by datasets/services/label_counts.py: entries using the label, entries with a box of it.
    entry_count = models.PositiveIntegerField(default=0)
    bounding_box_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["dataset_id", "name"]
        constraints = [models.UniqueConstraint(fields=["dataset", "name"], name="label_unique_dataset_name")]

    def __str__(self) -> str:
        return self.name


class Image(Provenance):
    """One entry of a dataset: an image, where its bytes are, and what we know of it."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="entries", db_index=False)
    source_ref = models.CharField(max_length=2048, help_text="s3://bucket/key, the entry's key in the dataset")
    connection = models.ForeignKey(
        StorageConnection,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="How to read an image in an external bucket (none: the server's bucket or storage)",
    )
    storage_name = models.CharField(
        max_length=1024, blank=True, default="", help_text="Name in the platform's storage when it holds the bytes"
    )
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    format = models.CharField(max_length=8, blank=True, default="")
    byte_size = models.BigIntegerField(null=True, blank=True)
    orientation = models.PositiveSmallIntegerField(default=1, help_text="EXIF orientation, 1-8")
    thumbnail_name = models.CharField(max_length=1024, blank=True, default="")
    errors = models.JSONField(default=list, blank=True, help_text='[{"code", "message"}]')
    has_errors = models.BooleanField(default=False)
    is_labeled = models.BooleanField(default=False, help_text="Has an image-level label or a box")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "entry"
        verbose_name_plural = "entries"
        ordering = ["dataset_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "source_ref"], name="image_unique_dataset_source_ref"),
        ]
        indexes = [
            models.Index(fields=["dataset", "id"], name="image_dataset_id"),
            models.Index(fields=["dataset", "is_labeled", "id"], name="image_dataset_labeled_id"),
            models.Index(fields=["dataset", "id"], name="image_dataset_errors_id", condition=Q(has_errors=True)),
            # Copies share stored files: deleting one entry asks whether another still uses its file.
            models.Index(fields=["storage_name"], name="image_storage_name", condition=~Q(storage_name="")),
        ]

    def __str__(self) -> str:
        return self.source_ref


class ImageLabel(Provenance):
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="image_labels", db_index=False)
    # No database constraint on the label: a row-by-row foreign-key check (with its row lock) costs more than
    # the whole copy of a 250,000-entry dataset. Label ids are only written by services that take them from
    # the same dataset's labels, and deleting a label deletes its links first (tests check for orphans).
    label = models.ForeignKey(
        Label, on_delete=models.CASCADE, related_name="image_labels", db_index=False, db_constraint=False
    )
    confidence = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["image", "label"], name="imagelabel_unique_image_label")]
        indexes = [models.Index(fields=["label", "image"], name="imagelabel_label_image")]

    def __str__(self) -> str:
        return f"{self.image_id}:{self.label_id}"


class BoundingBox(Provenance):
    """A box in pixels of the image as stored (origin top-left), as in the manifest format."""

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="boxes")
    label = models.ForeignKey(  # no database constraint: see ImageLabel.label
        Label, on_delete=models.CASCADE, related_name="boxes", db_index=False, db_constraint=False
    )
    left = models.IntegerField()
    top = models.IntegerField()
    width = models.IntegerField()
    height = models.IntegerField()
    confidence = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["image_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(left__gte=0, top__gte=0, width__gt=0, height__gt=0), name="boundingbox_positive"
            ),
        ]
        indexes = [models.Index(fields=["label", "image"], name="boundingbox_label_image")]

    def __str__(self) -> str:
        return f"{self.label_id}@{self.left},{self.top},{self.width}x{self.height}"
