"""Which S3 bucket may be read, with which credentials.

The server's default bucket is read with the server's credentials; any other bucket only through a storage
connection that an owner of the same project registered (and only under its prefix). The endpoint is always
the server's (AWS_S3_ENDPOINT_URL): users name buckets and keys, never hosts, so a request cannot be turned
against an internal address.
"""

import threading
from dataclasses import dataclass

import boto3
from botocore.client import BaseClient
from django.conf import settings

from core.errors import InvalidInput
from core.s3_clients import s3_client_config
from projects.credentials import decrypt_secret
from projects.models import StorageConnection

_clients: dict[tuple, BaseClient] = {}
_clients_lock = threading.Lock()


def s3_client(*, connection: StorageConnection | None = None, max_pool_connections: int = 10) -> BaseClient:
    """A client with the server's credentials, or the connection's. Clients are cached per process (building
    one costs tens of milliseconds) and are thread-safe."""
    key = (
        settings.AWS_S3_ENDPOINT_URL,
        settings.AWS_DEFAULT_REGION,
        max_pool_connections,
        connection.pk if connection else None,
        connection.updated_at if connection else None,
    )
    with _clients_lock:
        if key not in _clients:
            credentials = {}
            if connection is not None:
                credentials = {
                    "aws_access_key_id": connection.access_key_id,
                    "aws_secret_access_key": decrypt_secret(connection.secret_access_key_encrypted),
                }
            _clients[key] = boto3.client(
                "s3",
                endpoint_url=settings.AWS_S3_ENDPOINT_URL,
                region_name=(connection.region if connection and connection.region else settings.AWS_DEFAULT_REGION),
                config=s3_client_config(max_pool_connections),
                **credentials,
            )
        return _clients[key]


@dataclass(frozen=True)
class BucketAccess:
    bucket: str
    connection: StorageConnection | None

    def client(self, *, max_pool_connections: int = 10) -> BaseClient:
        return s3_client(connection=self.connection, max_pool_connections=max_pool_connections)


def _under(key_prefix: str, folder: str) -> bool:
    # A prefix means a folder: "photos" reaches "photos/..." but not "photos-old/...".
    folder = folder.lstrip("/")
    return key_prefix == folder or key_prefix.startswith(folder if folder.endswith("/") else folder + "/")


def _not_allowed(message: str) -> InvalidInput:
    return InvalidInput(message, code="bucket_not_allowed", fields={"source.s3_uri": "Bucket not allowed."})


def bucket_access(
    *, project_id: int, bucket: str, key_prefix: str = "", connection_id: int | None = None
) -> BucketAccess:
    """How the project may read `bucket` under `key_prefix`. Raises InvalidInput `bucket_not_allowed` or
    `connection_not_found`."""
    if connection_id is not None:
        connection = StorageConnection.objects.filter(project_id=project_id, pk=connection_id).first()
        if connection is None:
            raise InvalidInput(
                f"The project has no storage connection {connection_id}.",
                code="connection_not_found",
                fields={"source.connection": "Unknown connection."},
            )
        if connection.bucket != bucket:
            raise _not_allowed(f"Connection {connection.name!r} is for bucket {connection.bucket!r}, not {bucket!r}.")
        if connection.prefix and not _under(key_prefix, connection.prefix):
            raise _not_allowed(f"Connection {connection.name!r} reaches only keys under {connection.prefix!r}.")
        return BucketAccess(bucket=bucket, connection=connection)
    if settings.AWS_STORAGE_BUCKET_NAME and bucket == settings.AWS_STORAGE_BUCKET_NAME:
        return BucketAccess(bucket=bucket, connection=None)
    raise _not_allowed(
        f"Bucket {bucket!r} is neither the server's bucket nor reached through a storage connection of this project."
    )
