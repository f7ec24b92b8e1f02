"""Changing single entries: a person's edit of labels and boxes, and deleting an entry."""

from collections import Counter
from collections.abc import Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.errors import NotFound
from datasets.models import BoundingBox, Dataset, Image, ImageLabel, Origin
from datasets.services.entries_bulk import labels_ensure
from datasets.services.label_counts import add_contributions, contributions_of, label_counts_apply
from datasets.services.stats import dataset_lock, entries_refresh_is_labeled
from datasets.validation import BoxInput, clean_boxes, clean_label_names


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
    Raises InvalidInput (`invalid_label_name`, `too_many_labels`, `too_many_boxes`, `invalid_box`,
    `box_outside_image`) before anything is written.
    """
    dataset, entry = _locked_entry(dataset_id=dataset_id, entry_id=entry_id)
    clean_labels = clean_label_names(labels) if labels is not None else None
    clean_box_list = (
        clean_boxes(boxes, image_width=entry.width, image_height=entry.height) if boxes is not None else None
    )
    names = [*(clean_labels or []), *(box.label for box in clean_box_list or [])]
    label_ids, labels_created = labels_ensure(dataset_id=dataset_id, names=names)
    before = contributions_of([entry.pk])
    provenance = {"origin": origin, "origin_id": origin_id, "created_by": user, "created_at": timezone.now()}
    if clean_labels is not None:
        ImageLabel.objects.filter(image_id=entry.pk).delete()
        ImageLabel.objects.bulk_create(
            [ImageLabel(image_id=entry.pk, label_id=label_ids[name], **provenance) for name in clean_labels]
        )
    if clean_box_list is not None:
        BoundingBox.objects.filter(image_id=entry.pk).delete()
        BoundingBox.objects.bulk_create(
            [
                BoundingBox(
                    image_id=entry.pk,
                    label_id=label_ids[box.label],
                    left=box.left,
                    top=box.top,
                    width=box.width,
                    height=box.height,
                    confidence=box.confidence,
                    **provenance,
                )
                for box in clean_box_list
            ]
        )
    label_counts_apply(add_contributions(contributions_of([entry.pk]), before, sign=-1))
    was_labeled = entry.is_labeled
    entries_refresh_is_labeled(dataset_id=dataset_id, image_ids=[entry.pk])
    Image.objects.filter(pk=entry.pk).update(updated_at=timezone.now())
    entry.refresh_from_db(fields=["is_labeled", "updated_at"])
    # A single entry changed: adjust the counters instead of recounting a big dataset.
    Dataset.objects.filter(pk=dataset.pk).update(
        labeled_entries=F("labeled_entries") + (int(entry.is_labeled) - int(was_labeled)),
        total_labels=F("total_labels") + labels_created,
    )
    return entry


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
    if stored:
        transaction.on_commit(lambda: [default_storage.delete(name) for name in stored])
