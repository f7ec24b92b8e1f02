"""UpdateDatasetEntries: add or replace entries from manifest lines sent with a request."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from core.errors import InvalidInput
from core.text import printable
from datasets.manifest import EntryDraft, LineRejected, parse_line
from datasets.models import Image, Origin
from datasets.services.datasets import ensure_not_busy, ensure_quota
from datasets.services.entries_bulk import BATCH_SIZE, entries_upsert
from datasets.services.own_uploads import StoredUpload, entries_take_uploads, own_uploads
from datasets.services.stats import dataset_lock, dataset_refresh_stats
from projects.s3 import RefKind, SourceRefRule

ERROR_DUPLICATE_SOURCE_REF = "ERROR_DUPLICATE_SOURCE_REF"


@dataclass(frozen=True)
class LineError:
    line: int
    code: str
    message: str
    rejected: bool  # True: the line was not stored; False: stored with this part dropped
    source_ref: str = ""

    def __post_init__(self) -> None:
        # The answer is rendered after the transaction committed: a message quoting a NUL or lone surrogate of
        # the line must not fail then (a 500 for a request whose other lines were stored).
        object.__setattr__(self, "message", printable(self.message))


@dataclass
class EntriesUpdateResult:
    created: int = 0
    updated: int = 0
    errors: list[LineError] = field(default_factory=list)


def parse_lines(lines: Iterable[bytes | str]) -> tuple[list[tuple[int, EntryDraft]], list[LineError]]:
    """Parse numbered manifest lines (1-based) into (line number, draft); blank lines are skipped, a repeated
    source-ref keeps the first."""
    drafts: dict[str, tuple[int, EntryDraft]] = {}
    errors: list[LineError] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            draft = parse_line(line, line_number=number)
        except LineRejected as rejected:
            errors.append(LineError(number, rejected.code, rejected.message, rejected=True))
            continue
        if draft.source_ref in drafts:
            first = drafts[draft.source_ref][0]
            errors.append(
                LineError(
                    number,
                    ERROR_DUPLICATE_SOURCE_REF,
                    f"line {number}: {draft.source_ref} repeats line {first}; the first is kept",
                    rejected=True,
                    source_ref=draft.source_ref,
                )
            )
            continue
        drafts[draft.source_ref] = (number, draft)
        errors += [
            LineError(
                number, error.code, f"line {number}: {error.message}", rejected=False, source_ref=draft.source_ref
            )
            for error in draft.errors
        ]
    return list(drafts.values()), errors


@transaction.atomic
def entries_update_from_manifest(
    *, dataset_id: int, lines: Iterable[bytes | str], user: AbstractBaseUser | None
) -> EntriesUpdateResult:
    """Add the lines whose source-ref is new to the dataset and replace the entries whose source-ref exists.

    Bad lines are reported with their line numbers and the rest is stored, all in one transaction. The
    bucket rule (projects.s3) judges every source-ref: a new entry read through a storage connection of the
    project gets it; one naming a platform file takes over the project's own upload; a bucket the platform
    cannot read is stored as a reference it never reads. Raises InvalidInput `bucket_not_allowed` for a line
    in the server's bucket outside the project's folders or naming another project's file, Conflict
    `dataset_busy` or `dataset_quota_exceeded` (in each case nothing is stored).
    """
    dataset = dataset_lock(dataset_id=dataset_id)
    ensure_not_busy(dataset)
    numbered, errors = parse_lines(lines)
    drafts = [draft for _, draft in numbered]
    result = EntriesUpdateResult(errors=errors)
    refs = [draft.source_ref for draft in drafts]
    existing = set()
    for start in range(0, len(refs), BATCH_SIZE):
        batch = refs[start : start + BATCH_SIZE]
        existing.update(
            Image.objects.filter(dataset_id=dataset_id, source_ref__in=batch).values_list("source_ref", flat=True)
        )
    connection_of, uploads_by_ref = _judge_refs(
        project_id=dataset.project_id, numbered=numbered, new_refs=set(refs) - existing
    )
    ensure_quota(
        dataset=dataset, new_entries=len(set(refs) - existing), adding_boxes=any(draft.boxes for draft in drafts)
    )
    for start in range(0, len(drafts), BATCH_SIZE):
        written = entries_upsert(
            dataset_id=dataset_id, drafts=drafts[start : start + BATCH_SIZE], origin=Origin.USER, user=user
        )
        result.created += written.created
        result.updated += written.updated
        _attach_to_new_entries(written.created_ids, connection_of, uploads_by_ref)
    dataset_refresh_stats(dataset_id=dataset_id)
    return result


def _judge_refs(
    *, project_id: int, numbered: list[tuple[int, EntryDraft]], new_refs: set[str]
) -> tuple[dict[str, int], dict[str, StoredUpload]]:
    """The bucket rule on every line: (connection id of each new ref read through one, the own upload each new
    ref naming a platform file takes over). Raises InvalidInput `bucket_not_allowed` naming the lines."""
    rule = SourceRefRule.with_all_connections(project_id=project_id)
    refused: list[tuple[int, str]] = []
    connection_of: dict[str, int] = {}
    platform_files: dict[str, tuple[int, str]] = {}  # ref: (line, storage name)
    for number, draft in numbered:
        verdict = rule.judge(draft.source_ref)
        if verdict.kind is RefKind.FORBIDDEN:
            refused.append((number, verdict.problem))
        elif verdict.kind is RefKind.PLATFORM_FILE and draft.source_ref in new_refs:
            platform_files[draft.source_ref] = (number, verdict.storage_name)
        elif verdict.kind is RefKind.READABLE and verdict.access.connection is not None:
            connection_of[draft.source_ref] = verdict.access.connection.pk
    uploads = own_uploads(project_id=project_id, names=[name for _, name in platform_files.values()])
    refused += [
        (number, f"{ref} is a file of another project")
        for ref, (number, name) in platform_files.items()
        if name not in uploads
    ]
    if refused:
        refused.sort()
        more = f" (and {len(refused) - 3} more)" if len(refused) > 3 else ""
        raise InvalidInput(
            f"{len(refused)} line(s) name images this project may not read; nothing was stored: "
            + "; ".join(f"line {number}: {problem}" for number, problem in refused[:3])
            + more,
            code="bucket_not_allowed",
            fields={"source-ref": f"line {refused[0][0]}: not readable by this project."},
        )
    return connection_of, {ref: uploads[name] for ref, (_, name) in platform_files.items()}


def _attach_to_new_entries(
    created_ids: list[int], connection_of: dict[str, int], uploads_by_ref: dict[str, StoredUpload]
) -> None:
    if not created_ids or not (connection_of or uploads_by_ref):
        return
    ids_by_ref = dict(Image.objects.filter(pk__in=created_ids).values_list("source_ref", "pk"))
    entries_take_uploads(ids_by_ref=ids_by_ref, uploads_by_ref=uploads_by_ref)
    by_connection: dict[int, list[int]] = {}
    for ref, connection_id in connection_of.items():
        if ref in ids_by_ref:
            by_connection.setdefault(connection_id, []).append(ids_by_ref[ref])
    for connection_id, ids in by_connection.items():
        Image.objects.filter(pk__in=ids).update(connection_id=connection_id)
