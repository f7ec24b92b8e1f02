"""entries_add_new: new refs go in with their labels, boxes and counts; refs the dataset has are skipped."""

import pytest
from django.db import transaction
from django.db.transaction import TransactionManagementError

from datasets.models import BoundingBox, Image, ImageLabel, Origin
from datasets.services.entries_bulk import entries_add_new, entries_add_staged, entries_stage
from datasets.services.stats import dataset_lock, dataset_refresh_stats
from tests.fixtures.datasets import Box, Draft, Error, assert_counts_true, make_dataset

pytestmark = pytest.mark.django_db

# What COPY's text format escapes (backslash, tab, newline, carriage return) and what JSON escapes (quotes).
AWKWARD = 'a\\b\tc\nd\re "q"'


def test_awkward_values_are_stored_as_given(project_with_roles):
    dataset = make_dataset(project_with_roles.project, drafts=[Draft("s3://b/old.jpg", labels=["kept"])])
    drafts = [
        Draft(f"s3://b/{AWKWARD}.jpg", labels=[AWKWARD, "cat"], errors=[Error("ERROR_X", f"bad {AWKWARD}")]),
        Draft("s3://b/old.jpg", labels=["cat"]),
        Draft("s3://b/box.jpg", boxes=[Box(AWKWARD, 1, 2, 30, 40, 0.25), Box("cat")], image_width=None),
        Draft("s3://b/none.jpg", image_width=None, image_height=None),
    ]

    with transaction.atomic():
        dataset_lock(dataset_id=dataset.pk)
        created, skipped = entries_add_new(
            dataset_id=dataset.pk, drafts=drafts, origin=Origin.IMPORT, origin_id=7, byte_sizes={"s3://b/box.jpg": 12}
        )
    dataset_refresh_stats(dataset_id=dataset.pk)

    assert skipped == ["s3://b/old.jpg"]
    assert list(Image.objects.filter(pk__in=created).order_by("pk").values_list("source_ref", flat=True)) == [
        f"s3://b/{AWKWARD}.jpg",
        "s3://b/box.jpg",
        "s3://b/none.jpg",
    ]
    awkward = Image.objects.get(dataset=dataset, source_ref=f"s3://b/{AWKWARD}.jpg")
    assert (awkward.errors, awkward.has_errors, awkward.is_labeled) == (
        [{"code": "ERROR_X", "message": f"bad {AWKWARD}"}],
        True,
        True,
    )
    assert list(ImageLabel.objects.filter(image=awkward).order_by("pk").values_list("label__name", flat=True)) == [
        AWKWARD,
        "cat",
    ]
    boxed = Image.objects.get(dataset=dataset, source_ref="s3://b/box.jpg")
    assert (boxed.width, boxed.height, boxed.byte_size, boxed.origin, boxed.origin_id) == (None, 480, 12, "import", 7)
    assert list(
        BoundingBox.objects.filter(image=boxed)
        .order_by("pk")
        .values_list("label__name", "left", "top", "width", "height", "confidence")
    ) == [(AWKWARD, 1, 2, 30, 40, 0.25), ("cat", 10, 10, 50, 40, None)]
    bare = Image.objects.get(dataset=dataset, source_ref="s3://b/none.jpg")
    assert (bare.width, bare.height, bare.is_labeled, bare.errors) == (None, None, False, [])
    old = Image.objects.get(dataset=dataset, source_ref="s3://b/old.jpg")
    assert list(ImageLabel.objects.filter(image=old).values_list("label__name", flat=True)) == ["kept"]
    assert_counts_true(dataset)


def test_staged_drafts_can_be_written_twice_in_one_transaction(project_with_roles):
    dataset = make_dataset(project_with_roles.project)
    first = entries_stage([Draft("s3://b/1.jpg", labels=["cat"]), Draft("s3://b/2.jpg", boxes=[Box("dog")])])
    second = entries_stage([Draft("s3://b/2.jpg", labels=["cat"]), Draft("s3://b/3.jpg", labels=["cat"])])

    with transaction.atomic():
        dataset_lock(dataset_id=dataset.pk)
        created_first, _ = entries_add_staged(dataset_id=dataset.pk, staged=first, origin=Origin.IMPORT)
        created_second, skipped = entries_add_staged(dataset_id=dataset.pk, staged=second, origin=Origin.IMPORT)
    dataset_refresh_stats(dataset_id=dataset.pk)

    assert (len(created_first), len(created_second), skipped) == (2, 1, ["s3://b/2.jpg"])
    assert Image.objects.filter(dataset=dataset).count() == 3
    assert_counts_true(dataset)


@pytest.mark.django_db(transaction=True)
def test_staged_drafts_are_refused_outside_a_transaction(project_with_roles):
    dataset = make_dataset(project_with_roles.project)

    with pytest.raises(TransactionManagementError):
        entries_add_staged(dataset_id=dataset.pk, staged=entries_stage([Draft("s3://b/1.jpg")]), origin=Origin.IMPORT)

    assert not Image.objects.filter(dataset=dataset).exists()
