"""The botocore client settings every S3 client of the platform uses, and what counts as S3 out of reach (pure)."""

from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError, IncompleteReadError
from botocore.exceptions import ConnectionError as BotoConnectionError


class S3OutOfReach(Exception):
    """S3 answered with an outage (5xx, throttling) through botocore's retries: no verdict on the object."""


# S3 out of reach after botocore's own retries: connection refused or reset, connect and read timeouts, a body
# cut short, or S3OutOfReach. Worth running the job again later; it resumes at its checkpoint. Any other
# ClientError (AccessDenied, NoSuchBucket, ...) is an answer, not an outage.
TRANSIENT_S3_ERRORS = (BotoConnectionError, HTTPClientError, IncompleteReadError, S3OutOfReach)

_OUTAGE_CODES = {
    "InternalError", "ServiceUnavailable", "SlowDown", "Throttling", "ThrottlingException", "RequestTimeout",
    "RequestLimitExceeded", "TooManyRequestsException", "RequestThrottled", "BandwidthLimitExceeded",
}  # fmt: skip


def is_outage(error: ClientError) -> bool:
    """A 5xx or a throttling answer: S3 said nothing about the object."""
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    return status >= 500 or status == 429 or error.response.get("Error", {}).get("Code", "") in _OUTAGE_CODES


def s3_client_config(max_pool_connections: int) -> Config:
    """Client settings: a connection pool as large as the thread pool (botocore's default of 10
    would open and drop a connection per request beyond it), SigV4, path-style addressing (S3-compatible
    servers), standard retries (throttling, 5xx and connection errors, with backoff; 3 retries), and timeouts
    that fail a dead connection in seconds rather than hang a worker thread."""
    if max_pool_connections < 1:
        raise ValueError("max_pool_connections must be at least 1")
    return Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        retries={"mode": "standard", "max_attempts": 4},
        connect_timeout=5,
        read_timeout=20,
        max_pool_connections=max_pool_connections,
        # A ranged GET carries no checksum of its bytes; checking the whole object's one is impossible anyway.
        response_checksum_validation="when_required",
    )
