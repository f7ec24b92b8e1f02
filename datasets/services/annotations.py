"""Replacing the image-level labels and/or boxes of many entries of one dataset at once.

One dataset lock and a constant number of queries per call, whatever the number of entries: a labeling job
writes hundreds of consolidated results in one call instead of one locked transaction each, and a person's
edit of one entry (`entry_update`) is the same call with one change. Every change is checked before anything
is written; a refused change is left out and reported, the others are written.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.errors import GroundworkError, NotFound
from datasets.models import BoundingBox, Dataset, Image, ImageLabel, Origin
from datasets.services.bulk_rows import insert_rows
from datasets.services.entries_bulk import BOX_COLUMNS, LINK_COLUMNS, labels_ensure
from datasets.services.label_counts import add_contributions, contributions_of, label_counts_apply
from datasets.services.stats import dataset_lock, entries_refresh_is_labeled
from datasets.validation import BoxInput, clean_boxes, clean_label_names


@dataclass(frozen=True)
class AnnotationChange:
    """An entry's new image-level labels and/or boxes; None leaves that part as it is."""

    entry_id: int
    labels: Sequence[str] | None = None
    boxes: Sequence[BoxInput] | None = None


@dataclass(frozen=True)
class _Clean:
    entry_id: int
    labels: list[str] | None
    boxes: list[BoxInput] | None


def _cleaned(change: AnnotationChange, size: tuple[int | None, int | None]) -> _Clean:
    """The change with its names and boxes checked; raises the validation module's InvalidInput."""
    labels = clean_label_names(change.labels) if change.labels is not None else None
    boxes = clean_boxes(change.boxes, image_width=size[0], image_height=size[1]) if change.boxes is not None else None
    return _Clean(change.entry_id, labels, boxes)


@transaction.atomic
def entries_replace_annotations(
    *,
    dataset_id: int,
    changes: Sequence[AnnotationChange],
    origin: Origin,
    origin_id: int | None = None,
    user: AbstractBaseUser | None = None,
) -> dict[int, GroundworkError]:
    """Apply the changes (distinct entries) under the dataset lock; returns the refused ones by entry id.

    Refusals: NotFound for an entry that is not in the dataset, and the InvalidInput codes of
    datasets.validation (`invalid_label_name`, `too_many_labels`, `too_many_boxes`, `invalid_box`,
    `box_outside_image`, `image_size_unknown`). The dataset's stats and label counts stay exact.
    """
    dataset_lock(dataset_id=dataset_id)
    ids = [change.entry_id for change in changes]
    entries = {
        pk: (width, height, labeled)
        for pk, width, height, labeled in Image.objects.filter(dataset_id=dataset_id, pk__in=ids).values_list(
            "pk", "width", "height", "is_labeled"
        )
    }
    refused: dict[int, GroundworkError] = {}
    clean: list[_Clean] = []
    for change in changes:
        if change.entry_id not in entries:
            refused[change.entry_id] = NotFound(f"Entry {change.entry_id} not found in dataset {dataset_id}.")
            continue
        try:
            clean.append(_cleaned(change, entries[change.entry_id][:2]))
        except GroundworkError as error:
            refused[change.entry_id] = error
    if clean:
        _write(
            dataset_id=dataset_id, changes=clean, labeled_before=entries, origin=origin, origin_id=origin_id, user=user
        )
    return refused


def _write(
    *,
    dataset_id: int,
    changes: list[_Clean],
    labeled_before: dict[int, tuple],
    origin: Origin,
    origin_id: int | None,
    user: AbstractBaseUser | None,
) -> None:
    ids = [change.entry_id for change in changes]
    names = {name for change in changes for name in change.labels or ()}
    names |= {box.label for change in changes for box in change.boxes or ()}
    label_ids, labels_created = labels_ensure(dataset_id=dataset_id, names=names)
    before = contributions_of(ids)
    now = timezone.now()
    provenance = (origin, origin_id, getattr(user, "pk", None), now)
    relabeled = [change for change in changes if change.labels is not None]
    reboxed = [change for change in changes if change.boxes is not None]
    if relabeled:
        _replace_links(relabeled, label_ids, provenance)
    if reboxed:
        _replace_boxes(reboxed, label_ids, provenance)
    label_counts_apply(add_contributions(contributions_of(ids), before, sign=-1))
    entries_refresh_is_labeled(dataset_id=dataset_id, image_ids=ids)
    Image.objects.filter(pk__in=ids).update(updated_at=now)
    labeled_now = Image.objects.filter(pk__in=ids, is_labeled=True).count()
    was_labeled = sum(1 for entry_id in ids if labeled_before[entry_id][2])
    # Some entries changed: adjust the counters instead of recounting a big dataset.
    Dataset.objects.filter(pk=dataset_id).update(
        labeled_entries=F("labeled_entries") + (labeled_now - was_labeled),
        total_labels=F("total_labels") + labels_created,
    )


def _replace_links(changes: list[_Clean], label_ids: dict[str, int], provenance: tuple) -> None:
    """Give each entry exactly its new labels; links it keeps keep their provenance (who or what set them)."""
    wanted = {change.entry_id: {label_ids[name] for name in change.labels} for change in changes}
    have = ImageLabel.objects.filter(image_id__in=list(wanted)).values_list("pk", "image_id", "label_id")
    present: set[tuple[int, int]] = set()
    stale = []
    for pk, image_id, label_id in have:
        if label_id in wanted[image_id] and (image_id, label_id) not in present:
            present.add((image_id, label_id))
        else:
            stale.append(pk)
    if stale:
        ImageLabel.objects.filter(pk__in=stale).delete()
    new = [
        (change.entry_id, label_ids[name], None, *provenance)
        for change in changes
        for name in change.labels
        if (change.entry_id, label_ids[name]) not in present
    ]
    insert_rows(ImageLabel, LINK_COLUMNS, new)


def _replace_boxes(changes: list[_Clean], label_ids: dict[str, int], provenance: tuple) -> None:
    """Give each entry exactly its new boxes; a box it keeps unchanged keeps its provenance."""
    wanted: dict[int, Counter] = {
        change.entry_id: Counter(
            (label_ids[b.label], b.left, b.top, b.width, b.height, b.confidence) for b in change.boxes
        )
        for change in changes
    }
    have = BoundingBox.objects.filter(image_id__in=list(wanted)).values_list(
        "pk", "image_id", "label_id", "left", "top", "width", "height", "confidence"
    )
    stale = []
    for pk, image_id, *box in have:
        key = tuple(box)
        if wanted[image_id][key] > 0:
            wanted[image_id][key] -= 1  # kept as it is
        else:
            stale.append(pk)
    if stale:
        BoundingBox.objects.filter(pk__in=stale).delete()
    new = [
        (image_id, *box, *provenance)
        for image_id, boxes in wanted.items()
        for box, count in boxes.items()
        for _ in range(count)
    ]
    insert_rows(BoundingBox, BOX_COLUMNS, new)
