"""The write-back never undoes what the API acknowledged: it reads the entries under the dataset's lock and
writes results under the labels' names of the moment (renamed, merged or deleted since the answers); and a
result that cannot be written goes to review instead of blocking the rest."""

import random
import threading

import pytest
from django.db import connection

from datasets.models import Image, ImageLabel, Label
from datasets.services import entries as entry_services
from datasets.services import labels as label_services
from labeling.label_changes import renames_after, resolve
from labeling.models import LabelingJob, Task, TaskStatus
from labeling.services import results
from labeling.services.results import results_write_back
from tests.fixtures.datasets import Draft, assert_counts_true
from tests.labeling.factories import answer_all, make_job, make_workers


def labels_of(dataset_id):
    links = ImageLabel.objects.filter(image__dataset_id=dataset_id).values_list("image__source_ref", "label__name")
    by_ref: dict[str, set[str]] = {}
    for ref, name in links:
        by_ref.setdefault(ref, set()).add(name)
    return by_ref


def answered_job(project, *, answer, drafts=None, labels=("cat", "dog"), task_type="classification"):
    (worker,) = make_workers(project, 1)
    drafts = drafts or [Draft(f"s3://b/{i}.jpg", labels=["outdoor"]) for i in range(3)]
    job = make_job(project, workers=[worker], drafts=drafts, labels=labels, task_type=task_type)
    answer_all(job, [worker], [answer], write_back=False)
    for name in labels:  # declared in the dataset, as a manager renames them there
        if not Label.objects.filter(dataset_id=job.dataset_id, name=name).exists():
            label_services.label_create(dataset_id=job.dataset_id, name=name)
    return job


def test_renames_stay_flat_and_a_name_in_use_again_is_current():
    renames = renames_after({}, "a", "b")
    assert renames == {"a": "b"}
    renames = renames_after(renames, "b", "c")
    assert renames == {"a": "c", "b": "c"}
    renames = renames_after(renames, "c", "a")  # back to the first name
    assert renames == {"b": "a", "c": "a"}
    assert [resolve(name, renames) for name in "abc"] == ["a", "a", "a"]
    assert resolve("x", renames_after(renames, "x", None)) is None


@pytest.mark.django_db
def test_a_rename_after_the_answers_is_written_under_the_new_name(project_with_roles):
    job = answered_job(project_with_roles.project, answer={"labels": ["dog"]})
    label_services.label_rename(dataset_id=job.dataset_id, name="dog", new_name="hound")

    assert results_write_back(job_id=job.pk) == 3

    assert set(map(frozenset, labels_of(job.dataset_id).values())) == {frozenset({"outdoor", "hound"})}
    assert not Label.objects.filter(dataset_id=job.dataset_id, name="dog").exists()  # not re-created
    assert LabelingJob.objects.get(pk=job.pk).labels == ["cat", "hound"]
    assert_counts_true(job.dataset)


@pytest.mark.django_db
def test_a_merge_after_the_answers_is_written_into_the_merged_label(project_with_roles):
    job = answered_job(project_with_roles.project, answer={"labels": ["cat", "dog"]}, task_type="multi_label")
    label_services.label_rename(dataset_id=job.dataset_id, name="dog", new_name="outdoor")  # onto an existing one

    results_write_back(job_id=job.pk)

    assert set(map(frozenset, labels_of(job.dataset_id).values())) == {frozenset({"outdoor", "cat"})}
    assert LabelingJob.objects.get(pk=job.pk).labels == ["cat", "outdoor"]
    assert_counts_true(job.dataset)


@pytest.mark.django_db
def test_a_deleted_label_is_not_written_back(project_with_roles):
    job = answered_job(project_with_roles.project, answer={"labels": ["dog"]})
    label_services.label_delete(dataset_id=job.dataset_id, name="dog")

    results_write_back(job_id=job.pk)

    assert set(map(frozenset, labels_of(job.dataset_id).values())) == {frozenset({"outdoor"})}
    assert not Label.objects.filter(dataset_id=job.dataset_id, name="dog").exists()
    assert_counts_true(job.dataset)


@pytest.mark.django_db
def test_a_result_that_cannot_be_written_goes_to_review_and_the_others_land(project_with_roles, monkeypatch):
    job = answered_job(project_with_roles.project, answer={"labels": ["dog"]})
    poisoned = Image.objects.get(dataset_id=job.dataset_id, source_ref="s3://b/1.jpg")
    real = results.entries_replace_annotations

    def replace(*, changes, **kwargs):
        if any(change.entry_id == poisoned.pk for change in changes):
            raise ValueError("a bug")
        return real(changes=changes, **kwargs)

    monkeypatch.setattr(results, "entries_replace_annotations", replace)

    assert results_write_back(job_id=job.pk) == 3

    task = Task.objects.get(job=job, image=poisoned)
    assert task.status == TaskStatus.REVIEW
    assert task.result["write_error"]["code"] == "internal_error"
    labels = labels_of(job.dataset_id)
    assert labels["s3://b/1.jpg"] == {"outdoor"}  # unchanged
    assert labels["s3://b/0.jpg"] == labels["s3://b/2.jpg"] == {"outdoor", "dog"}
    job.refresh_from_db()
    assert (job.completed_count, job.review_count) == (2, 1)
    assert_counts_true(job.dataset)


ENTRIES = 120


@pytest.mark.django_db(transaction=True)
def test_concurrent_edits_renames_and_deletes_are_never_undone_by_the_write_back(project_with_roles):
    """PATCHes of the entries' other labels, renames of the job's label and deletes of entries race a
    write-back in small batches; afterwards each entry holds the labels of its last acknowledged PATCH (the
    job writes only its own labels), the renamed label is never re-created, deleted entries stay deleted."""
    drafts = [Draft(f"s3://b/{i}.jpg", labels=["keep-0"]) for i in range(ENTRIES)]
    job = answered_job(project_with_roles.project, answer={"labels": ["dog"]}, drafts=drafts)
    ids = list(Image.objects.filter(dataset_id=job.dataset_id).order_by("id").values_list("pk", flat=True))
    acknowledged: dict[int, str] = {}  # entry id -> its other label in the last PATCH answered
    deleted: set[int] = set()
    renamed = threading.Event()
    failures: list[BaseException] = []

    def writer():
        try:
            while results_write_back(job_id=job.pk, limit=7):
                pass
        except BaseException as exc:  # reported by the test
            failures.append(exc)
        finally:
            connection.close()

    def editor(seed):
        rng = random.Random(seed)
        try:
            for step in range(60):
                entry_id = rng.choice(ids[seed::2])  # each editor its own entries: the last PATCH is known
                if step == 20 and seed == 0:
                    label_services.label_rename(dataset_id=job.dataset_id, name="dog", new_name="hound")
                    renamed.set()
                elif step % 17 == 5:
                    if entry_id not in deleted:
                        entry_services.entry_delete(dataset_id=job.dataset_id, entry_id=entry_id)
                        deleted.add(entry_id)
                elif entry_id not in deleted:
                    name = f"keep-{step}"
                    entry_services.entry_update(dataset_id=job.dataset_id, entry_id=entry_id, user=None, labels=[name])
                    acknowledged[entry_id] = name
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer), threading.Thread(target=editor, args=(0,)),
               threading.Thread(target=editor, args=(1,))]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    while results_write_back(job_id=job.pk):
        pass

    assert failures == []
    assert renamed.is_set()
    final = {
        image_id: set(ImageLabel.objects.filter(image_id=image_id).values_list("label__name", flat=True))
        for image_id in ids
        if image_id not in deleted
    }
    assert not Image.objects.filter(pk__in=deleted).exists()
    for image_id, names in final.items():
        assert {n for n in names if n.startswith("keep-")} == {acknowledged.get(image_id, "keep-0")}, image_id
        assert names - {acknowledged.get(image_id, "keep-0")} <= {"hound"}, names  # never "dog" after the rename
        if image_id not in acknowledged:
            assert "hound" in names  # the result was written
    assert len(acknowledged) > 20
    assert not Label.objects.filter(dataset_id=job.dataset_id, name="dog").exists()
    assert_counts_true(job.dataset)
