"""The bulk writer of entries: add or replace many entries by `source_ref` in a constant number of queries.

Used by UpdateDatasetEntries, every importer and copies. Callers hold `dataset_lock` and refresh the stats
once at the end (not per batch).
"""

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from datasets.models import BoundingBox, Image, ImageLabel, Label, Origin
from datasets.services.bulk_rows import insert_rows
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

    Returns (ids of the entries created, in draft order; source_refs skipped because they exist). The drafts
    must have distinct `source_ref`s; the caller holds the dataset lock. `byte_sizes` (by source_ref) and
    `connection_id` are stored on the new entries (an S3 listing knows the sizes). On PostgreSQL this is
    entries_add_staged(entries_stage(...)): a caller may stage the drafts ahead, in another thread.
    """
    if connection.vendor == "postgresql":
        staged = entries_stage(drafts, byte_sizes=byte_sizes)
        return entries_add_staged(
            dataset_id=dataset_id, staged=staged, origin=origin, origin_id=origin_id, user=user,
            connection_id=connection_id,
        )  # fmt: skip
    if not drafts:
        return [], []
    sizes = byte_sizes or {}
    now = timezone.now()
    user_id = getattr(user, "pk", None)
    refs = [draft.source_ref for draft in drafts]
    taken = set(Image.objects.filter(dataset_id=dataset_id, source_ref__in=refs).values_list("source_ref", flat=True))
    insert_rows(
        Image,
        (*IMAGE_COLUMNS, "byte_size", "connection_id"),
        (
            (dataset_id, draft.source_ref, draft.image_width, draft.image_height, _error_list(draft.errors),
             bool(draft.errors), bool(draft.labels or draft.boxes), "", "", "", 1, now, origin, origin_id, user_id,
             now, sizes.get(draft.source_ref), connection_id)
            for draft in drafts
            if draft.source_ref not in taken
        ),
    )  # fmt: skip
    new_refs = [ref for ref in refs if ref not in taken]
    ids = dict(Image.objects.filter(dataset_id=dataset_id, source_ref__in=new_refs).values_list("source_ref", "id"))
    fresh = [draft for draft in drafts if draft.source_ref in ids]
    added = _annotations_create(
        dataset_id=dataset_id, drafts=fresh, ids=ids, origin=origin, origin_id=origin_id, user=user
    )
    _label_counts_add(added)
    return [ids[draft.source_ref] for draft in fresh], [ref for ref in refs if ref in taken]


@dataclass
class StagedEntries:
    """Drafts encoded for COPY (PostgreSQL's text format) ahead of their write; see entries_stage.

    `drafts` are kept only for the other databases, which take the general path: on PostgreSQL a read-ahead's
    batches stay small (a third of the memory of their drafts).
    """

    drafts: Sequence[DraftLike]
    refs: list[str]
    with_boxes: set[str]  # the refs of drafts that have boxes (the quota of a dataset with boxes is lower)
    label_names: set[str]
    images: str  # n, source_ref, width, height, errors, has_errors, is_labeled, byte_size
    links: str  # n, k, label, confidence
    boxes: str  # n, k, label, left, top, width, height, confidence


_COPY_SPECIALS = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: str) -> str:
    """A string as a field of COPY's text format (a label name or a source_ref may hold a backslash)."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_COPY_SPECIALS)
    return value


_NULL = "\\N"  # COPY's text format for NULL


def entries_stage(drafts: Sequence[DraftLike], *, byte_sizes: Mapping[str, int | None] | None = None) -> StagedEntries:
    """Encode drafts for entries_add_staged: pure (no database), so it can run in a read-ahead thread.

    One text per staging table, built with joins of f-strings: far cheaper than a COPY row by row. Floats are
    written with repr, which PostgreSQL reads back exactly.
    """
    sizes = byte_sizes or {}
    images, links, boxes = [], [], []
    with_boxes, names = set(), set()
    k = 0
    for n, draft in enumerate(drafts):
        ref, width, height, size = draft.source_ref, draft.image_width, draft.image_height, sizes.get(draft.source_ref)
        errors = _copy_text(json.dumps(_error_list(draft.errors))) if draft.errors else "[]"
        images.append(
            f"{n}\t{_copy_text(ref)}\t{_NULL if width is None else width}\t{_NULL if height is None else height}\t"
            f"{errors}\t{'t' if draft.errors else 'f'}\t{'t' if draft.labels or draft.boxes else 'f'}\t"
            f"{_NULL if size is None else size}\n"
        )
        confidences = getattr(draft, "label_confidences", {})
        for name in dict.fromkeys(draft.labels):
            names.add(name)
            confidence = confidences.get(name)
            links.append(f"{n}\t{k}\t{_copy_text(name)}\t{_NULL if confidence is None else confidence}\n")
            k += 1
        if draft.boxes:
            with_boxes.add(ref)
        for box in draft.boxes:
            names.add(box.label)
            confidence = box.confidence
            boxes.append(
                f"{n}\t{k}\t{_copy_text(box.label)}\t{box.left}\t{box.top}\t{box.width}\t{box.height}\t"
                f"{_NULL if confidence is None else confidence}\n"
            )
            k += 1
    return StagedEntries(
        drafts=() if connection.vendor == "postgresql" else drafts,
        refs=[draft.source_ref for draft in drafts],
        with_boxes=with_boxes,
        label_names=names,
        images="".join(images),
        links="".join(links),
        boxes="".join(boxes),
    )


# Made once per session and emptied by every commit; emptied on entry too, for a second call in a transaction.
_STAGING = """
CREATE TEMPORARY TABLE IF NOT EXISTS _gw_stage_images (n integer, source_ref text, width integer, height integer,
    errors jsonb, has_errors boolean, is_labeled boolean, byte_size bigint) ON COMMIT DELETE ROWS;
CREATE TEMPORARY TABLE IF NOT EXISTS _gw_stage_links (n integer, k integer, label text, confidence double precision)
    ON COMMIT DELETE ROWS;
CREATE TEMPORARY TABLE IF NOT EXISTS _gw_stage_boxes (n integer, k integer, label text, "left" integer, top integer,
    width integer, height integer, confidence double precision) ON COMMIT DELETE ROWS;
DELETE FROM _gw_stage_images; DELETE FROM _gw_stage_links; DELETE FROM _gw_stage_boxes;
"""

# One statement: the new entries (ON CONFLICT says which refs are new), their links and boxes through the
# staged row number, and the labels' counts from what was inserted (an entry counts once per label). Foreign
# keys are checked at commit (deferred), so links may name entries of the same statement.
_ADD_STAGED = """
WITH new AS (
    INSERT INTO datasets_image (dataset_id, source_ref, width, height, errors, has_errors, is_labeled, storage_name,
        format, thumbnail_name, orientation, updated_at, origin, origin_id, created_by_id, created_at, byte_size,
        connection_id)
    SELECT %(dataset)s, source_ref, width, height, errors, has_errors, is_labeled, '', '', '', 1, %(now)s,
        %(origin)s, %(origin_id)s::bigint, %(user)s::integer, %(now)s, byte_size, %(connection)s::bigint
    FROM _gw_stage_images ORDER BY n
    ON CONFLICT (dataset_id, source_ref) DO NOTHING
    RETURNING id, source_ref
), fresh AS (
    SELECT new.id, staged.n FROM new JOIN _gw_stage_images AS staged USING (source_ref)
), names AS (
    SELECT id, name FROM datasets_label WHERE dataset_id = %(dataset)s
), links AS (
    INSERT INTO datasets_imagelabel (image_id, label_id, confidence, origin, origin_id, created_by_id, created_at)
    SELECT fresh.id, names.id, link.confidence, %(origin)s, %(origin_id)s::bigint, %(user)s::integer, %(now)s
    FROM _gw_stage_links AS link JOIN fresh USING (n) JOIN names ON names.name = link.label ORDER BY link.k
    RETURNING image_id, label_id
), boxes AS (
    INSERT INTO datasets_boundingbox (image_id, label_id, "left", top, width, height, confidence, origin, origin_id,
        created_by_id, created_at)
    SELECT fresh.id, names.id, box.left, box.top, box.width, box.height, box.confidence, %(origin)s,
        %(origin_id)s::bigint, %(user)s::integer, %(now)s
    FROM _gw_stage_boxes AS box JOIN fresh USING (n) JOIN names ON names.name = box.label ORDER BY box.k
    RETURNING image_id, label_id
), used AS (
    SELECT label_id, bool_or(boxed) AS boxed
    FROM (SELECT image_id, label_id, false AS boxed FROM links UNION ALL SELECT image_id, label_id, true FROM boxes)
        AS annotation
    GROUP BY image_id, label_id
), counted AS (
    UPDATE datasets_label AS label
    SET entry_count = label.entry_count + delta.entries, bounding_box_count = label.bounding_box_count + delta.boxed
    FROM (SELECT label_id, count(*) AS entries, count(*) FILTER (WHERE boxed) AS boxed FROM used GROUP BY label_id)
        AS delta
    WHERE label.id = delta.label_id
)
SELECT n, id FROM fresh ORDER BY n
"""


def entries_add_staged(
    *,
    dataset_id: int,
    staged: StagedEntries,
    origin: Origin,
    origin_id: int | None = None,
    user: AbstractBaseUser | None = None,
    connection_id: int | None = None,
) -> tuple[list[int], list[str]]:
    """entries_add_new for drafts staged by entries_stage (same contract, same result).

    On PostgreSQL: three COPYs into session temporary tables and one statement (see _ADD_STAGED), whatever the
    number of drafts: no lookup of the refs before or after, no rows built here. Elsewhere the general path.
    Raises TransactionManagementError outside a transaction (the staged rows go at each commit).
    """
    if not staged.refs:
        return [], []
    if not connection.in_atomic_block:
        raise TransactionManagementError("entries_add_staged runs in the transaction that holds the dataset lock.")
    if connection.vendor != "postgresql":
        return entries_add_new(
            dataset_id=dataset_id, drafts=staged.drafts, origin=origin, origin_id=origin_id, user=user,
            connection_id=connection_id,
        )  # fmt: skip
    labels_ensure(dataset_id=dataset_id, names=staged.label_names)
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_STAGING)
        for table, text in (
            ("_gw_stage_images", staged.images),
            ("_gw_stage_links", staged.links),
            ("_gw_stage_boxes", staged.boxes),
        ):
            if text:
                with cursor.copy(f"COPY {table} FROM STDIN") as copy:
                    copy.write(text)
        cursor.execute(
            _ADD_STAGED,
            {
                "dataset": dataset_id, "now": now, "origin": origin, "origin_id": origin_id,
                "user": getattr(user, "pk", None), "connection": connection_id,
            },
        )  # fmt: skip
        created = cursor.fetchall()  # (row number, id): far less to read than the refs
    new = {n for n, _ in created}
    return [pk for _, pk in created], [ref for n, ref in enumerate(staged.refs) if n not in new]


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
