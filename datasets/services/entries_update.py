"""UpdateDatasetEntries: add or replace entries from manifest lines sent with a request."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from datasets.manifest import EntryDraft, LineRejected, parse_line
from datasets.models import Image, Origin
from datasets.services.datasets import ensure_not_busy, ensure_quota
from datasets.services.entries_bulk import BATCH_SIZE, entries_upsert
from datasets.services.stats import dataset_lock, dataset_refresh_stats

ERROR_DUPLICATE_SOURCE_REF = "ERROR_DUPLICATE_SOURCE_REF"


@dataclass(frozen=True)
class LineError:
    line: int
    code: str
    message: str
    rejected: bool  # True: the line was not stored; False: stored with this part dropped
    source_ref: str = ""


@dataclass
class EntriesUpdateResult:
    created: int = 0
    updated: int = 0
    errors: list[LineError] = field(default_factory=list)


def parse_lines(lines: Iterable[bytes | str]) -> tuple[list[EntryDraft], list[LineError]]:
    """Parse numbered manifest lines (1-based); blank lines are skipped, a repeated source-ref keeps the first."""
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
    return [draft for _, draft in drafts.values()], errors


@transaction.atomic
def entries_update_from_manifest(
    *, dataset_id: int, lines: Iterable[bytes | str], user: AbstractBaseUser | None
) -> EntriesUpdateResult:
    """Add the lines whose source-ref is new to the dataset and replace the entries whose source-ref exists.

    Bad lines are reported with their line numbers and the rest is stored, all in one transaction. Raises
    Conflict `dataset_busy` or `dataset_quota_exceeded` (then nothing is stored).
    """
    dataset = dataset_lock(dataset_id=dataset_id)
    ensure_not_busy(dataset)
    drafts, errors = parse_lines(lines)
    result = EntriesUpdateResult(errors=errors)
    refs = [draft.source_ref for draft in drafts]
    existing = set()
    for start in range(0, len(refs), BATCH_SIZE):
        batch = refs[start : start + BATCH_SIZE]
        existing.update(
            Image.objects.filter(dataset_id=dataset_id, source_ref__in=batch).values_list("source_ref", flat=True)
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
    dataset_refresh_stats(dataset_id=dataset_id)
    return result
