"""A dataset's labels: create, rename (merging into an existing label), delete from every entry."""

from django.db import transaction
from django.db.models import Exists, OuterRef

from core.errors import Conflict, NotFound
from datasets.models import BoundingBox, ImageLabel, Label
from datasets.services.label_counts import labels_recount
from datasets.services.stats import dataset_lock, dataset_refresh_stats, entries_refresh_is_labeled
from datasets.signals import label_changed
from datasets.validation import clean_label_name


def _label(*, dataset_id: int, name: str) -> Label:
    label = Label.objects.filter(dataset_id=dataset_id, name=name).first()
    if label is None:
        raise NotFound(f"The dataset has no label {name!r}.")
    return label


@transaction.atomic
def label_create(*, dataset_id: int, name: str) -> Label:
    """Declare a label. Raises Conflict `label_exists`, InvalidInput `invalid_label_name`."""
    name = clean_label_name(name)
    dataset_lock(dataset_id=dataset_id)
    if Label.objects.filter(dataset_id=dataset_id, name=name).exists():
        raise Conflict(f"The dataset has a label {name!r} already.", code="label_exists")
    label = Label.objects.create(dataset_id=dataset_id, name=name)
    dataset_refresh_stats(dataset_id=dataset_id)
    return label


@transaction.atomic
def label_rename(*, dataset_id: int, name: str, new_name: str) -> Label:
    """Rename a label; renaming onto an existing label merges the two (every entry and box keeps one label)."""
    new_name = clean_label_name(new_name)
    dataset_lock(dataset_id=dataset_id)
    label = _label(dataset_id=dataset_id, name=name)
    if new_name == label.name:
        return label
    target = Label.objects.filter(dataset_id=dataset_id, name=new_name).first()
    if target is None:
        label.name = new_name
        label.save(update_fields=["name"])
        label_changed.send(sender=Label, dataset_id=dataset_id, old_name=name, new_name=new_name)
        return label
    # Merge: entries that have both keep one image-level link; all boxes move to the target.
    already_on_target = ImageLabel.objects.filter(label_id=target.pk, image_id=OuterRef("image_id"))
    ImageLabel.objects.filter(label_id=label.pk).exclude(Exists(already_on_target)).update(label_id=target.pk)
    BoundingBox.objects.filter(label_id=label.pk).update(label_id=target.pk)
    label.delete()  # the links still on it were duplicates of the target's
    labels_recount(dataset_id=dataset_id, label_ids=[target.pk])
    dataset_refresh_stats(dataset_id=dataset_id)
    label_changed.send(sender=Label, dataset_id=dataset_id, old_name=name, new_name=new_name)
    return target


@transaction.atomic
def label_delete(*, dataset_id: int, name: str) -> None:
    """Delete a label, removing it (image-level links and boxes) from every entry."""
    dataset_lock(dataset_id=dataset_id)
    label = _label(dataset_id=dataset_id, name=name)
    ImageLabel.objects.filter(label_id=label.pk).delete()
    BoundingBox.objects.filter(label_id=label.pk).delete()
    label.delete()
    entries_refresh_is_labeled(dataset_id=dataset_id, may_gain=False)
    dataset_refresh_stats(dataset_id=dataset_id)
    label_changed.send(sender=Label, dataset_id=dataset_id, old_name=name, new_name=None)
