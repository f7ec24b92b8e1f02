"""Random sequences of every write keep stats, label counts and `is_labeled` equal to what the rows say."""

import random

import pytest

from core.errors import GroundworkError
from datasets.models import Image, Label, Origin
from datasets.services import entries as entry_services
from datasets.services import labels as label_services
from datasets.services.entries_bulk import entries_upsert
from datasets.services.stats import dataset_refresh_stats
from datasets.validation import BoxInput
from tests.fixtures.datasets import Box, Draft, assert_counts_true, make_dataset

pytestmark = pytest.mark.django_db

NAMES = ["cat", "dog", "bird", "fish", "newt"]


def random_draft(rng, ref):
    return Draft(
        ref,
        labels=rng.sample(NAMES, rng.randint(0, 2)),
        boxes=[Box(rng.choice(NAMES), rng.randint(0, 100), rng.randint(0, 100)) for _ in range(rng.randint(0, 3))],
    )


@pytest.mark.parametrize("seed", range(6))
def test_random_writes_keep_every_count_true(project_with_roles, seed):
    rng = random.Random(seed)
    dataset = make_dataset(project_with_roles.project, drafts=[random_draft(rng, f"s3://b/{i}.jpg") for i in range(12)])
    for _ in range(60):
        entries = list(Image.objects.filter(dataset=dataset).values_list("pk", flat=True))
        labels = list(Label.objects.filter(dataset=dataset).values_list("name", flat=True))
        operation = rng.choice(["patch", "patch", "delete", "upsert", "rename", "delete_label", "create_label"])
        try:
            if operation == "patch" and entries:
                entry_services.entry_update(
                    dataset_id=dataset.pk,
                    entry_id=rng.choice(entries),
                    user=None,
                    labels=rng.choice([None, rng.sample(NAMES, rng.randint(0, 3))]),
                    boxes=rng.choice(
                        [None, [BoxInput(rng.choice(NAMES), 1, 1, 5, 5) for _ in range(rng.randint(0, 2))]]
                    ),
                )
            elif operation == "delete" and entries:
                entry_services.entry_delete(dataset_id=dataset.pk, entry_id=rng.choice(entries))
            elif operation == "upsert":
                refs = [f"s3://b/{rng.randint(0, 20)}.jpg" for _ in range(rng.randint(1, 5))]
                drafts = [random_draft(rng, ref) for ref in dict.fromkeys(refs)]
                entries_upsert(dataset_id=dataset.pk, drafts=drafts, origin=Origin.IMPORT)
                dataset_refresh_stats(dataset_id=dataset.pk)
            elif operation == "rename" and labels:
                label_services.label_rename(
                    dataset_id=dataset.pk, name=rng.choice(labels), new_name=rng.choice([*NAMES, "other"])
                )
            elif operation == "delete_label" and labels:
                label_services.label_delete(dataset_id=dataset.pk, name=rng.choice(labels))
            elif operation == "create_label":
                label_services.label_create(dataset_id=dataset.pk, name=rng.choice([*NAMES, "spare"]))
        except GroundworkError:
            pass  # a refused write (an existing label) must change nothing, which the check below covers
        assert_counts_true(dataset)
