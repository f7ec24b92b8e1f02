"""Probing the images an import registered: format, size and orientation, or why an image is unusable.

Runs after the entries are written, in pages of the job's own entries in id order; each page's results are
written in one transaction with a checkpoint, so a redelivered task probes only what is left. An unusable
image stays an entry, flagged with the reference's code (ERROR_INVALID_IMAGE, or ERROR_INVALID_IMAGE_DIMENSION
for entries with boxes), and counts as failed.
"""

from collections import defaultdict

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from datasets.models import BoundingBox, Image, Origin
from importers.jobs import JobCanceled, add_line_errors, cancel_requested
from importers.models import ImportJob
from importers.probe import ProbeResult, probe_many
from projects.s3 import BucketAccess

PROBE_PAGE = 500
CONCURRENCY = 16


def probe_job_entries(job: ImportJob, accesses: dict[str, BucketAccess]) -> None:
    """Probe every entry of the job not probed yet; `accesses` maps each readable bucket to its access."""
    while True:
        if cancel_requested(job.pk):
            raise JobCanceled()
        after = job.checkpoint.get("probed_after", 0)
        entries = list(
            Image.objects.filter(dataset_id=job.dataset_id, origin=Origin.IMPORT, origin_id=job.pk, pk__gt=after)
            .annotate(boxed=Exists(BoundingBox.objects.filter(image_id=OuterRef("pk"))))
            .order_by("pk")
            .values_list("pk", "source_ref", "byte_size", "boxed")[:PROBE_PAGE]
        )
        if not entries:
            return
        results: dict[str, ProbeResult] = {}
        by_bucket: dict[str, list[tuple[str, int | None]]] = defaultdict(list)
        boxed_refs = {ref for _, ref, _, boxed in entries if boxed}
        for _, ref, size, _ in entries:
            bucket, _, key = ref[5:].partition("/")
            by_bucket[bucket].append((key, size))
        for bucket, items in by_bucket.items():
            client = accesses[bucket].client(max_pool_connections=CONCURRENCY)
            has_boxes = {key for key, _ in items if f"s3://{bucket}/{key}" in boxed_refs}.__contains__
            for result in probe_many(client, bucket, items, concurrency=CONCURRENCY, has_boxes=has_boxes):
                results[f"s3://{bucket}/{result.key}"] = result
        job = _write_results(job.pk, entries, results)


@transaction.atomic
def _write_results(job_id: int, entries: list[tuple], results: dict[str, ProbeResult]) -> ImportJob:
    job = ImportJob.objects.select_for_update().get(pk=job_id)
    if job.checkpoint.get("probed_after", 0) >= entries[-1][0]:
        return job  # another delivery wrote this page meanwhile
    images = {image.pk: image for image in Image.objects.filter(pk__in=[e[0] for e in entries])}
    problems = []
    for pk, ref, _, _ in entries:
        image, result = images[pk], results[ref]
        if result.info is not None:
            info = result.info
            image.format, image.orientation, image.byte_size = info.format, info.orientation, info.byte_size
            if image.width is None:  # a box line's image_size is trusted as the manifest says
                image.width, image.height = info.width, info.height
        else:
            image.errors = [*image.errors, {"code": result.manifest_code, "message": result.message}]
            image.has_errors = True
            problems.append((None, ref, result.manifest_code, result.message))
    Image.objects.bulk_update(
        list(images.values()),
        ["format", "orientation", "byte_size", "width", "height", "errors", "has_errors"],
        batch_size=PROBE_PAGE,
    )
    add_line_errors(job, problems)
    job.failed += len(problems)
    job.checkpoint = {
        **job.checkpoint,
        "probed_after": entries[-1][0],
        "probed": job.checkpoint.get("probed", 0) + len(entries),
    }
    job.heartbeat_at = timezone.now()
    job.save(update_fields=["failed", "checkpoint", "line_error_count", "heartbeat_at"])
    return job
