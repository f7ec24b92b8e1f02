"""The S3 folder source: list a prefix page by page and add its images as entries, labels from folder names.

Resumable: each listing page is written in one transaction together with the job's counters and the
continuation token of the next page, so a redelivered task starts at the first page not yet written and the
counters stay exact. Keys that a dataset has already (from another import or upload) are skipped, never
overwritten. A page goes in with one INSERT ... ON CONFLICT DO NOTHING (entries_add_new), sizes included.
"""

from concurrent.futures import Future, ThreadPoolExecutor

from botocore.client import BaseClient
from botocore.exceptions import ClientError
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.errors import GroundworkError, InvalidInput
from core.fault_points import fault_point
from core.s3_clients import S3OutOfReach, is_outage
from datasets.manifest import EntryDraft
from datasets.models import Image, Origin
from datasets.services.datasets import ensure_quota
from datasets.services.entries_bulk import entries_add_new
from datasets.services.stats import dataset_lock
from importers.folder_labels import (
    folder_label_for_key,
    is_folder_marker,
    key_is_under,
    looks_like_image_key,
    parse_s3_folder_uri,
)
from importers.jobs import JobCanceled, add_line_errors, cancel_requested, commit_without_flush_wait
from importers.models import ImportJob
from importers.probing import probe_job_entries
from projects.s3 import BucketAccess, RefKind, SourceRefRule, bucket_access

LIST_PAGE_SIZE = settings.IMPORT_LIST_PAGE_SIZE


def folder_source_params(*, project_id: int, s3_uri: str, auto_label: bool, connection: int | None) -> dict:
    """Check an S3 folder source when it is asked for (400s, nothing created): the URI and the bucket rule."""
    try:
        bucket, prefix = parse_s3_folder_uri(s3_uri)
    except ValueError as exc:
        raise InvalidInput(str(exc), code="invalid_s3_uri", fields={"source.s3_uri": str(exc)}) from None
    bucket_access(project_id=project_id, bucket=bucket, key_prefix=prefix, connection_id=connection)
    return {"s3_uri": s3_uri, "bucket": bucket, "prefix": prefix, "auto_label": auto_label, "connection": connection}


def s3_failure(error: ClientError, *, bucket: str) -> GroundworkError:
    code = error.response.get("Error", {}).get("Code", "")
    if code == "NoSuchBucket":
        return InvalidInput(f"The bucket {bucket!r} does not exist.", code="bucket_not_found")
    if code in {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"}:
        return InvalidInput(f"The credentials in use may not read the bucket {bucket!r}.", code="access_denied")
    return InvalidInput(f"S3 refused to list the bucket {bucket!r}: {code or error}.", code="s3_error")


def list_and_register(job: ImportJob, access: BucketAccess, client: BaseClient) -> None:
    """List the job's prefix from its checkpoint on and register every image key as an entry.

    While a page is written, the next one is listed on a thread of its own (the write waits on the database,
    the listing on S3). A page listed ahead is used only if it continues the checkpoint that the write left."""
    prefix = job.params["prefix"]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="list-pages") as lister:
        ahead: tuple[str | None, Future[dict]] | None = None  # (the token it was asked with, the page)
        while not job.checkpoint.get("listing_done"):
            if cancel_requested(job.pk):
                raise JobCanceled()
            token = job.checkpoint.get("continuation_token")
            if ahead is None or ahead[0] != token:  # none yet, or another delivery moved the checkpoint
                ahead = (token, lister.submit(_list_page, client, access.bucket, prefix, token))
            page = ahead[1].result()
            ahead = None
            if page.get("IsTruncated"):
                following = page.get("NextContinuationToken")
                ahead = (following, lister.submit(_list_page, client, access.bucket, prefix, following))
            job = _register_page(job.pk, access, page, token=token)
            fault_point("s3_folder.after_page")


def _list_page(client: BaseClient, bucket: str, prefix: str, token: str | None) -> dict:
    request = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": LIST_PAGE_SIZE}
    if token:
        request["ContinuationToken"] = token
    try:
        return client.list_objects_v2(**request)
    except ClientError as error:
        if is_outage(error):  # 5xx or throttling: the task retries later from the checkpoint
            raise S3OutOfReach(f"S3 answered {error.response.get('Error', {}).get('Code') or error}") from error
        raise s3_failure(error, bucket=bucket) from error


@transaction.atomic
def _register_page(job_id: int, access: BucketAccess, page: dict, *, token: str | None) -> ImportJob:
    job = ImportJob.objects.select_for_update().get(pk=job_id)
    if job.checkpoint.get("continuation_token") != token or job.checkpoint.get("listing_done"):
        return job  # another delivery of the task wrote this page meanwhile: never count it twice
    commit_without_flush_wait()
    dataset = dataset_lock(dataset_id=job.dataset_id)
    prefix, auto_label = job.params["prefix"], job.params["auto_label"]
    # The listing is of a folder the rule allowed; each key is judged again (a key with ".." segments, or one
    # a looser listing prefix let through, is reported and never read).
    rule = SourceRefRule(project_id=dataset.project_id, connections=[access.connection] if access.connection else [])
    drafts: dict[str, EntryDraft] = {}
    sizes: dict[str, int] = {}
    problems: list[tuple[str, str, str]] = []
    seen = skipped = 0
    for item in page.get("Contents", []):
        key = item["Key"]
        if is_folder_marker(key) or not key_is_under(key, prefix):
            continue
        seen += 1
        if not looks_like_image_key(key):
            skipped += 1
            continue
        ref = f"s3://{access.bucket}/{key}"
        verdict = rule.judge(ref)
        if verdict.kind is not RefKind.READABLE:
            skipped += 1
            problems.append((ref, "bucket_not_allowed", verdict.problem or f"{ref} is not readable here"))
            continue
        label = folder_label_for_key(key, prefix) if auto_label else None
        if label is not None and label.problem:
            problems.append((ref, "invalid_folder_label", label.problem))
        drafts[ref] = EntryDraft(ref, [label.name] if label is not None and label.name else [], [])
        sizes[ref] = item.get("Size")
    # Entries someone else added stay as they are. This job's own (only a redelivered page could meet them)
    # count as imported, as when they were written.
    created_ids, existing = entries_add_new(
        dataset_id=dataset.pk,
        drafts=list(drafts.values()),
        origin=Origin.IMPORT,
        origin_id=job.pk,
        user=job.created_by,
        byte_sizes=sizes,
        connection_id=access.connection.pk if access.connection else None,
    )
    own = 0
    if existing:
        own = Image.objects.filter(
            dataset_id=dataset.pk, source_ref__in=existing, origin=Origin.IMPORT, origin_id=job.pk
        ).count()
    skipped += len(existing) - own
    # Checked once the rows are in (the transaction is undone when it raises): the insert says which are new.
    ensure_quota(dataset=dataset, new_entries=len(created_ids), already_added=job.imported)
    add_line_errors(job, [(None, ref, code, message) for ref, code, message in problems])
    job.seen += seen
    job.skipped += skipped
    job.imported += len(created_ids) + own
    job.checkpoint = {
        **job.checkpoint,
        "continuation_token": page.get("NextContinuationToken"),
        "listing_done": not page.get("IsTruncated"),
    }
    job.heartbeat_at = timezone.now()
    job.save(update_fields=["seen", "skipped", "imported", "checkpoint", "line_error_count", "heartbeat_at"])
    return job


def run_s3_folder_import(job: ImportJob) -> None:
    """Run (or resume) an S3 folder import to its end. Raises domain errors (the job fails with their code)
    and JobCanceled."""
    params = job.params
    access = bucket_access(
        project_id=job.dataset.project_id,
        bucket=params["bucket"],
        key_prefix=params["prefix"],
        connection_id=params.get("connection"),
    )
    list_and_register(job, access, access.client())
    job.refresh_from_db()
    probe_job_entries(job, {access.bucket: access})
