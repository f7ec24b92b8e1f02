"""Changing single entries: a person's edit of labels and boxes, and deleting an entry."""

from collections import Counter
from collections.abc import Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F

from core.errors import NotFound
from datasets.models import Dataset, Image, Origin
from datasets.services.annotations import AnnotationChange, entries_replace_annotations
from datasets.services.label_counts import add_contributions, contributions_of, label_counts_apply
from datasets.services.stats import dataset_lock, dataset_refresh_stats
from datasets.validation import BoxInput


def _locked_entry(*, dataset_id: int, entry_id: int) -> tuple[Dataset, Image]:
    dataset = dataset_lock(dataset_id=dataset_id)
    entry = Image.objects.filter(dataset_id=dataset_id, pk=entry_id).first()
    if entry is None:
        raise NotFound(f"Entry {entry_id} not found in dataset {dataset_id}.")
    return dataset, entry


@transaction.atomic
def entry_update(
    *,
    dataset_id: int,
    entry_id: int,
    user: AbstractBaseUser | None,
    labels: Sequence[str] | None = None,
    boxes: Sequence[BoxInput] | None = None,
    origin: Origin = Origin.USER,
    origin_id: int | None = None,
) -> Image:
    """Replace an entry's image-level labels and/or its boxes (None leaves that part as it is).

    Label names that the dataset does not have yet are created. Boxes are checked against the image's size.
    Raises NotFound, or InvalidInput (`invalid_label_name`, `too_many_labels`, `too_many_boxes`, `invalid_box`,
    `box_outside_image`) before anything is written.
    """
    change = AnnotationChange(entry_id=entry_id, labels=labels, boxes=boxes)
    refused = entries_replace_annotations(
        dataset_id=dataset_id, changes=[change], origin=origin, origin_id=origin_id, user=user
    )
    if entry_id in refused:
        raise refused[entry_id]
    return Image.objects.get(pk=entry_id)


@transaction.atomic
def entry_delete(*, dataset_id: int, entry_id: int) -> None:
    """Delete an entry with its labels and boxes; its stored image and thumbnail go once the change commits."""
    dataset, entry = _locked_entry(dataset_id=dataset_id, entry_id=entry_id)
    stored = [name for name in (entry.storage_name, entry.thumbnail_name) if name]
    label_counts_apply(add_contributions((Counter(), Counter()), contributions_of([entry.pk]), sign=-1))
    entry.delete()
    Dataset.objects.filter(pk=dataset.pk).update(
        total_entries=F("total_entries") - 1,
        labeled_entries=F("labeled_entries") - int(entry.is_labeled),
        error_entries=F("error_entries") - int(entry.has_errors),
    )
    # A copy (or a re-import of an export) shares the stored file: it goes only with the last entry naming it.
    shared = set(Image.objects.filter(storage_name__in=stored).values_list("storage_name", flat=True))
    shared |= set(Image.objects.filter(thumbnail_name__in=stored).values_list("thumbnail_name", flat=True))
    stored = [name for name in stored if name not in shared]
    if stored:
        transaction.on_commit(lambda: [default_storage.delete(name) for name in stored])


@transaction.atomic
def entries_delete(*, dataset_id: int, entry_ids: Sequence[int]) -> int:
    """Delete some entries of a dataset (with their labels and boxes) under its lock, label counts and stats
    kept true; returns how many were deleted. Stored files are left alone (an operator's clean-up path)."""
    dataset_lock(dataset_id=dataset_id)
    ids = list(Image.objects.filter(dataset_id=dataset_id, pk__in=entry_ids).values_list("pk", flat=True))
    if not ids:
        return 0
    label_counts_apply(add_contributions((Counter(), Counter()), contributions_of(ids), sign=-1))
    Image.objects.filter(pk__in=ids).delete()
    dataset_refresh_stats(dataset_id=dataset_id)
    return len(ids)
