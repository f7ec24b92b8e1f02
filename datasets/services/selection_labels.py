"""One image-level label added to or removed from many entries at once: a picked selection, or every entry
that matches a filter (the gallery's "select all matching", up to a whole 250,000-entry dataset).

Set-based: a constant number of statements whatever the selection's size (an `INSERT … SELECT` for the new
links, one `DELETE` for removed ones), and the label and dataset counters move by exact deltas.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils import timezone

from core.errors import InvalidInput, NotFound
from datasets import selectors
from datasets.models import BoundingBox, Dataset, Image, ImageLabel, Label, Origin
from datasets.services.datasets import ensure_not_busy
from datasets.services.entries_bulk import labels_ensure
from datasets.services.stats import dataset_lock
from datasets.validation import clean_label_name

MAX_PICKED_ENTRIES = 5000


@dataclass(frozen=True)
class SelectionLabelResult:
    label: str
    changed: int  # entries that gained (or lost) the image-level label


def _selection(*, dataset_id: int, entry_ids: Sequence[int] | None, filters: Mapping[str, Any] | None) -> QuerySet:
    if entry_ids is not None:
        if len(entry_ids) > MAX_PICKED_ENTRIES:
            raise InvalidInput(
                f"Pick at most {MAX_PICKED_ENTRIES} entries, or use the filter's select-all.",
                code="too_many_entries",
                fields={"entry_ids": "Too many."},
            )
        return Image.objects.filter(dataset_id=dataset_id, pk__in=list(entry_ids))
    return selectors.dataset_entries(dataset_id=dataset_id, **dict(filters or {})).order_by()


@transaction.atomic
def entries_label_set(
    *,
    dataset_id: int,
    label: str,
    add: bool,
    user: AbstractBaseUser | None,
    entry_ids: Sequence[int] | None = None,
    filters: Mapping[str, Any] | None = None,
) -> SelectionLabelResult:
    """Add (`add=True`) or remove the image-level `label` on the entries `entry_ids` (ids of other datasets
    are ignored; at most MAX_PICKED_ENTRIES), or, with `entry_ids=None`, on every entry matching `filters`
    (the keywords of `selectors.dataset_entries`).

    Adding creates a missing label and never duplicates a link; removing leaves boxes of the label alone.
    Holds the dataset lock. Raises InvalidInput (`invalid_label_name`, `too_many_entries`), NotFound when
    removing a label the dataset does not have, Conflict `dataset_busy` while an import writes.
    """
    name = clean_label_name(label, field="label")
    dataset = dataset_lock(dataset_id=dataset_id)
    ensure_not_busy(dataset)
    if add:
        label_ids, created = labels_ensure(dataset_id=dataset_id, names=[name])
        label_id = label_ids[name]
    else:
        label_id = Label.objects.filter(dataset_id=dataset_id, name=name).values_list("pk", flat=True).first()
        if label_id is None:
            raise NotFound(f"The dataset has no label {name!r}.")
        created = 0
    selection = _selection(dataset_id=dataset_id, entry_ids=entry_ids, filters=filters)
    has_link = Exists(ImageLabel.objects.filter(image_id=OuterRef("pk"), label_id=label_id))
    has_box = Exists(BoundingBox.objects.filter(image_id=OuterRef("pk"), label_id=label_id))
    if add:
        gaining = selection.exclude(has_link)
        # Entries that did not use the label at all (neither linked nor boxed) add one to its entry_count.
        newly_using = gaining.exclude(has_box).count()
        changed = _insert_links(gaining, label_id=label_id, user=user)
        labeled_delta = selection.filter(is_labeled=False).update(is_labeled=True)
    else:
        losing = selection.filter(has_link)
        newly_using = -losing.exclude(has_box).count()
        changed, _ = ImageLabel.objects.filter(label_id=label_id, image_id__in=selection.values("pk")).delete()
        any_link = Exists(ImageLabel.objects.filter(image_id=OuterRef("pk")))
        any_box = Exists(BoundingBox.objects.filter(image_id=OuterRef("pk")))
        labeled_delta = -selection.filter(is_labeled=True).exclude(any_link).exclude(any_box).update(is_labeled=False)
    if newly_using:
        Label.objects.filter(pk=label_id).update(entry_count=F("entry_count") + newly_using)
    if labeled_delta or created:
        Dataset.objects.filter(pk=dataset_id).update(
            labeled_entries=F("labeled_entries") + labeled_delta, total_labels=F("total_labels") + created
        )
    return SelectionLabelResult(label=name, changed=changed)


def _insert_links(entries: QuerySet, *, label_id: int, user: AbstractBaseUser | None) -> int:
    """INSERT … SELECT one link per entry of `entries` (which excludes entries that have it already)."""
    select_sql, select_params = entries.values(picked_id=F("pk")).query.sql_with_params()
    table = connection.ops.quote_name(ImageLabel._meta.db_table)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    columns = "image_id, label_id, confidence, origin, origin_id, created_by_id, created_at"
    # Only the ORM's own SQL and a quoted table name are spliced in; every value is a parameter.
    sql = f"INSERT INTO {table} ({columns}) SELECT picked.picked_id, %s, NULL, %s, NULL, %s, %s FROM ({select_sql}) picked"  # noqa: S608, E501
    with connection.cursor() as cursor:
        cursor.execute(sql, [label_id, Origin.USER.value, getattr(user, "pk", None), now, *select_params])
        return cursor.rowcount
