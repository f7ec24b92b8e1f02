"""The bulk writer of entries: add or replace many entries by `source_ref` in a constant number of queries.

Used by UpdateDatasetEntries, every importer and copies. Callers hold `dataset_lock` and refresh the stats
once at the end (not per batch).
"""

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.utils import timezone

from datasets.models import BoundingBox, Image, ImageLabel, Label, Origin
from datasets.services.bulk_rows import insert_new_rows, insert_rows
from datasets.services.label_counts import Contributions, add_contributions, contributions_of, label_counts_apply

BATCH_SIZE = 2000
PROVENANCE = ("origin", "origin_id", "created_by_id", "created_at")
IMAGE_COLUMNS = (
    "dataset_id", "source_ref", "width", "height", "errors", "has_errors", "is_labeled",
    "storage_name", "format", "thumbnail_name", "orientation", "updated_at", *PROVENANCE,
)  # fmt: skip
LINK_COLUMNS = ("image_id", "label_id", "confidence", *PROVENANCE)
BOX_COLUMNS = ("image_id", "label_id", "left", "top", "width", "height", "confidence", *PROVENANCE)


class BoxLike(Protocol):
    label: str
    left: int
    top: int
    width: int
    height: int
    confidence: float | None


class ErrorLike(Protocol):
    code: str
    message: str


class DraftLike(Protocol):
    """What the writer needs of an entry draft (datasets.manifest.EntryDraft has it)."""

    source_ref: str
    labels: Sequence[str]
    boxes: Sequence[BoxLike]
    image_width: int | None
    image_height: int | None
    errors: Sequence[ErrorLike]


@dataclass(frozen=True)
class UpsertResult:
    created_ids: list[int]
    updated_ids: list[int]

    @property
    def created(self) -> int:
        return len(self.created_ids)

    @property
    def updated(self) -> int:
        return len(self.updated_ids)


def labels_ensure(*, dataset_id: int, names: Iterable[str]) -> tuple[dict[str, int], int]:
    """Ids of the dataset's labels with these names, creating the missing ones; and how many were created.

    One query when every label exists, three otherwise. The caller holds the dataset lock, so the set of
    labels cannot change between the queries.
    """
    wanted = set(names)
    if not wanted:
        return {}, 0
    ids = dict(Label.objects.filter(dataset_id=dataset_id, name__in=wanted).values_list("name", "id"))
    missing = wanted - ids.keys()
    if missing:
        Label.objects.bulk_create(
            [Label(dataset_id=dataset_id, name=name) for name in sorted(missing)], ignore_conflicts=True
        )
        ids.update(Label.objects.filter(dataset_id=dataset_id, name__in=missing).values_list("name", "id"))
    return ids, len(missing)


def _error_list(errors: Sequence[ErrorLike]) -> list[dict[str, str]]:
    return [{"code": error.code, "message": error.message} for error in errors]


def entries_upsert(
    *,
    dataset_id: int,
    drafts: Sequence[DraftLike],
    origin: Origin,
    origin_id: int | None = None,
    user: AbstractBaseUser | None = None,
    all_new: bool = False,
) -> UpsertResult:
    """Add drafts whose `source_ref` is new; replace the labels, boxes, size and errors of existing ones.

    The drafts must have distinct `source_ref`s. An existing entry keeps its known size when the draft
    brings none (a classification line says nothing of the size). A constant number of queries per call
    (about ten), whatever the number of drafts; statements carry at most BATCH_SIZE rows. `all_new`: the
    caller has checked, under the dataset lock, that no draft's source_ref exists (imports and uploads do),
    which saves looking them up again.
    """
    if not drafts:
        return UpsertResult(created_ids=[], updated_ids=[])
    now = timezone.now()
    refs = [draft.source_ref for draft in drafts]
    known: dict[str, tuple[int, int | None, int | None]] = {}
    if not all_new:
        found = Image.objects.filter(dataset_id=dataset_id, source_ref__in=refs)
        known = {ref: (pk, w, h) for ref, pk, w, h in found.values_list("source_ref", "id", "width", "height")}
    existing = [draft for draft in drafts if draft.source_ref in known]
    if existing:
        Image.objects.bulk_create(
            [
                Image(
                    dataset_id=dataset_id,
                    source_ref=draft.source_ref,
                    width=draft.image_width or known[draft.source_ref][1],
                    height=draft.image_height or known[draft.source_ref][2],
                    errors=_error_list(draft.errors),
                    has_errors=bool(draft.errors),
                    is_labeled=bool(draft.labels or draft.boxes),
                    updated_at=now,
                )
                for draft in existing
            ],
            batch_size=BATCH_SIZE,
            update_conflicts=True,
            unique_fields=["dataset", "source_ref"],
            update_fields=["width", "height", "errors", "has_errors", "is_labeled", "updated_at"],
        )
    user_id = getattr(user, "pk", None)
    insert_rows(
        Image,
        IMAGE_COLUMNS,
        (
            (dataset_id, draft.source_ref, draft.image_width, draft.image_height, _error_list(draft.errors),
             bool(draft.errors), bool(draft.labels or draft.boxes), "", "", "", 1, now, origin, origin_id, user_id, now)
            for draft in drafts
            if draft.source_ref not in known
        ),
    )  # fmt: skip
    ids = dict(Image.objects.filter(dataset_id=dataset_id, source_ref__in=refs).values_list("source_ref", "id"))
    updated_ids = [pk for ref, (pk, _, _) in known.items()]
    before = contributions_of(updated_ids) if updated_ids else (Counter(), Counter())
    if updated_ids:
        ImageLabel.objects.filter(image_id__in=updated_ids).delete()
        BoundingBox.objects.filter(image_id__in=updated_ids).delete()
    after = _annotations_create(
        dataset_id=dataset_id, drafts=drafts, ids=ids, origin=origin, origin_id=origin_id, user=user
    )
    _label_counts_add(add_contributions(after, before, sign=-1))
    created_ids = [ids[ref] for ref in refs if ref not in known]
    return UpsertResult(created_ids=created_ids, updated_ids=updated_ids)


def entries_add_new(
    *,
    dataset_id: int,
    drafts: Sequence[DraftLike],
    origin: Origin,
    origin_id: int | None = None,
    user: AbstractBaseUser | None = None,
    byte_sizes: Mapping[str, int | None] | None = None,
    connection_id: int | None = None,
) -> tuple[list[int], list[str]]:
    """Add the drafts whose `source_ref` the dataset lacks, leaving entries it has untouched.

    Returns (ids of the entries created, in draft order; source_refs skipped because they exist). On
    PostgreSQL the entries go in with one INSERT ... ON CONFLICT DO NOTHING from a COPY, which tells which
    were new: no lookup of the refs before or after. The drafts must have distinct `source_ref`s; the caller
    holds the dataset lock. `byte_sizes` (by source_ref) and `connection_id` are stored on the new entries
    (an S3 listing knows the sizes).
    """
    if not drafts:
        return [], []
    sizes = byte_sizes or {}
    now = timezone.now()
    user_id = getattr(user, "pk", None)
    rows = (
        (dataset_id, draft.source_ref, draft.image_width, draft.image_height, _error_list(draft.errors),
         bool(draft.errors), bool(draft.labels or draft.boxes), "", "", "", 1, now, origin, origin_id, user_id, now,
         sizes.get(draft.source_ref), connection_id)
        for draft in drafts
    )  # fmt: skip
    columns = (*IMAGE_COLUMNS, "byte_size", "connection_id")
    if connection.vendor == "postgresql":
        ids = insert_new_rows(Image, columns, rows, unique=("dataset_id", "source_ref"), returning="source_ref")
    else:
        refs = [draft.source_ref for draft in drafts]
        taken = set(
            Image.objects.filter(dataset_id=dataset_id, source_ref__in=refs).values_list("source_ref", flat=True)
        )
        insert_rows(Image, columns, (row for row in rows if row[1] not in taken))
        new_refs = [ref for ref in refs if ref not in taken]
        ids = dict(Image.objects.filter(dataset_id=dataset_id, source_ref__in=new_refs).values_list("source_ref", "id"))
    fresh = [draft for draft in drafts if draft.source_ref in ids]
    added = _annotations_create(
        dataset_id=dataset_id, drafts=fresh, ids=ids, origin=origin, origin_id=origin_id, user=user
    )
    _label_counts_add(added)
    skipped = [draft.source_ref for draft in drafts if draft.source_ref not in ids]
    return [ids[draft.source_ref] for draft in fresh], skipped


def _label_counts_add(delta: Contributions) -> None:
    """label_counts_apply, in one plain UPDATE ... FROM (VALUES ...) on PostgreSQL: the ORM's CASE of one WHEN
    per label costs milliseconds per label to build, per batch."""
    if connection.vendor != "postgresql":
        label_counts_apply(delta)
        return
    entries, boxed = delta
    rows = [(label, entries[label], boxed[label]) for label in sorted(set(entries) | set(boxed))]
    rows = [row for row in rows if row[1] or row[2]]
    if not rows:
        return
    table = connection.ops.quote_name(Label._meta.db_table)
    values = ", ".join(["(%s::bigint, %s::integer, %s::integer)"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS label SET entry_count = label.entry_count + delta.entries, "  # noqa: S608
            "bounding_box_count = label.bounding_box_count + delta.boxed "
            f"FROM (VALUES {values}) AS delta (id, entries, boxed) WHERE label.id = delta.id",
            [value for row in rows for value in row],
        )


def _annotations_create(
    *,
    dataset_id: int,
    drafts: Sequence[DraftLike],
    ids: dict[str, int],
    origin: Origin,
    origin_id: int | None,
    user: AbstractBaseUser | None,
) -> Contributions:
    """Create the drafts' links and boxes; returns what they contribute to their labels' counts."""
    names = {name for draft in drafts for name in draft.labels} | {box.label for draft in drafts for box in draft.boxes}
    label_ids, _ = labels_ensure(dataset_id=dataset_id, names=names)
    created_at = timezone.now()
    user_id = getattr(user, "pk", None)
    links, boxes = [], []
    using, boxed = Counter(), Counter()
    for draft in drafts:
        image_id = ids[draft.source_ref]
        box_labels = {label_ids[box.label] for box in draft.boxes}
        using.update(box_labels | {label_ids[name] for name in draft.labels})
        boxed.update(box_labels)
        confidences = getattr(draft, "label_confidences", {})
        for name in dict.fromkeys(draft.labels):
            links.append((image_id, label_ids[name], confidences.get(name), origin, origin_id, user_id, created_at))
        for box in draft.boxes:
            boxes.append(
                (image_id, label_ids[box.label], box.left, box.top, box.width, box.height, box.confidence,
                 origin, origin_id, user_id, created_at)
            )  # fmt: skip
    insert_rows(ImageLabel, LINK_COLUMNS, links)
    insert_rows(BoundingBox, BOX_COLUMNS, boxes)
    return using, boxed
