"""Reads of the datasets app, with a fixed number of queries per page whatever its size."""

from collections.abc import Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet

from core.errors import NotFound
from datasets.models import BoundingBox, Dataset, Image, ImageLabel, Label
from projects.models import StorageConnection
from projects.permissions import Capability, member_filter, member_get


def datasets_visible_to(*, user: AbstractBaseUser, project_id: int | None = None) -> QuerySet[Dataset]:
    datasets = Dataset.objects.filter(member_filter(user))
    if project_id is not None:
        datasets = datasets.filter(project_id=project_id)
    return datasets.order_by("project_id", "name", "id")


def dataset_entries(
    *,
    dataset_id: int,
    contains_labels: Sequence[str] | None = None,
    labeled: bool | None = None,
    source_ref_contains: str | None = None,
    has_errors: bool | None = None,
) -> QuerySet[Image]:
    """Entries of a dataset matching every filter given; `contains_labels` matches any of the names, as an
    image-level label or on a box. Pass the page through `entries_annotate` before serializing it."""
    entries = Image.objects.filter(dataset_id=dataset_id)
    if labeled is not None:
        entries = entries.filter(is_labeled=labeled)
    if has_errors is not None:
        entries = entries.filter(has_errors=has_errors)
    if source_ref_contains:
        entries = entries.filter(source_ref__contains=source_ref_contains)
    if contains_labels:
        label_ids = Label.objects.filter(dataset_id=dataset_id, name__in=list(contains_labels)).values("id")
        with_label = ImageLabel.objects.filter(label_id__in=label_ids).values("image_id")
        with_box = BoundingBox.objects.filter(label_id__in=label_ids).values("image_id")
        entries = entries.filter(Q(pk__in=with_label) | Q(pk__in=with_box))
    return entries.only(*ENTRY_FIELDS)


ENTRY_FIELDS = [
    "id", "dataset_id", "source_ref", "connection_id", "storage_name", "width", "height", "format", "orientation",
    "thumbnail_name", "errors", "updated_at",
]  # fmt: skip


def entries_annotate(entries: Sequence[Image]) -> Sequence[Image]:
    """Attach `label_names` and `box_rows` (plain tuples) and storage connections to a page of entries, in two
    queries (three when some entries are read through a connection).

    Cheaper than prefetching model instances: a page of 500 entries carries about 1,500 labels and boxes.
    """
    ids = [entry.pk for entry in entries]
    names: dict[int, list[str]] = {pk: [] for pk in ids}
    boxes: dict[int, list[tuple]] = {pk: [] for pk in ids}
    if ids:
        links = ImageLabel.objects.filter(image_id__in=ids).order_by("id").values_list("image_id", "label__name")
        for image_id, name in links:
            names[image_id].append(name)
        rows = (
            BoundingBox.objects.filter(image_id__in=ids)
            .order_by("id")
            .values_list("image_id", "id", "label__name", "left", "top", "width", "height")
        )
        for image_id, *box in rows:
            boxes[image_id].append(tuple(box))
    connection_ids = {entry.connection_id for entry in entries if entry.connection_id}
    connections = StorageConnection.objects.in_bulk(connection_ids) if connection_ids else {}
    for entry in entries:
        entry.label_names = names[entry.pk]
        entry.box_rows = boxes[entry.pk]
        if entry.connection_id:
            entry.connection = connections[entry.connection_id]
    return entries


def entry_get(*, dataset_id: int, entry_id: int) -> Image:
    """One entry with its labels and boxes. Raises NotFound."""
    entry = dataset_entries(dataset_id=dataset_id).filter(pk=entry_id).first()
    if entry is None:
        raise NotFound(f"Entry {entry_id} not found in dataset {dataset_id}.")
    return entries_annotate([entry])[0]


def dataset_labels_with_counts(*, dataset_id: int) -> QuerySet[Label]:
    """Labels with `entry_count` and `bounding_box_count`, stored and kept exact by the services."""
    return Label.objects.filter(dataset_id=dataset_id).order_by("name")


def label_get_with_counts(*, dataset_id: int, name: str) -> Label:
    """One label with its counts. Raises NotFound."""
    label = dataset_labels_with_counts(dataset_id=dataset_id).filter(name=name).first()
    if label is None:
        raise NotFound(f"The dataset has no label {name!r}.")
    return label


def dataset_readable_by(*, user: AbstractBaseUser, dataset_id: int) -> Dataset:
    """A dataset of any of the user's projects (the source of a copy). Raises NotFound."""
    dataset, _ = member_get(Dataset.objects.all(), pk=dataset_id, user=user, capability=Capability.READ)
    return dataset
