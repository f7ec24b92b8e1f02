"""Who made an entry, a link or a box: kept without a database constraint, cleared when the user goes."""

import pytest
from django.db import transaction

from datasets.models import BoundingBox, Image, ImageLabel, Origin
from datasets.services.entries_bulk import entries_add_new
from datasets.services.stats import dataset_lock
from tests.fixtures.datasets import Box, Draft, make_dataset

pytestmark = pytest.mark.django_db


def test_deleting_a_user_clears_them_from_what_they_made(project_with_roles, make_user):
    user = make_user()
    dataset = make_dataset(project_with_roles.project)
    with transaction.atomic():
        dataset_lock(dataset_id=dataset.pk)
        entries_add_new(
            dataset_id=dataset.pk,
            drafts=[Draft("s3://b/1.jpg", labels=["cat"], boxes=[Box("dog")])],
            origin=Origin.IMPORT,
            user=user,
        )
    made = [Image.objects.filter(dataset=dataset), ImageLabel.objects.all(), BoundingBox.objects.all()]
    assert [rows.filter(created_by=user).count() for rows in made] == [1, 1, 1]

    user.delete()

    assert [rows.count() for rows in made] == [1, 1, 1]
    assert [rows.exclude(created_by=None).count() for rows in made] == [0, 0, 0]
