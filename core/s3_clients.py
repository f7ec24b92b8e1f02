"""The botocore client settings every S3 client of the platform uses (pure)."""

from botocore.config import Config


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
