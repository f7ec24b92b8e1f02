"""Adding images uploaded from a computer: checked by content, stored under generated names, thumbnailed."""

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import transaction

from core.storage import StorageFull
from datasets.image_checks import ImageInfo, ImageRejected, check_image_file, make_thumbnail
from datasets.manifest import EntryDraft
from datasets.models import Image, Origin
from datasets.services.datasets import ensure_not_busy, ensure_quota
from datasets.services.entries_bulk import entries_upsert
from datasets.services.stats import dataset_lock, dataset_refresh_stats
from datasets.validation import clean_label_names

logger = logging.getLogger(__name__)

# Where local-storage uploads claim to live in manifests: not a bucket anyone reads, but a stable key that
# exported manifests carry and UpdateDatasetEntries matches.
LOCAL_UPLOADS_BUCKET = "groundwork-local"
_EXTENSIONS = {"JPEG": "jpg", "PNG": "png"}


@dataclass(frozen=True)
class UploadedFileInput:
    name: str  # the client's file name: reported back, never used as a path
    file: IO[bytes]
    size: int


@dataclass(frozen=True)
class UploadError:
    file: str
    code: str
    message: str


@dataclass
class UploadResult:
    created_ids: list[int] = field(default_factory=list)
    errors: list[UploadError] = field(default_factory=list)


@dataclass(frozen=True)
class _Accepted:
    upload: UploadedFileInput
    info: ImageInfo
    thumbnail: bytes


def upload_source_ref(storage_name: str) -> str:
    bucket = settings.AWS_STORAGE_BUCKET_NAME if settings.STORAGE_BACKEND == "s3" else LOCAL_UPLOADS_BUCKET
    location = getattr(default_storage, "location", "") if settings.STORAGE_BACKEND == "s3" else ""
    return f"s3://{bucket}/{location.strip('/') + '/' if location else ''}{storage_name}"


def _check(upload: UploadedFileInput) -> _Accepted:
    info = check_image_file(upload.file, byte_size=upload.size)
    thumbnail = make_thumbnail(upload.file)
    upload.file.seek(0)
    return _Accepted(upload, info, thumbnail)


def _store(dataset_id: int, accepted: _Accepted) -> tuple[str, str]:
    """Store the image and its thumbnail, both or neither. Raises StorageFull."""
    stem = f"{dataset_id}/{uuid.uuid4().hex}"
    name = default_storage.save(f"uploads/{stem}.{_EXTENSIONS[accepted.info.format]}", File(accepted.upload.file))
    try:
        thumbnail = default_storage.save(f"thumbnails/{stem}.jpg", ContentFile(accepted.thumbnail))
    except BaseException:
        default_storage.delete(name)
        raise
    return name, thumbnail


def images_upload(
    *,
    dataset_id: int,
    files: Sequence[UploadedFileInput],
    labels: Sequence[str],
    user: AbstractBaseUser | None,
    refused: Sequence[tuple[str, str, str]] = (),
) -> UploadResult:
    """Check every file by its content, store the good ones under generated names with a thumbnail, and add
    them as entries (with `labels`, image-level). Returns the new entry ids and one error per refused file.

    `refused` are files the upload handler already cut off (name, code, message). Files are stored before the
    database transaction and deleted again if it fails, so nothing is half-written. Raises InvalidInput for
    bad labels, Conflict `dataset_quota_exceeded` / `dataset_busy` (then nothing is stored).
    """
    clean_labels = clean_label_names(labels)
    result = UploadResult(errors=[UploadError(*item) for item in refused])
    accepted = []
    for upload in files:
        try:
            accepted.append(_check(upload))
        except ImageRejected as rejected:
            result.errors.append(UploadError(upload.name, rejected.code, f"{upload.name}: {rejected.message}"))
    if not accepted:
        return result
    with transaction.atomic():  # checks first, so a refusal stores no file
        dataset = dataset_lock(dataset_id=dataset_id)
        ensure_not_busy(dataset)
        ensure_quota(dataset=dataset, new_entries=len(accepted))
    stored: list[str] = []
    try:
        facts = {}
        for item in accepted:
            try:
                name, thumbnail = _store(dataset_id, item)
            except StorageFull as full:  # the files that fit are stored, the others refused
                result.errors.append(UploadError(item.upload.name, full.code, f"{item.upload.name}: {full.message}"))
                continue
            stored += [name, thumbnail]
            facts[upload_source_ref(name)] = (item, name, thumbnail)
        if not facts:
            return result
        result.created_ids = _add_entries(dataset_id=dataset_id, facts=facts, labels=clean_labels, user=user)
    except BaseException:
        for name in stored:
            default_storage.delete(name)
        raise
    return result


@transaction.atomic
def _add_entries(*, dataset_id: int, facts: dict, labels: list[str], user: AbstractBaseUser | None) -> list[int]:
    dataset = dataset_lock(dataset_id=dataset_id)
    ensure_quota(dataset=dataset, new_entries=len(facts))  # again, under the lock that the write holds
    drafts = [
        EntryDraft(ref, list(labels), [], image_width=item.info.width, image_height=item.info.height)
        for ref, (item, _, _) in facts.items()
    ]
    written = entries_upsert(dataset_id=dataset_id, drafts=drafts, origin=Origin.UPLOAD, user=user, all_new=True)
    entries = Image.objects.filter(dataset_id=dataset_id, pk__in=written.created_ids).only("pk", "source_ref")
    for entry in entries:
        item, name, thumbnail = facts[entry.source_ref]
        entry.storage_name, entry.thumbnail_name = name, thumbnail
        entry.format, entry.byte_size, entry.orientation = item.info.format, item.upload.size, item.info.orientation
    Image.objects.bulk_update(
        entries, ["storage_name", "thumbnail_name", "format", "byte_size", "orientation"], batch_size=500
    )
    dataset_refresh_stats(dataset_id=dataset_id)
    return written.created_ids
