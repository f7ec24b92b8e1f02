"""Short-lived URLs for showing entries' images in a browser.

The entry list already checked that the caller may read the dataset, so its URLs carry that permission for
a few minutes: files in the platform's storage (uploads, thumbnails) get a signed URL served by `signed_file`
or a presigned S3 GET; any other image gets a presigned GET only if the bucket rule (projects.s3) lets the
entry's project read it now: in the server's bucket under the project's own folders, in another bucket
through the entry's storage connection of the same project. The rule is judged again at every signing, so a
row stored before a rule changed is never served. Any other image gets no URL.
"""

from django.conf import settings
from django.core import signing
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest
from django.urls import reverse

from datasets.models import Image
from projects.s3 import readable_access

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


def entry_image_url(entry: Image, *, project_id: int) -> str | None:
    """A short-lived URL of the entry's image for a member of `project_id` (the entry's project), or None."""
    if entry.storage_name:
        return stored_file_url(entry.storage_name)
    connection = entry.connection if entry.connection_id else None
    access = readable_access(project_id=project_id, source_ref=entry.source_ref, connection=connection)
    if access is None:
        return None
    _, key = split_s3_ref(entry.source_ref)
    return access.client().generate_presigned_url(
        "get_object", Params={"Bucket": access.bucket, "Key": key}, ExpiresIn=url_lifetime_s()
    )


def entry_thumbnail_url(entry: Image, *, project_id: int) -> str | None:
    if entry.thumbnail_name:
        return stored_file_url(entry.thumbnail_name)
    return entry_image_url(entry, project_id=project_id)


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
