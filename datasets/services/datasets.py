"""Datasets as a whole: create, rename, delete, and the per-dataset quota."""

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from core.errors import Conflict, InvalidInput
from datasets.models import BoundingBox, Dataset, DatasetStatus, DatasetType
from datasets.services.stats import dataset_lock

BUSY_STATUSES = (DatasetStatus.CREATING, DatasetStatus.UPDATING)


def _name_taken(name: str) -> InvalidInput:
    return InvalidInput(
        f"A dataset called {name!r} exists already in this project.",
        code="dataset_name_taken",
        fields={"name": "Already used in this project."},
    )


@transaction.atomic
def dataset_create(
    *,
    project_id: int,
    name: str,
    type: DatasetType,
    user: AbstractBaseUser | None,
    status: DatasetStatus = DatasetStatus.READY,
) -> Dataset:
    """Create an empty dataset. Raises InvalidInput `dataset_name_taken`."""
    if Dataset.objects.filter(project_id=project_id, name=name).exists():
        raise _name_taken(name)
    try:
        with transaction.atomic():
            return Dataset.objects.create(project_id=project_id, name=name, type=type, status=status, created_by=user)
    except IntegrityError as exc:
        if "dataset_unique_project_name" in str(exc):
            raise _name_taken(name) from exc
        raise


@transaction.atomic
def dataset_update(*, dataset: Dataset, name: str | None = None, type: DatasetType | None = None) -> Dataset:
    """Rename a dataset or change its type. Raises InvalidInput `dataset_name_taken`."""
    changed = []
    if name is not None and name != dataset.name:
        if Dataset.objects.filter(project_id=dataset.project_id, name=name).exclude(pk=dataset.pk).exists():
            raise _name_taken(name)
        dataset.name = name
        changed.append("name")
    if type is not None and type != dataset.type:
        dataset.type = type
        changed.append("type")
    if changed:
        dataset.save(update_fields=[*changed, "updated_at"])
    return dataset


def ensure_not_busy(dataset: Dataset) -> None:
    """Raise Conflict `dataset_busy` while an import, copy or split is writing to the dataset."""
    if dataset.status in BUSY_STATUSES:
        raise Conflict(
            f"Dataset {dataset.name!r} is {dataset.status}; wait until its current operation ends.",
            code="dataset_busy",
        )


@transaction.atomic
def dataset_delete(*, dataset_id: int) -> None:
    """Delete a dataset with its entries, labels and boxes. Raises Conflict `dataset_busy`."""
    dataset = dataset_lock(dataset_id=dataset_id)
    ensure_not_busy(dataset)
    dataset.delete()


def max_entries(*, dataset_id: int, adding_boxes: bool = False) -> int:
    """The entry quota: classification-only datasets may have a higher one than datasets with boxes."""
    # Through the labels (a few hundred) and the (label, image) index: cheap on a 250k-entry dataset.
    has_boxes = adding_boxes or BoundingBox.objects.filter(label__dataset_id=dataset_id).exists()
    return settings.DATASET_MAX_ENTRIES if has_boxes else settings.DATASET_MAX_ENTRIES_CLASSIFICATION


def ensure_quota(*, dataset: Dataset, new_entries: int, adding_boxes: bool = False, already_added: int = 0) -> None:
    """Raise Conflict `dataset_quota_exceeded` when `new_entries` more would pass the quota (nothing is added).

    `already_added`: entries an import wrote in its earlier batches, which the dataset's stats (refreshed when
    the import ends) do not count yet.
    """
    if new_entries <= 0:
        return
    limit = max_entries(dataset_id=dataset.pk, adding_boxes=adding_boxes)
    total = dataset.total_entries + already_added
    if total + new_entries > limit:
        raise Conflict(
            f"Dataset {dataset.name!r} has {total} entries; adding {new_entries} would pass its quota of {limit}.",
            code="dataset_quota_exceeded",
        )
