"""Probe images stored in S3: format, size, EXIF orientation and byte size, or why the object is not usable.

An S3 folder import lists thousands of keys, then probes them here with a bounded thread pool. Each probe is
one ranged GET of the object's first `HEAD_BYTES`; a further ranged GET only when the header runs past it (a
big ICC or EXIF segment before a JPEG's frame header). Nothing is ever downloaded whole unless it is smaller
than the range. The image rules are those of `datasets.image_checks.probe_header`; pixels are not decoded here.

Decisions:
- No HEAD request: a ranged GET answers with `Content-Range: bytes 0-65535/<total>`, which gives the size the
  15 MiB limit needs. When the listing already gave the size, empty and oversized objects are refused
  before any request.
- The object's size is the one S3 reports on the GET, not the listing's (the object may have changed since).
  Later ranged GETs send `If-Match` with the first GET's ETag, so bytes of two versions are never mixed.
- Extra GETs ask generously (at least double the head, 16 KiB past what the parser asks for): a round trip
  costs far more than a few KiB of transfer.
- S3's answers about an object (not found, access denied, a bad image) become results, never exceptions: a
  listing of 250,000 keys must yield 250,000 results. S3 out of reach (core.s3_clients.TRANSIENT_S3_ERRORS:
  connection errors, timeouts, 5xx and throttling through botocore's retries) is no verdict on an image: it
  raises, and the import retries later from its checkpoint.
"""

import logging
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import BotoCoreError, ClientError

from core.s3_clients import TRANSIENT_S3_ERRORS, S3OutOfReach, is_outage
from datasets.image_checks import HEAD_BYTES, MAX_BYTES, ImageInfo, ImageRejected, NeedMoreBytes, probe_header

logger = logging.getLogger(__name__)

INVALID_IMAGE = "ERROR_INVALID_IMAGE"
# Past what the parser asks for, a JPEG header still holds its DQT, SOF and DHT segments (about 1 KiB) and maybe
# more APPn segments: fetch this much more so that one extra GET is nearly always the last.
_EXTRA_SLACK = 16 * 1024


@dataclass(frozen=True)
class ProbeResult:
    key: str
    info: ImageInfo | None  # set when the image is usable
    code: str | None = None  # ImageRejected's API code, or "not_found", "access_denied", "read_failed"
    manifest_code: str | None = None  # ERROR_INVALID_IMAGE or ERROR_INVALID_IMAGE_DIMENSION
    message: str | None = None  # "s3://bucket/key: what is wrong"


class _Unreadable(Exception):
    """The object could not be read (as opposed to read and refused)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def probe_object(
    client: BaseClient, bucket: str, key: str, *, size: int | None = None, has_boxes: bool = False
) -> ProbeResult:
    """Probe one object with as few ranged GETs as its header needs (one for nearly every image).

    `size`: the object's size from the listing, if known; empty and oversized objects are then refused without
    any request. `has_boxes` picks the manifest code of a dimension error (ImageRejected.manifest_code_for).
    Returns a result for every answer of S3 and every image problem (unreadable objects get ERROR_INVALID_IMAGE);
    raises TRANSIENT_S3_ERRORS when S3 is out of reach, never a verdict. Thread-safe when `client` is (boto3
    clients are).
    """
    where = f"s3://{bucket}/{key}"
    try:
        info = _probe(client, bucket, key, size)
    except ImageRejected as exc:
        return ProbeResult(key, None, exc.code, exc.manifest_code_for(has_boxes=has_boxes), f"{where}: {exc.message}")
    except _Unreadable as exc:
        return ProbeResult(key, None, exc.code, INVALID_IMAGE, f"{where}: {exc.message}")
    return ProbeResult(key, info)


def probe_many(
    client: BaseClient,
    bucket: str,
    items: Iterable[tuple[str, int | None]],
    *,
    concurrency: int = 16,
    has_boxes: Callable[[str], bool] | None = None,
) -> Iterator[ProbeResult]:
    """Probe (key, size-or-None) items on `concurrency` threads; yield one result per item as each completes
    (in no particular order).

    `items` is consumed lazily: at most 2 * `concurrency` probes are queued or running at once, so memory stays
    bounded for any number of keys. An exception inside one probe (including from `has_boxes`, which is called
    on the worker threads and so must be thread-safe) becomes that item's `read_failed` result, but S3 out of
    reach (TRANSIENT_S3_ERRORS) propagates from the iterator. Closing the
    iterator early cancels the queued probes and waits for the running ones. Exceptions from iterating
    `items` propagate. Raises ValueError at once for a `concurrency` below 1.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    pool_size = client.meta.config.max_pool_connections
    if pool_size < concurrency:
        # Not fatal, but urllib3 then opens and drops a connection for each request beyond the pool.
        message = "probing with %d threads over %d pooled connections: build the client with s3_client_config(%d)"
        logger.warning(message, concurrency, pool_size, concurrency)
    return _probe_many(client, bucket, items, concurrency, has_boxes)


def _probe_many(
    client: BaseClient,
    bucket: str,
    items: Iterable[tuple[str, int | None]],
    concurrency: int,
    has_boxes: Callable[[str], bool] | None,
) -> Iterator[ProbeResult]:
    # Twice the threads: a full queue keeps every thread busy while the consumer handles the results.
    window = 2 * concurrency
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="s3-probe")
    pending: set[Future[ProbeResult]] = set()
    try:
        for key, size in items:
            if len(pending) >= window:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (future.result() for future in done)
            pending.add(pool.submit(_probe_guarded, client, bucket, key, size, has_boxes))
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            yield from (future.result() for future in done)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _probe_guarded(
    client: BaseClient, bucket: str, key: str, size: int | None, has_boxes: Callable[[str], bool] | None
) -> ProbeResult:
    try:
        return probe_object(client, bucket, key, size=size, has_boxes=bool(has_boxes and has_boxes(key)))
    except TRANSIENT_S3_ERRORS:
        raise
    except Exception as exc:
        # A bug, not a property of the object: logged with its traceback, and only this key fails.
        logger.exception("probing s3://%s/%s failed unexpectedly", bucket, key)
        return ProbeResult(key, None, "read_failed", INVALID_IMAGE, f"s3://{bucket}/{key}: unexpected error: {exc!r}")


def _probe(client: BaseClient, bucket: str, key: str, size: int | None) -> ImageInfo:
    if size is not None:
        # An empty prefix gives the whole file's answer or NeedMoreBytes (probe_header's contract): this refuses
        # empty and oversized objects on the listing's word alone.
        with suppress(NeedMoreBytes):
            probe_header(b"", byte_size=size)
    head, total, etag = _get_range(client, bucket, key, 0, HEAD_BYTES, etag=None)
    while True:
        try:
            return probe_header(head, byte_size=total)
        except NeedMoreBytes as exc:
            # probe_header refuses a header that would end past `total` (at most MAX_BYTES), so `want` grows
            # on every turn; the check only guards against a parser that asks for what it already has.
            want = min(total, MAX_BYTES, max(2 * len(head), _round_up(exc.min_bytes + _EXTRA_SLACK, HEAD_BYTES)))
            if want <= len(head):
                raise ImageRejected("corrupt_image", "the image header does not end within the file") from None
            more, _, _ = _get_range(client, bucket, key, len(head), want, etag=etag)
            head += more


def _get_range(
    client: BaseClient, bucket: str, key: str, start: int, end: int, *, etag: str | None
) -> tuple[bytes, int, str | None]:
    """Bytes [start, end) of the object (fewer at its end), its total size and ETag. Raises _Unreadable."""
    params: dict[str, Any] = {"Bucket": bucket, "Key": key, "Range": f"bytes={start}-{end - 1}"}
    if etag:
        params["IfMatch"] = etag
    try:
        response = client.get_object(**params)
        content_range = response.get("ContentRange")
        body = response["Body"]
        try:
            if content_range:
                expected = response["ContentLength"]
                data = body.read(expected)  # reading it all hands the connection back to the pool
                total = int(content_range.rpartition("/")[2])
            else:
                # A server that ignores Range sends the whole object: read only what was asked for; closing
                # the body then drops the connection instead of draining up to 15 MiB.
                total = response["ContentLength"]
                expected = min(total, end) - start
                data = body.read(min(total, end))[start:]
        finally:
            body.close()
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") == "InvalidRange" and start == 0:
            return b"", 0, None  # S3 answers 416 to any range of an empty object
        if is_outage(exc):  # a 5xx or throttling through botocore's retries says nothing about the image
            raise S3OutOfReach(f"S3 answered {error.get('Code') or exc}") from exc
        raise _unreadable(exc) from exc
    except TRANSIENT_S3_ERRORS:  # connection, timeout or streaming errors: S3 is out of reach, not the image bad
        raise
    except BotoCoreError as exc:
        raise _Unreadable("read_failed", f"could not read the object: {exc}") from exc
    if len(data) != expected:
        raise _Unreadable("read_failed", f"S3 sent {len(data)} bytes of {expected} for bytes {start}-{end - 1}")
    return data, total, response.get("ETag")


def _unreadable(exc: ClientError) -> _Unreadable:
    error = exc.response.get("Error", {})
    code = error.get("Code", "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    said = f"S3 answered {code or status}" + (f" ({error['Message']})" if error.get("Message") else "")
    if code in ("NoSuchKey", "NoSuchBucket", "NotFound") or status == 404:
        return _Unreadable("not_found", f"the object does not exist: {said}")
    if code == "AccessDenied" or status == 403:
        return _Unreadable("access_denied", f"reading the object is not allowed: {said}")
    if code == "PreconditionFailed":
        return _Unreadable("read_failed", "the object changed while it was being read")
    return _Unreadable("read_failed", f"could not read the object: {said}")


def _round_up(value: int, step: int) -> int:
    return -(-value // step) * step
