"""Distributing a training dataset's entries into an empty test dataset (DistributeDatasetEntries)."""

from collections import Counter, defaultdict

from django.db import connection, transaction
from django.db.models import Case, Q, Value, When
from django.utils import timezone

from core.errors import Conflict, InvalidInput
from datasets.models import BoundingBox, Dataset, DatasetType, Image, ImageLabel, Label
from datasets.services.datasets import ensure_not_busy
from datasets.services.entries_bulk import BATCH_SIZE, labels_ensure
from datasets.services.label_counts import add_contributions, contributions_of, label_counts_apply
from datasets.services.stats import dataset_lock, dataset_refresh_stats
from datasets.split import plan_split

INSUFFICIENT = "ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE"


def _check(training: Dataset, test: Dataset) -> None:
    if training.pk == test.pk:
        raise InvalidInput("The training and test datasets must differ.", code="same_dataset")
    if training.project_id != test.project_id:
        raise InvalidInput("Both datasets must belong to the same project.", code="datasets_in_different_projects")
    if training.type != DatasetType.TRAIN or test.type != DatasetType.TEST:
        raise InvalidInput(
            f"Entries move from a training dataset to a test dataset ({training.name!r} is {training.type}, "
            f"{test.name!r} is {test.type}).",
            code="wrong_dataset_type",
        )
    ensure_not_busy(training)
    ensure_not_busy(test)
    if Image.objects.filter(dataset_id=test.pk).exists():
        raise Conflict(f"The test dataset {test.name!r} must be empty.", code="test_dataset_not_empty")


def _labels_of_entries(training_id: int) -> dict[int, set[int]]:
    """Entry id -> ids of its labels (image-level or boxed), read with a raw cursor: this is about a million
    rows for a 250,000-entry dataset, and model iteration would cost more than the split itself."""
    label = Label._meta.db_table
    labels_of: dict[int, set[int]] = {
        pk: set() for pk in Image.objects.filter(dataset_id=training_id).values_list("pk", flat=True).iterator()
    }
    own_labels = f"SELECT id FROM {label} WHERE dataset_id = %s"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT image_id, label_id FROM {ImageLabel._meta.db_table} WHERE label_id IN ({own_labels})
                UNION SELECT image_id, label_id FROM {BoundingBox._meta.db_table} WHERE label_id IN ({own_labels})""",
            [training_id, training_id],
        )
        while rows := cursor.fetchmany(20_000):
            for image_id, label_id in rows:
                labels_of[image_id].add(label_id)
    return labels_of


@transaction.atomic
def datasets_distribute(*, training_id: int, test_id: int, fraction: float = 0.2, seed: int = 0) -> int:
    """Move `fraction` of the training entries (with their labels and boxes) into the empty test dataset,
    stratified so that every label with two or more entries ends up on both sides. Returns how many moved.

    Raises InvalidInput (`same_dataset`, `datasets_in_different_projects`, `wrong_dataset_type`),
    Conflict (`test_dataset_not_empty`, `dataset_busy`, `ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE`).
    """
    first, second = sorted([training_id, test_id])
    locked = {first: dataset_lock(dataset_id=first), second: dataset_lock(dataset_id=second)}  # id order: no deadlock
    training, test = locked[training_id], locked[test_id]
    _check(training, test)

    labels_of = _labels_of_entries(training_id)
    per_label = defaultdict(int)
    for labels in labels_of.values():
        for label in labels:
            per_label[label] += 1
    if sum(1 for labels in labels_of.values() if labels) < 2 or max(per_label.values(), default=0) < 2:
        raise Conflict(
            f"The training dataset {training.name!r} needs at least one label on two or more entries to be split.",
            code=INSUFFICIENT,
        )
    moving = sorted(plan_split(labels_of, fraction=fraction, seed=seed))
    _move(training_id=training_id, test_id=test_id, image_ids=moving)
    dataset_refresh_stats(dataset_id=training_id)
    dataset_refresh_stats(dataset_id=test_id)
    return len(moving)


def _move(*, training_id: int, test_id: int, image_ids: list[int]) -> None:
    now = timezone.now()
    for start in range(0, len(image_ids), BATCH_SIZE):
        batch = image_ids[start : start + BATCH_SIZE]
        Image.objects.filter(dataset_id=training_id, pk__in=batch).update(dataset_id=test_id, updated_at=now)
    moved = Image.objects.filter(dataset_id=test_id).values("pk")
    linked = ImageLabel.objects.filter(image_id__in=moved).values("label_id")
    boxed = BoundingBox.objects.filter(image_id__in=moved).values("label_id")
    old_ids = dict(
        Label.objects.filter(Q(pk__in=linked) | Q(pk__in=boxed), dataset_id=training_id).values_list("name", "pk")
    )
    new_ids, _ = labels_ensure(dataset_id=test_id, names=old_ids)
    if not old_ids:
        return
    # The moved entries' share of each label's counts goes with them, from the training label to its twin.
    moved_using, moved_boxed = contributions_of(moved)
    twin_of = {old_ids[name]: new_ids[name] for name in old_ids}
    label_counts_apply(add_contributions((Counter(), Counter()), (moved_using, moved_boxed), sign=-1))
    label_counts_apply(
        (
            Counter({twin_of[label]: n for label, n in moved_using.items()}),
            Counter({twin_of[label]: n for label, n in moved_boxed.items()}),
        )
    )
    # Labels are rows of their dataset: point the moved links and boxes at the test dataset's twins, in one
    # statement per table (at most a few hundred labels in the CASE).
    twin = Case(*[When(label_id=old_ids[name], then=Value(new_ids[name])) for name in old_ids])
    for model in (ImageLabel, BoundingBox):
        model.objects.filter(image_id__in=moved, label_id__in=old_ids.values()).update(label_id=twin)
