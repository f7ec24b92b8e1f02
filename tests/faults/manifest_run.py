"""What the fault tests share: a manifest of several batches with bad lines and bad images, a worker armed to
pause at a fault point, and a row-for-row picture of what an import left."""

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from django.conf import settings

from datasets.models import BoundingBox, Image, ImageLabel, Label
from importers.models import ImportJob, ImportLineError
from tests.fixtures.s3 import png_bytes
from tests.fixtures.worker import WorkerProcess, start_worker, worker_env

LINES = 1_600
BATCH = 500  # 4 batches: 500, 500, 500, 100
WORKER_ENV = {"IMPORT_BATCH_LINES": str(BATCH), "IMPORT_HEARTBEAT_SECONDS": "1", "IMPORT_STALL_SECONDS": "3"}
STALL_S = 3


def wait_for(predicate, timeout=120, what="condition", every=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def _line(ref: str, index: int) -> dict:
    if index % 7 == 0:
        return {
            "source-ref": ref,
            "b": {"image_size": [{"width": 800, "height": 600, "depth": 3}],
                  "annotations": [{"class_id": 0, "left": 10 + index % 50, "top": 10, "width": 100, "height": 80},
                                  {"class_id": 1, "left": 300, "top": 200, "width": 60, "height": 40}]},
            "b-metadata": {"objects": [{"confidence": 0.9}, {"confidence": 0.5}],
                           "class-map": {"0": "can", "1": "cup"}, "type": "groundtruth/object-detection",
                           "human-annotated": "yes", "creation-date": "2024-03-01T10:15:00"},
        }  # fmt: skip
    return {
        "source-ref": ref,
        "animal": index % 3,
        "animal-metadata": {"class-name": ["cat", "dog", "owl"][index % 3], "confidence": 0.9,
                            "type": "groundtruth/image-classification", "human-annotated": "yes",
                            "creation-date": "2024-03-01T10:15:00"},
    }  # fmt: skip


def put_manifest(s3, project, key: str = "gt/faults.manifest") -> str:
    """A manifest of LINES lines (bad JSON, no source-ref, foreign buckets, repeats within and across batches)
    naming images in the drop folder, some missing and some not images; its s3:// URI."""
    refs, lines = [], []
    for index in range(LINES):
        ref = s3.drop_uri(project, f"faults/{index:05}.png")
        if index % 97 == 13:
            lines.append('{"source-ref": "s3://x/y.jpg",')
        elif index % 89 == 7:
            lines.append(json.dumps({"animal": 1}))
        elif index % 101 == 50:
            lines.append(json.dumps(_line(f"s3://someone-elses-bucket/{index}.png", index)))
        elif index % 83 == 5:  # repeats a line of the same batch
            lines.append(json.dumps(_line(refs[-3], index)))
        elif index in (700, 1_550):  # repeats a line of an earlier batch
            lines.append(json.dumps(_line(refs[10], index)))
        else:
            refs.append(ref)
            lines.append(json.dumps(_line(ref, index)))
    image, not_an_image = png_bytes(800, 600), b"GIF89a but not really" * 10

    def put(numbered: tuple[int, str]) -> None:
        number, ref = numbered
        if number % 211 == 100:
            return  # missing
        s3.put(ref.removeprefix(f"s3://{s3.bucket}/"), not_an_image if number % 199 == 150 else image)

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, enumerate(refs)))
    return s3.put_in_drop(project, key, ("\n".join(lines) + "\n").encode())


def start_armed_worker(s3_server, tmp_path: Path, *, fault: str, queue: str, **extra_env: str) -> WorkerProcess:
    env = worker_env(s3_server)
    env.update(WORKER_ENV, GROUNDWORK_FAULT_POINTS=fault, GROUNDWORK_FAULT_DIR=str(tmp_path / "faults"))
    env.update(extra_env)
    log_path = Path(settings.VAR_DIR) / f"test-worker-{queue}.log"
    return start_worker(env=env, log_path=log_path, queues=queue, concurrency=1)


def wait_paused(worker: WorkerProcess, tmp_path: Path, fault: str, timeout: float = 120) -> None:
    marker = tmp_path / "faults" / fault.replace(":", ".")

    def paused() -> bool:
        if worker.process.poll() is not None:
            raise AssertionError(f"worker exited:\n{worker.log_tail()}")
        return marker.exists()

    wait_for(paused, timeout=timeout, what=f"the worker to pause at {fault}", every=0.1)


def requeue_when_stalled(job_id: int) -> None:
    """Run the stall sweep until it enqueues the job again (its worker is dead: no heartbeat for STALL_S)."""
    from importers import services

    wait_for(
        lambda: services.imports_requeue_stalled(older_than_s=STALL_S) == [job_id],
        timeout=STALL_S + 10,
        what="the sweep to find the job stalled",
        every=0.25,
    )


def wait_finished(job_id: int, timeout: float = 120) -> ImportJob:
    return wait_for(
        lambda: ImportJob.objects.filter(pk=job_id, status__in=["succeeded", "failed", "canceled"]).first(),
        timeout=timeout,
        what="the job to end",
        every=0.1,
    )


def picture(job: ImportJob) -> dict:
    """Everything an import leaves, without ids and times: entries, labels, boxes, line errors, counters."""
    job.refresh_from_db()
    dataset_id = job.dataset_id
    labels = {
        (image_id, name, confidence)
        for image_id, name, confidence in ImageLabel.objects.filter(image__dataset_id=dataset_id).values_list(
            "image_id", "label__name", "confidence"
        )
    }
    boxes = set(
        BoundingBox.objects.filter(image__dataset_id=dataset_id).values_list(
            "image_id", "label__name", "left", "top", "width", "height", "confidence"
        )
    )
    entries = {}
    for image in Image.objects.filter(dataset_id=dataset_id):
        entries[image.source_ref] = (
            sorted((name, conf) for pk, name, conf in labels if pk == image.pk),
            sorted(box[1:] for box in boxes if box[0] == image.pk),
            image.width, image.height, image.format, image.byte_size, image.orientation,
            image.errors, image.has_errors, image.is_labeled,
        )  # fmt: skip
    line_errors = sorted(
        ImportLineError.objects.filter(job=job).values_list("line", "source_ref", "code", "message"),
        key=lambda error: (error[0] or 0, error[1], error[2], error[3]),
    )
    dataset = job.dataset
    dataset.refresh_from_db()
    return {
        "job": (job.status, job.error_code, job.seen, job.imported, job.skipped, job.failed, job.line_error_count),
        "probed": job.checkpoint.get("probed"),
        "entries": entries,
        "line_errors": line_errors,
        "labels": sorted(
            Label.objects.filter(dataset_id=dataset_id).values_list("name", "entry_count", "bounding_box_count")
        ),
        "stats": (dataset.status, dataset.total_entries, dataset.labeled_entries, dataset.error_entries),
    }
