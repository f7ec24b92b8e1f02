"""Probing the images an import registered: format, size and orientation, or why an image is unusable.

Runs after the entries are written, in pages of the job's own entries in id order; each page's results are
written in one transaction with a checkpoint, so a redelivered task probes only what is left. An unusable
image stays an entry, flagged with the reference's code (ERROR_INVALID_IMAGE, or ERROR_INVALID_IMAGE_DIMENSION
for entries with boxes), and counts as failed.
"""

from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor

from botocore.client import BaseClient
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from core.fault_points import fault_point
from datasets.image_checks import ImageInfo
from datasets.models import BoundingBox, Image, Origin
from importers.jobs import JobCanceled, add_line_errors, cancel_requested
from importers.models import ImportJob
from importers.probe import ProbeResult, probe_many
from projects.s3 import BucketAccess

PROBE_PAGE = 500


def probe_job_entries(job: ImportJob, accesses: dict[str, BucketAccess]) -> None:
    """Probe every entry of the job not probed yet; `accesses` maps each readable bucket to its access.

    Pages are probed one after another on a thread of their own, with IMPORT_PROBE_CONCURRENCY requests in
    flight, while this thread writes the page before and reads the page after: the database work does not
    leave the requests idle. Pages are written in order, so the checkpoint stays exact."""
    concurrency = settings.IMPORT_PROBE_CONCURRENCY
    clients = {bucket: access.client(max_pool_connections=concurrency) for bucket, access in accesses.items()}
    current: list[tuple] = []  # probed (or being probed), not written yet
    probing: Future[dict[str, ProbeResult]] | None = None  # current's results
    following = _next_page(job, after=job.checkpoint.get("probed_after", 0))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="probe-pages") as prober:
        while True:
            if cancel_requested(job.pk):
                raise JobCanceled()
            if not current and not following:
                return
            results = probing.result() if probing else {}
            probing = prober.submit(_probe_page, following, clients, concurrency) if following else None
            if current:
                job = _write_results(job.pk, current, results)
                fault_point("probing.after_page")
            current, following = following, []
            if current:
                # Past what another delivery of the task may have written meanwhile.
                following = _next_page(job, after=max(current[-1][0], job.checkpoint.get("probed_after", 0)))


def _next_page(job: ImportJob, *, after: int) -> list[tuple[int, str, int | None, bool]]:
    """(id, source_ref, byte_size, has boxes) of the job's next PROBE_PAGE entries after id `after`."""
    return list(
        Image.objects.filter(dataset_id=job.dataset_id, origin=Origin.IMPORT, origin_id=job.pk, pk__gt=after)
        .filter(storage_name="")  # the platform's own files were checked when they were uploaded
        .annotate(boxed=Exists(BoundingBox.objects.filter(image_id=OuterRef("pk"))))
        .order_by("pk")
        .values_list("pk", "source_ref", "byte_size", "boxed")[:PROBE_PAGE]
    )


def _probe_page(entries: list[tuple], clients: dict[str, BaseClient], concurrency: int) -> dict[str, ProbeResult]:
    """Probe a page's entries, bucket by bucket; {source_ref: result}. No database access (another thread)."""
    results: dict[str, ProbeResult] = {}
    by_bucket: dict[str, list[tuple[str, int | None]]] = defaultdict(list)
    boxed_refs = {ref for _, ref, _, boxed in entries if boxed}
    for _, ref, size, _ in entries:
        bucket, _, key = ref[5:].partition("/")
        by_bucket[bucket].append((key, size))
    for bucket, items in by_bucket.items():
        has_boxes = {key for key, _ in items if f"s3://{bucket}/{key}" in boxed_refs}.__contains__
        for result in probe_many(clients[bucket], bucket, items, concurrency=concurrency, has_boxes=has_boxes):
            results[f"s3://{bucket}/{result.key}"] = result
    return results


@transaction.atomic
def _write_results(job_id: int, entries: list[tuple], results: dict[str, ProbeResult]) -> ImportJob:
    job = ImportJob.objects.select_for_update().get(pk=job_id)
    if job.checkpoint.get("probed_after", 0) >= entries[-1][0]:
        return job  # another delivery wrote this page meanwhile
    _record_usable([(pk, results[ref].info) for pk, ref, _, _ in entries if results[ref].info is not None])
    refused = {pk: (ref, results[ref]) for pk, ref, _, _ in entries if results[ref].info is None}
    images = list(Image.objects.filter(pk__in=refused))  # usually none or a few
    for image in images:
        result = refused[image.pk][1]
        image.errors = [*image.errors, {"code": result.manifest_code, "message": result.message}]
        image.has_errors = True
    Image.objects.bulk_update(images, ["errors", "has_errors"], batch_size=PROBE_PAGE)
    add_line_errors(job, [(None, ref, result.manifest_code, result.message) for ref, result in refused.values()])
    job.failed += len(refused)
    job.checkpoint = {
        **job.checkpoint,
        "probed_after": entries[-1][0],
        "probed": job.checkpoint.get("probed", 0) + len(entries),
    }
    job.heartbeat_at = timezone.now()
    job.save(update_fields=["failed", "checkpoint", "line_error_count", "heartbeat_at"])
    return job


def _record_usable(probed: list[tuple[int, ImageInfo]]) -> None:
    """Write the format, orientation and byte size of usable images, and their width and height unless the
    entry has them (a box line's image_size is trusted as the manifest says), in one UPDATE ... FROM (VALUES
    ...): the ORM's bulk_update builds a CASE of one WHEN per row and field, most of a page's CPU time."""
    if not probed:
        return
    table = connection.ops.quote_name(Image._meta.db_table)
    row = "(CAST(%s AS bigint), CAST(%s AS varchar(8)), CAST(%s AS integer), CAST(%s AS bigint), "
    row += "CAST(%s AS integer), CAST(%s AS integer))"
    params = [value for pk, i in probed for value in (pk, i.format, i.orientation, i.byte_size, i.width, i.height)]
    # VALUES names its columns column1, column2, ... on PostgreSQL and SQLite alike. In SET, the table's own
    # columns are the values before the update, so `width IS NULL` decides for both width and height.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET format = probed.column2, orientation = probed.column3, "  # noqa: S608
            f"byte_size = probed.column4, width = COALESCE({table}.width, probed.column5), "
            f"height = CASE WHEN {table}.width IS NULL THEN probed.column6 ELSE {table}.height END "
            f"FROM (VALUES {', '.join([row] * len(probed))}) AS probed WHERE {table}.id = probed.column1",
            params,
        )
