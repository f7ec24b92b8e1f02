"""The manifest source: a Ground Truth manifest from S3 or an uploaded file, read as a stream, line by line.

Lines are parsed by the manifest codec and written in batches, each batch in one transaction with the job's
counters and a checkpoint (line number and byte offset), so a redelivered task resumes after the last batch
written. Terminal errors (the reference's file-level codes) fail the job, and the job's entries are then
removed: the dataset is left exactly as it was. Source refs the dataset has already are skipped, never
overwritten (UpdateDatasetEntries replaces); a source-ref repeated in the manifest is reported, the first kept.
"""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from botocore.exceptions import ClientError
from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from core.errors import GroundworkError, InvalidInput
from core.fault_points import fault_point
from core.prefetch import prefetch
from core.s3_clients import S3OutOfReach, is_outage
from datasets.manifest import MAX_LINE_CHARS, EntryDraft, LineRejected, parse_line, parse_s3_uri
from datasets.models import Image, Origin
from datasets.services.datasets import ensure_quota
from datasets.services.entries_bulk import StagedEntries, entries_add_staged, entries_stage
from datasets.services.own_uploads import entries_add_own_uploads
from datasets.services.stats import dataset_lock
from importers.jobs import JobCanceled, add_line_errors, commit_without_flush_wait
from importers.lines import count_lines, iter_lines
from importers.models import ImportJob
from importers.probing import probe_job_entries
from projects.s3 import BucketAccess, RefKind, SourceRefRule, bucket_access

# Larger batches cost the writer fewer round trips per line (each may wait for the parsing thread to yield the
# GIL); 10,000 staged lines (the default of IMPORT_BATCH_LINES) are about 3 MB.
BATCH_LINES = settings.IMPORT_BATCH_LINES
PREFETCH_BATCHES = 2
INVALID_JSON = "ERROR_INVALID_JSON_LINE"
CHUNK_BYTES = 1 << 20
INACCESSIBLE = "ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT"
BUCKET_NOT_ALLOWED = "ERROR_BUCKET_NOT_ALLOWED"


class ManifestFailure(GroundworkError):
    """A terminal error of the whole manifest (reference §2.4)."""


def manifest_source_params(*, project_id: int, s3_uri: str, connection: int | None) -> dict:
    try:
        bucket, key = parse_s3_uri(s3_uri)
    except ValueError as exc:
        raise InvalidInput(f"{s3_uri!r} {exc}.", code="invalid_s3_uri", fields={"source.s3_uri": str(exc)}) from None
    bucket_access(project_id=project_id, bucket=bucket, key_prefix=key, connection_id=connection, folder=False)
    return {"s3_uri": s3_uri, "bucket": bucket, "key": key, "connection": connection}


def uploaded_manifest_params(*, upload: IO[bytes], size: int) -> dict:
    """Keep an uploaded manifest in the platform's storage until the worker has read it."""
    if size > settings.MANIFEST_MAX_BYTES:
        raise ManifestFailure("The manifest is over 1 GB.", code="ERROR_MANIFEST_SIZE_TOO_LARGE")
    name = default_storage.save(f"imports/manifests/{uuid.uuid4().hex}.manifest", File(upload))
    return {"storage_name": name, "size": size}


def _s3_manifest_size(job: ImportJob, access: BucketAccess) -> int:
    """The manifest object's size, checked, and kept in the job's parameters for its progress (offset / size)."""
    try:
        size = access.client().head_object(Bucket=job.params["bucket"], Key=job.params["key"])["ContentLength"]
    except ClientError as error:
        _raise_if_outage(error)
        raise ManifestFailure(f"The manifest {job.params['s3_uri']} cannot be read.", code=INACCESSIBLE) from error
    _check_size(size)
    if job.params.get("size") != size:
        job.params = {**job.params, "size": size}
        ImportJob.objects.filter(pk=job.pk).update(params=job.params)
    return size


def _s3_chunks(job: ImportJob, access: BucketAccess, offset: int, size: int) -> Iterator[bytes]:
    if offset >= size:
        return
    bucket, key = job.params["bucket"], job.params["key"]
    try:
        body = access.client().get_object(Bucket=bucket, Key=key, Range=f"bytes={offset}-")["Body"]
    except ClientError as error:
        _raise_if_outage(error)
        raise ManifestFailure(f"The manifest {job.params['s3_uri']} cannot be read.", code=INACCESSIBLE) from error
    yield from body.iter_chunks(CHUNK_BYTES)


def _raise_if_outage(error: ClientError) -> None:
    """A 5xx or throttling answer is S3 out of reach, not an unreadable manifest: the task retries later."""
    if is_outage(error):
        raise S3OutOfReach(f"S3 answered {error.response.get('Error', {}).get('Code') or error}") from error


def _stored_chunks(job: ImportJob, offset: int) -> Iterator[bytes]:
    name = job.params["storage_name"]
    if not default_storage.exists(name):
        raise ManifestFailure("The uploaded manifest is gone.", code=INACCESSIBLE)
    _check_size(job.params["size"])
    with default_storage.open(name, "rb") as stream:
        stream.seek(offset)
        while chunk := stream.read(CHUNK_BYTES):
            yield chunk


def _check_size(size: int) -> None:
    if size > settings.MANIFEST_MAX_BYTES:
        raise ManifestFailure(f"The manifest has {size:,} bytes; at most 1 GB.", code="ERROR_MANIFEST_SIZE_TOO_LARGE")
    if size == 0:
        raise ManifestFailure("The manifest is empty.", code="ERROR_EMPTY_MANIFEST")


def run_manifest_import(job: ImportJob) -> None:
    """Run (or resume) a manifest import. Raises ManifestFailure and other domain errors, JobCanceled.

    A thread reads, parses and stages the next batches (all pure) while this one writes the current batch.
    """
    access = None
    if "bucket" in job.params:
        access = bucket_access(
            project_id=job.dataset.project_id,
            bucket=job.params["bucket"],
            key_prefix=job.params["key"],
            connection_id=job.params.get("connection"),
            folder=False,
        )
    size = _s3_manifest_size(job, access) if access is not None else None

    def chunks_from(offset: int) -> Iterator[bytes]:
        return _s3_chunks(job, access, offset, size) if access is not None else _stored_chunks(job, offset)

    if "lines_total" not in job.checkpoint:
        job = _count_lines(job, chunks_from(0))
    line, offset = job.checkpoint.get("line", 0), job.checkpoint.get("offset", 0)
    chunks = chunks_from(offset)
    # Judged in the read-ahead thread: the rule holds no database access once built.
    rule = SourceRefRule(
        project_id=job.dataset.project_id, connections=[access.connection] if access and access.connection else []
    )
    # Batch boundaries show in line errors (a source-ref repeated within a batch names its first line), so a
    # resumed job keeps the batch size it started with, whatever the setting is now.
    batch_lines = job.checkpoint.get("batch_lines", BATCH_LINES)
    batches = _parsed_batches(chunks, first_line=line + 1, first_offset=offset, rule=rule, batch_lines=batch_lines)
    for batch in prefetch(batches, depth=PREFETCH_BATCHES):
        job = _write_batch(job.pk, batch)
        fault_point("manifest.after_batch")
    _check_totals(job)
    probe_job_entries(job, _readable_buckets(job, access))
    if "storage_name" in job.params:
        default_storage.delete(job.params["storage_name"])


def _count_lines(job: ImportJob, chunks: Iterator[bytes]) -> ImportJob:
    """Count the manifest's lines before the first batch is written, so a manifest over the limit fails
    before any entry is written (and is never written, then undone). The count is kept in the checkpoint:
    a resumed job does not count again."""
    total = count_lines(chunks, stop_after=settings.MANIFEST_MAX_LINES)
    if total > settings.MANIFEST_MAX_LINES:
        raise ManifestFailure(
            f"The manifest has more than {settings.MANIFEST_MAX_LINES:,} lines.",
            code="ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM",
        )
    job.checkpoint = {**job.checkpoint, "lines_total": total}
    job.heartbeat_at = timezone.now()
    ImportJob.objects.filter(pk=job.pk).update(checkpoint=job.checkpoint, heartbeat_at=job.heartbeat_at)
    return job


@dataclass
class ParsedBatch:
    """A batch of lines made ready for the database: rejected lines and entry errors as line errors, the
    other lines' drafts staged. Only what the database knows (refs it has already) is left to the write."""

    first_line: int
    last_line: int
    size: int  # the batch size it was cut with
    offset: int  # of the byte after the last line
    seen: int  # lines that are not blank
    rejected: int
    errors: list[tuple[int | None, str, str, str]]  # (line, source_ref, code, message), in line order
    line_of: dict[str, int]  # the line of each staged source_ref (and each platform file's)
    staged: StagedEntries
    platform_files: list[tuple[EntryDraft, str]]  # drafts naming a file of the platform's storage, its name


def _parsed_batches(
    chunks: Iterator[bytes], *, first_line: int, first_offset: int, rule: SourceRefRule, batch_lines: int
) -> Iterator[ParsedBatch]:
    batch: list[tuple[int, bytes | None]] = []
    end = first_offset
    lines = iter_lines(chunks, max_line_bytes=4 * MAX_LINE_CHARS, first_line=first_line, first_offset=first_offset)
    for number, raw, end in lines:
        if number > settings.MANIFEST_MAX_LINES:
            raise ManifestFailure(
                f"The manifest has more than {settings.MANIFEST_MAX_LINES:,} lines.",
                code="ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM",
            )
        batch.append((number, raw))
        if len(batch) == batch_lines:
            yield _parse_batch(batch, end, rule, batch_lines)
            batch = []
    if batch:
        yield _parse_batch(batch, end, rule, batch_lines)


def _parse_batch(batch: list[tuple[int, bytes | None]], offset: int, rule: SourceRefRule, size: int) -> ParsedBatch:
    errors: list[tuple[int | None, str, str, str]] = []
    drafts: dict[str, EntryDraft] = {}
    line_of: dict[str, int] = {}
    platform_files: dict[str, str] = {}
    seen = rejected = 0
    for number, raw in batch:
        if raw is not None and not raw.strip():  # blank lines are not objects
            continue
        seen += 1
        try:
            if raw is None:
                raise LineRejected(INVALID_JSON, "the line is over 100,000 characters", line_number=number)
            draft = parse_line(raw, line_number=number)
            verdict = rule.judge(draft.source_ref)
            if verdict.kind in (RefKind.FOREIGN, RefKind.FORBIDDEN):
                raise LineRejected(BUCKET_NOT_ALLOWED, verdict.problem, line_number=number)
            if draft.source_ref in drafts:
                raise LineRejected(
                    "ERROR_DUPLICATE_SOURCE_REF",
                    f"{draft.source_ref} repeats line {line_of[draft.source_ref]}; the first is kept",
                    line_number=number,
                )
        except LineRejected as refused:
            rejected += 1
            errors.append((number, "", refused.code, refused.message))
            continue
        drafts[draft.source_ref], line_of[draft.source_ref] = draft, number
        if verdict.kind is RefKind.PLATFORM_FILE:
            platform_files[draft.source_ref] = verdict.storage_name
        errors += [(number, draft.source_ref, e.code, f"line {number}: {e.message}") for e in draft.errors]
    return ParsedBatch(
        first_line=batch[0][0],
        last_line=batch[-1][0],
        size=size,
        offset=offset,
        seen=seen,
        rejected=rejected,
        errors=errors,
        line_of=line_of,
        staged=entries_stage([draft for ref, draft in drafts.items() if ref not in platform_files]),
        platform_files=[(drafts[ref], name) for ref, name in platform_files.items()],
    )


def _check_totals(job: ImportJob) -> None:
    job.refresh_from_db()
    if job.seen == 0:
        raise ManifestFailure("The manifest has no lines.", code="ERROR_EMPTY_MANIFEST")
    if job.failed * 5 > job.seen:  # the reference's 20% rule
        raise ManifestFailure(
            f"{job.failed:,} of {job.seen:,} lines could not be imported (more than 20%).",
            code="ERROR_TOO_MANY_RECORDS_IN_ERROR",
        )


def _readable_buckets(job: ImportJob, access: BucketAccess | None) -> dict[str, BucketAccess]:
    """The buckets a manifest's images may lie in: the server's, and the connection's when there is one."""
    accesses = {}
    if settings.AWS_STORAGE_BUCKET_NAME:
        accesses[settings.AWS_STORAGE_BUCKET_NAME] = BucketAccess(
            bucket=settings.AWS_STORAGE_BUCKET_NAME, connection=None
        )
    if access is not None and access.connection is not None:
        accesses[access.bucket] = access
    return accesses


@transaction.atomic
def _write_batch(job_id: int, batch: ParsedBatch) -> ImportJob:
    job = ImportJob.objects.select_for_update(of=("self",)).select_related("created_by").get(pk=job_id)
    if job.cancel_requested:
        raise JobCanceled()
    if job.checkpoint.get("line", 0) != batch.first_line - 1:
        return job  # another delivery of the task wrote this batch meanwhile: never count it twice
    commit_without_flush_wait()
    dataset = dataset_lock(dataset_id=job.dataset_id)
    created_ids, existing = entries_add_staged(
        dataset_id=dataset.pk, staged=batch.staged, origin=Origin.IMPORT, origin_id=job.pk, user=job.created_by
    )
    errors, rejected, skipped = list(batch.errors), batch.rejected, 0
    if batch.platform_files:
        uploaded_ids, uploaded_existing, refused = entries_add_own_uploads(
            dataset_id=dataset.pk, project_id=dataset.project_id, drafts=batch.platform_files,
            origin=Origin.IMPORT, origin_id=job.pk, user=job.created_by,
        )  # fmt: skip
        created_ids, existing = created_ids + uploaded_ids, existing + uploaded_existing
        for ref in refused:
            rejected += 1
            message = f"line {batch.line_of[ref]}: {ref} is a file of another project; it is not readable here"
            errors.append((batch.line_of[ref], "", BUCKET_NOT_ALLOWED, message))
    if existing:
        origins = dict(
            Image.objects.filter(dataset_id=dataset.pk, source_ref__in=existing).values_list("source_ref", "origin_id")
        )
        for ref in existing:
            if origins[ref] == job.pk:  # written by an earlier batch of this manifest: a repeated source-ref
                line = batch.line_of[ref]
                rejected += 1
                message = f"line {line}: {ref} repeats an earlier line; the first is kept"
                errors.append((line, ref, "ERROR_DUPLICATE_SOURCE_REF", message))
            else:
                skipped += 1
    # Checked once the rows are in (the transaction is undone when it raises): the insert says which are new.
    ensure_quota(
        dataset=dataset,
        new_entries=len(created_ids),
        adding_boxes=bool(batch.staged.with_boxes.difference(existing))
        or any(draft.boxes and draft.source_ref not in existing for draft, _ in batch.platform_files),
        already_added=job.imported,
    )
    if job.params.get("connection"):
        Image.objects.filter(pk__in=created_ids, source_ref__startswith=f"s3://{job.params['bucket']}/").update(
            connection_id=job.params["connection"]
        )
    add_line_errors(job, sorted(errors, key=lambda error: error[0] or 0))
    job.seen += batch.seen
    job.imported += len(created_ids)
    job.skipped += skipped
    job.failed += rejected
    job.checkpoint = {**job.checkpoint, "line": batch.last_line, "offset": batch.offset, "batch_lines": batch.size}
    job.heartbeat_at = timezone.now()
    job.save(update_fields=["seen", "imported", "skipped", "failed", "checkpoint", "line_error_count", "heartbeat_at"])
    return job
