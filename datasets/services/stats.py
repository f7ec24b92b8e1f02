"""Keeping a dataset's stats and its entries' derived flags true.

Every service that changes entries of a dataset first takes `dataset_lock` (a row lock on the dataset), so
that writes to one dataset are serialized and a recount always sees the writes committed before it.
"""

from collections.abc import Iterable

from django.db.models import Count, Exists, OuterRef, Q

from core.errors import NotFound
from datasets.models import BoundingBox, Dataset, Image, ImageLabel, Label


def dataset_lock(*, dataset_id: int) -> Dataset:
    """Lock the dataset row for the rest of the transaction (must run inside one)."""
    dataset = Dataset.objects.select_for_update().filter(pk=dataset_id).first()
    if dataset is None:
        raise NotFound(f"Dataset {dataset_id} not found.")
    return dataset


def dataset_refresh_stats(*, dataset_id: int) -> dict[str, int]:
    """Recount the dataset's stats from its rows (two queries and one update, index-only where possible)."""
    counts = Image.objects.filter(dataset_id=dataset_id).aggregate(
        total_entries=Count("id"),
        labeled_entries=Count("id", filter=Q(is_labeled=True)),
        error_entries=Count("id", filter=Q(has_errors=True)),
    )
    counts["total_labels"] = Label.objects.filter(dataset_id=dataset_id).count()
    Dataset.objects.filter(pk=dataset_id).update(**counts)
    return counts


def entries_refresh_is_labeled(
    *, dataset_id: int, image_ids: Iterable[int] | None = None, may_gain: bool = True
) -> None:
    """Recompute `is_labeled` of some entries (all of the dataset's when `image_ids` is None).

    Only rows whose flag changes are written, so a label change on a few entries of a big dataset stays cheap.
    `may_gain=False` skips looking for newly labeled entries (after a removal there are none).
    """
    entries = Image.objects.filter(dataset_id=dataset_id)
    if image_ids is not None:
        entries = entries.filter(pk__in=list(image_ids))
    has_label = Exists(ImageLabel.objects.filter(image_id=OuterRef("pk")))
    has_box = Exists(BoundingBox.objects.filter(image_id=OuterRef("pk")))
    entries.filter(is_labeled=True).exclude(has_label).exclude(has_box).update(is_labeled=False)
    if may_gain:
        entries.filter(is_labeled=False).filter(has_label | has_box).update(is_labeled=True)
