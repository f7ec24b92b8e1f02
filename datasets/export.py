"""Streaming a dataset as a Ground Truth manifest, in bounded memory.

Entries are read in keyset pages of id order (three queries per page of 2,000 entries) and written as
they come; on PostgreSQL the whole export reads one snapshot (REPEATABLE READ), so entries changed while
it streams are exported as they were when it began.
"""

from collections.abc import Iterator

from django.db import connection, transaction

from datasets.manifest import BoxDraft, EntryDraft, serialize_entry
from datasets.models import BoundingBox, Image, ImageLabel

PAGE = 2000


def iter_entry_drafts(*, dataset_id: int) -> Iterator[tuple[EntryDraft, str]]:
    """Every entry of the dataset as a draft, with its last change as an ISO date (id order)."""
    last_id = 0
    while True:
        rows = list(
            Image.objects.filter(dataset_id=dataset_id, pk__gt=last_id)
            .order_by("pk")
            .values_list("pk", "source_ref", "width", "height", "updated_at")[:PAGE]
        )
        if not rows:
            return
        ids = [row[0] for row in rows]
        labels: dict[int, list[tuple[str, float | None]]] = {pk: [] for pk in ids}
        boxes: dict[int, list[BoxDraft]] = {pk: [] for pk in ids}
        links = ImageLabel.objects.filter(image_id__in=ids).order_by("pk")
        for image_id, name, confidence in links.values_list("image_id", "label__name", "confidence"):
            labels[image_id].append((name, confidence))
        box_rows = (
            BoundingBox.objects.filter(image_id__in=ids)
            .order_by("pk")
            .values_list("image_id", "label__name", "left", "top", "width", "height", "confidence")
        )
        for image_id, name, left, top, width, height, confidence in box_rows:
            boxes[image_id].append(BoxDraft(name, left, top, width, height, confidence))
        for pk, source_ref, width, height, updated_at in rows:
            draft = EntryDraft(
                source_ref=source_ref,
                labels=[name for name, _ in labels[pk]],
                boxes=boxes[pk],
                image_width=width,
                image_height=height,
                label_confidences={name: c for name, c in labels[pk] if c is not None},
            )
            yield draft, updated_at.replace(tzinfo=None).isoformat(timespec="microseconds")
        last_id = ids[-1]


def iter_manifest_lines(*, dataset_id: int, job_name: str) -> Iterator[bytes]:
    """The dataset's manifest, a line at a time (UTF-8, each ending with a newline)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        for draft, changed in iter_entry_drafts(dataset_id=dataset_id):
            line = serialize_entry(draft, attribute_prefix="groundwork", creation_date=changed, job_name=job_name)
            yield (line + "\n").encode()
