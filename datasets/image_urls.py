"""Short-lived URLs for showing entries' images in a browser.

The entry list already checked that the caller may read the dataset, so its URLs carry that permission for
a few minutes: files in the platform's local storage get a signed URL served by `signed_file`, files in S3
storage and images in the server's default bucket get a presigned S3 GET, images imported through a storage
connection a GET presigned with that connection's credentials. Any other image gets no URL: the server's
credentials never sign a bucket the project was not allowed to import from.
"""

from django.conf import settings
from django.core import signing
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest
from django.urls import reverse

from datasets.models import Image
from projects.s3 import s3_client

_SALT = "groundwork.signed-file"


def url_lifetime_s() -> int:
    return settings.AWS_QUERYSTRING_EXPIRE


def split_s3_ref(source_ref: str) -> tuple[str, str] | None:
    if not source_ref.startswith("s3://"):
        return None
    bucket, _, key = source_ref[5:].partition("/")
    return (bucket, key) if bucket and key else None


def stored_file_url(name: str) -> str:
    """URL of a file in the platform's storage (uploads, thumbnails)."""
    if settings.STORAGE_BACKEND == "s3":
        return default_storage.url(name)  # presigned by django-storages
    return reverse("signed-file", kwargs={"token": signing.dumps(name, salt=_SALT, compress=True)})


def entry_image_url(entry: Image) -> str | None:
    if entry.storage_name:
        return stored_file_url(entry.storage_name)
    location = split_s3_ref(entry.source_ref)
    if location is None:
        return None
    bucket, key = location
    connection = entry.connection if entry.connection_id else None
    if connection is not None and connection.bucket != bucket:
        return None
    if connection is None and bucket != settings.AWS_STORAGE_BUCKET_NAME:
        return None
    return s3_client(connection=connection).generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=url_lifetime_s()
    )


def entry_thumbnail_url(entry: Image) -> str | None:
    if entry.thumbnail_name:
        return stored_file_url(entry.thumbnail_name)
    return entry_image_url(entry)


def signed_file(request: HttpRequest, token: str) -> FileResponse:
    """Serve a file of the local storage named by a signed, unexpired token (no other path is reachable)."""
    try:
        name = signing.loads(token, salt=_SALT, max_age=url_lifetime_s())
    except signing.BadSignature:
        raise Http404("Unknown or expired file link.") from None
    if not isinstance(name, str) or not default_storage.exists(name):
        raise Http404("No such file.")
    response = FileResponse(default_storage.open(name, "rb"))
    response["Cache-Control"] = f"private, max-age={url_lifetime_s()}"
    response["X-Content-Type-Options"] = "nosniff"
    return response
