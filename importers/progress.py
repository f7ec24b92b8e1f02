"""How far an import is, for progress bars and time-left estimates (pure: reads the job's fields only).

An import goes through phases. A manifest is read (progress: bytes read of the file's size), an S3 folder is
listed (S3 does not say how many objects a prefix holds, so the listing has no total), then the images it
registered are probed (progress: images probed of those registered). A copy has a single phase without totals.
"""

from dataclasses import asdict, dataclass

from importers.models import FINISHED_STATUSES, ImportJob, ImportKind, ImportStatus


@dataclass(frozen=True)
class Progress:
    phase: str  # queued, reading, listing, probing, copying, finished
    done: int | None
    total: int | None

    @property
    def fraction(self) -> float | None:
        """Of the current phase; None when its total is unknown."""
        if self.total is None or self.done is None:
            return None
        return 1.0 if self.total == 0 else min(1.0, self.done / self.total)

    def as_dict(self) -> dict:
        return {**asdict(self), "fraction": self.fraction}


def import_progress(job: ImportJob) -> Progress:
    checkpoint = job.checkpoint or {}
    if job.status in FINISHED_STATUSES:
        return Progress("finished", None, None)
    if job.status == ImportStatus.QUEUED and not checkpoint:
        return Progress("queued", None, None)
    probing = Progress("probing", checkpoint.get("probed", 0), job.imported)
    if job.kind == ImportKind.MANIFEST:
        size = job.params.get("size")
        offset = checkpoint.get("offset", 0)
        if size is None or offset < size:
            return Progress("reading", offset, size)
        return probing
    if job.kind == ImportKind.S3_FOLDER:
        return probing if checkpoint.get("listing_done") else Progress("listing", job.seen, None)
    return Progress("copying", None, None)
