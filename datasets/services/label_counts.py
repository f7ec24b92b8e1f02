"""Per-label counts kept exact by deltas, so reading a dataset's labels never counts 250,000 entries.

`entry_count` is the number of entries that use a label (image-level or on a box) and `bounding_box_count`
the number of entries with a box of it (as the reference service counts). An entry contributes 0 or 1 to
each, so a write knows its exact effect: the contributions of the touched entries after the write minus
those before. Callers hold the dataset lock.
"""

from collections import Counter
from collections.abc import Iterable

from django.db.models import Case, F, IntegerField, QuerySet, Value, When

from datasets.models import BoundingBox, ImageLabel, Label

Contributions = tuple[Counter, Counter]  # (entries per label id, boxed entries per label id)


def contributions_of(image_ids: Iterable[int] | QuerySet) -> Contributions:
    """What these entries add to their labels' counts now (two queries)."""
    ids = image_ids if isinstance(image_ids, QuerySet) else list(image_ids)
    using: dict[int, set[int]] = {}
    boxed: dict[int, set[int]] = {}
    for image_id, label_id in ImageLabel.objects.filter(image_id__in=ids).values_list("image_id", "label_id"):
        using.setdefault(label_id, set()).add(image_id)
    for image_id, label_id in BoundingBox.objects.filter(image_id__in=ids).values_list("image_id", "label_id"):
        using.setdefault(label_id, set()).add(image_id)
        boxed.setdefault(label_id, set()).add(image_id)
    return (
        Counter({label: len(images) for label, images in using.items()}),
        Counter({label: len(images) for label, images in boxed.items()}),
    )


def add_contributions(total: Contributions, other: Contributions, *, sign: int = 1) -> Contributions:
    entries, boxed = Counter(total[0]), Counter(total[1])
    for label, count in other[0].items():
        entries[label] += sign * count
    for label, count in other[1].items():
        boxed[label] += sign * count
    return entries, boxed


def label_counts_apply(delta: Contributions) -> None:
    """Add a delta to the stored counts, in one statement."""
    entries, boxed = delta
    labels = sorted({label for label, n in entries.items() if n} | {label for label, n in boxed.items() if n})
    if not labels:
        return

    def shift(counter: Counter) -> Case:
        return Case(
            *[When(pk=label, then=Value(counter[label])) for label in labels if counter[label]],
            default=Value(0),
            output_field=IntegerField(),
        )

    Label.objects.filter(pk__in=labels).update(
        entry_count=F("entry_count") + shift(entries), bounding_box_count=F("bounding_box_count") + shift(boxed)
    )


def labels_recount(*, dataset_id: int, label_ids: Iterable[int] | None = None) -> None:
    """Count again from the rows (a merge, or a repair); one pass over the labels' links and boxes."""
    labels = Label.objects.filter(dataset_id=dataset_id)
    if label_ids is not None:
        labels = labels.filter(pk__in=list(label_ids))
    ids = list(labels.values_list("pk", flat=True))
    for label_id in ids:
        images = set(ImageLabel.objects.filter(label_id=label_id).values_list("image_id", flat=True))
        boxed = set(BoundingBox.objects.filter(label_id=label_id).values_list("image_id", flat=True))
        Label.objects.filter(pk=label_id).update(entry_count=len(images | boxed), bounding_box_count=len(boxed))


def true_counts(*, dataset_id: int) -> dict[str, tuple[int, int]]:
    """The counts computed from the rows, by label name (for checks and tests)."""
    result = {}
    for label in Label.objects.filter(dataset_id=dataset_id):
        images = set(ImageLabel.objects.filter(label=label).values_list("image_id", flat=True))
        boxed = set(BoundingBox.objects.filter(label=label).values_list("image_id", flat=True))
        result[label.name] = (len(images | boxed), len(boxed))
    return result
