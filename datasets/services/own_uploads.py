"""Entries that name a file of the platform's storage: allowed only as the project's own uploads.

An exported manifest names uploaded images by where the platform stored them (`s3://<server bucket>/uploads/…`,
or `s3://groundwork-local/uploads/…` on local storage). Importing such a line again (into the same project)
must give an entry that shows the same stored image; naming another project's file must give nothing. The
test is ownership: some entry of the project stores that file (an upload, or a copy of one), and the new entry
takes over its stored names and facts. No file is read on the user's word.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser

from datasets.manifest import EntryDraft
from datasets.models import Image, Origin
from datasets.services.entries_bulk import BATCH_SIZE, entries_add_new

STORED_FIELDS = ("storage_name", "thumbnail_name", "width", "height", "format", "byte_size", "orientation")


@dataclass(frozen=True)
class StoredUpload:
    storage_name: str
    thumbnail_name: str
    width: int | None
    height: int | None
    format: str
    byte_size: int | None
    orientation: int


def own_uploads(*, project_id: int, names: Iterable[str]) -> dict[str, StoredUpload]:
    """The stored files among `names` that an entry of the project stores, by storage name (BATCH_SIZE names
    a query, on the partial index of storage names)."""
    names = sorted(set(names))
    found: dict[str, StoredUpload] = {}
    for start in range(0, len(names), BATCH_SIZE):
        rows = (
            Image.objects.filter(dataset__project_id=project_id, storage_name__in=names[start : start + BATCH_SIZE])
            .order_by("storage_name", "pk")
            .values_list(*STORED_FIELDS)
        )
        for row in rows:
            found.setdefault(row[0], StoredUpload(*row))
    return found


def entries_take_uploads(*, ids_by_ref: Mapping[str, int], uploads_by_ref: Mapping[str, StoredUpload]) -> None:
    """Give new entries the stored names and facts of the uploads their source-refs name."""
    entries = []
    for ref, pk in ids_by_ref.items():
        upload = uploads_by_ref.get(ref)
        if upload is not None:
            entries.append(Image(pk=pk, **{name: getattr(upload, name) for name in STORED_FIELDS}))
    Image.objects.bulk_update(entries, list(STORED_FIELDS), batch_size=500)


def entries_add_own_uploads(
    *,
    dataset_id: int,
    project_id: int,
    drafts: Sequence[tuple[EntryDraft, str]],
    origin: Origin,
    origin_id: int | None,
    user: AbstractBaseUser | None,
) -> tuple[list[int], list[str], list[str]]:
    """Add the (draft, storage name) pairs whose file the project owns, as entries_add_new does (the caller
    holds the dataset lock). Returns (ids created, refs the dataset had already, refs refused: the file is
    not one of the project's own)."""
    uploads = own_uploads(project_id=project_id, names=[name for _, name in drafts])
    owned = [draft for draft, name in drafts if name in uploads]
    refused = [draft.source_ref for draft, name in drafts if name not in uploads]
    created_ids, existing = entries_add_new(
        dataset_id=dataset_id, drafts=owned, origin=origin, origin_id=origin_id, user=user
    )
    name_of = {draft.source_ref: name for draft, name in drafts}
    ids_by_ref = dict(Image.objects.filter(pk__in=created_ids).values_list("source_ref", "pk"))
    entries_take_uploads(ids_by_ref=ids_by_ref, uploads_by_ref={ref: uploads[name_of[ref]] for ref in ids_by_ref})
    return created_ids, existing, refused
