"""The bucket rule: which S3 objects a project may read, with which credentials. One rule for every entry point
(import creation, every manifest line, every entry change, every listed key, every image URL signed).

- The server's bucket (AWS_STORAGE_BUCKET_NAME) is the platform's storage, not a shared drop box. Its own
  folders (uploads, thumbnails, uploaded manifests: core.storage_layout) are never read on a user's word: a
  source-ref there names a platform file, usable only as one of the project's own uploads (the caller checks
  that an entry of the project stores it). Outside them a project reads, with the server's credentials, only
  its drop folder `<SERVER_BUCKET_PROJECT_PREFIX><project id>/` and the shared prefixes.
- Any other bucket is read only through a storage connection of the same project, under its prefix; never the
  server's bucket, whatever credentials a connection holds.
- Keys are compared exactly as stored; keys with "." / ".." / empty segments or backslashes are never read.

The endpoint is always the server's (AWS_S3_ENDPOINT_URL): users name buckets and keys, never hosts, so a
request cannot be turned against an internal address.
"""

import enum
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import boto3
from botocore.client import BaseClient
from django.conf import settings

from core.errors import InvalidInput
from core.s3_clients import s3_client_config
from core.s3_names import key_segment_problem
from core.storage_layout import LOCAL_UPLOADS_BUCKET, PLATFORM_FOLDERS, BucketLayout, bucket_layout
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


@lru_cache(maxsize=8)
def _layout(location: str, project_prefix: str, shared: tuple[str, ...]) -> BucketLayout:
    return bucket_layout(location=location, project_prefix=project_prefix, shared=list(shared))


def server_layout() -> BucketLayout:
    """The server bucket's layout from the settings (validated when the settings load)."""
    return _layout(
        settings.AWS_LOCATION, settings.SERVER_BUCKET_PROJECT_PREFIX, tuple(settings.SERVER_BUCKET_SHARED_PREFIXES)
    )


def is_server_bucket(bucket: str) -> bool:
    server = settings.AWS_STORAGE_BUCKET_NAME
    return bool(server) and bucket.lower() == server.lower()


def drop_folder_uri(project_id: int) -> str | None:
    """The `s3://` folder where the project's own files go in the server's bucket (None without one)."""
    if not settings.AWS_STORAGE_BUCKET_NAME:
        return None
    return f"s3://{settings.AWS_STORAGE_BUCKET_NAME}/{server_layout().drop_folder(project_id)}"


def _under(key_prefix: str, folder: str) -> bool:
    # A prefix means a folder: "photos" reaches "photos/..." but not "photos-old/...".
    folder = folder.lstrip("/")
    return key_prefix == folder or key_prefix.startswith(folder if folder.endswith("/") else folder + "/")


def _not_allowed(message: str, field: str = "source.s3_uri") -> InvalidInput:
    return InvalidInput(message, code="bucket_not_allowed", fields={field: "Bucket not allowed."})


def _outside_drop_folder(project_id: int, bucket: str, key: str) -> str:
    shared = ", ".join(f"s3://{bucket}/{folder}" for folder in server_layout().shared)
    return (
        f"s3://{bucket}/{key} is not readable by this project: in the server's bucket it reads only its drop folder "
        f"s3://{bucket}/{server_layout().drop_folder(project_id)}"
        + (f" and the shared folders {shared}" if shared else "")
    )


def bucket_access(
    *, project_id: int, bucket: str, key_prefix: str = "", connection_id: int | None = None, folder: bool = True
) -> BucketAccess:
    """How the project may read `bucket` under `key_prefix` (a folder to list, or with `folder=False` one
    object, such as a manifest). Raises InvalidInput `bucket_not_allowed` or `connection_not_found`."""
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
        if is_server_bucket(bucket):
            raise _not_allowed(f"The server's bucket {bucket!r} is never read through a storage connection.")
        if connection.prefix and not _under(key_prefix, connection.prefix):
            raise _not_allowed(f"Connection {connection.name!r} reaches only keys under {connection.prefix!r}.")
        return BucketAccess(bucket=bucket, connection=connection)
    if is_server_bucket(bucket):
        layout = server_layout()
        readable = (
            layout.readable_folder(project_id=project_id, prefix=key_prefix)
            if folder
            else layout.readable(project_id=project_id, key=key_prefix)
        )
        if not readable or key_segment_problem(key_prefix, folder=folder):
            raise _not_allowed(_outside_drop_folder(project_id, bucket, key_prefix) + ".")
        return BucketAccess(bucket=settings.AWS_STORAGE_BUCKET_NAME, connection=None)
    raise _not_allowed(
        f"Bucket {bucket!r} is neither the server's bucket nor reached through a storage connection of this project."
    )


class RefKind(enum.Enum):
    READABLE = "readable"  # read with `access`
    PLATFORM_FILE = "platform_file"  # a file of the platform's storage: usable only as the project's own upload
    FOREIGN = "foreign"  # a bucket the platform has no way to read (no connection): never read, never signed
    FORBIDDEN = "forbidden"  # the server's bucket outside the project's folders, or a key that is never read


@dataclass(frozen=True)
class RefVerdict:
    kind: RefKind
    access: BucketAccess | None = None
    storage_name: str | None = None
    problem: str | None = None


class SourceRefRule:
    """The bucket rule of one project, for judging many source-refs (its connections are loaded once).

    `connections`: the storage connections a ref may be read through (only the project's own count).
    """

    def __init__(self, *, project_id: int, connections: Iterable[StorageConnection] = ()) -> None:
        self.project_id = project_id
        self.layout = server_layout()
        self.connections = [c for c in connections if c.project_id == project_id and not is_server_bucket(c.bucket)]

    @classmethod
    def with_all_connections(cls, *, project_id: int) -> "SourceRefRule":
        return cls(project_id=project_id, connections=StorageConnection.objects.filter(project_id=project_id))

    def judge(self, source_ref: str) -> RefVerdict:
        bucket, _, key = source_ref.removeprefix("s3://").partition("/")
        if not source_ref.startswith("s3://") or not bucket or not key:
            return RefVerdict(RefKind.FORBIDDEN, problem=f"{source_ref!r} is not an s3://bucket/key URI")
        problem = key_segment_problem(key)
        if problem:
            return RefVerdict(RefKind.FORBIDDEN, problem=f"{source_ref} {problem}")
        if bucket == LOCAL_UPLOADS_BUCKET:
            if key.startswith(PLATFORM_FOLDERS):
                return RefVerdict(RefKind.PLATFORM_FILE, storage_name=key)
            return RefVerdict(RefKind.FORBIDDEN, problem=f"{source_ref} names no file of this platform")
        if is_server_bucket(bucket):
            name = self.layout.storage_name(key)
            if name is not None:
                return RefVerdict(RefKind.PLATFORM_FILE, storage_name=name)
            if self.layout.readable(project_id=self.project_id, key=key):
                return RefVerdict(
                    RefKind.READABLE, access=BucketAccess(bucket=settings.AWS_STORAGE_BUCKET_NAME, connection=None)
                )
            return RefVerdict(RefKind.FORBIDDEN, problem=_outside_drop_folder(self.project_id, bucket, key))
        for connection in self.connections:
            if connection.bucket == bucket and (not connection.prefix or _under(key, connection.prefix)):
                return RefVerdict(RefKind.READABLE, access=BucketAccess(bucket=bucket, connection=connection))
        return RefVerdict(
            RefKind.FOREIGN,
            problem=f"the bucket {bucket!r} is not readable here (neither the server's nor a storage connection's)",
        )


def readable_access(*, project_id: int, source_ref: str, connection: StorageConnection | None) -> BucketAccess | None:
    """How an entry of the project with this source-ref (read through `connection`, if any) may be read now,
    or None. Judged again each time an image URL is signed, so a row stored before a rule changed (or broken
    by hand) is never served."""
    rule = SourceRefRule(project_id=project_id, connections=(connection,) if connection is not None else ())
    verdict = rule.judge(source_ref)
    return verdict.access if verdict.kind is RefKind.READABLE else None
