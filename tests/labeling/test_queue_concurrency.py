"""Many workers asking at once on PostgreSQL: no slot is ever over-assigned, no worker lands twice on an image."""

import threading
from collections import Counter

import pytest
from django.db import connection, connections

from labeling.models import Assignment, Task
from labeling.services import queue
from labeling.services.results import results_write_back
from tests.fixtures.datasets import Draft
from tests.labeling.factories import make_job, make_workers

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)"),
]


def test_concurrent_workers_never_overfill_a_slot(project_with_roles):
    workers = make_workers(project_with_roles.project, 12)
    job = make_job(
        project_with_roles.project,
        workers=workers,
        workers_per_image=3,
        drafts=[Draft(f"s3://b/{i}.jpg") for i in range(10)],
    )
    barrier = threading.Barrier(len(workers))
    errors = []

    def work(worker):
        try:
            barrier.wait()
            while (lease := queue.assignment_claim_next(job=job, worker=worker)) is not None:
                if lease.pk % 5 == 0:
                    queue.assignment_release(assignment_id=lease.pk, worker=worker)
                    continue
                queue.assignment_submit(assignment_id=lease.pk, worker=worker, answer={"labels": ["cat"]})
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    submitted = Counter(Assignment.objects.filter(status="submitted").values_list("task_id", flat=True))
    assert set(submitted.values()) == {3}
    assert len(submitted) == 10
    pairs = Counter(Assignment.objects.filter(status="submitted").values_list("task_id", "worker_id"))
    assert max(pairs.values()) == 1
    assert set(Task.objects.filter(job=job).values_list("slots_taken", "answer_count", "status")) == {
        (3, 3, "complete")
    }
    assert results_write_back(job_id=job.pk) == 10
    job.refresh_from_db()
    assert job.status == "completed"
