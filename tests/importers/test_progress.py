"""An import's progress by phase: bytes of a manifest, images probed, a listing without a total."""

import pytest

from importers.models import ImportJob, ImportKind, ImportStatus
from importers.progress import import_progress


def job(kind, status=ImportStatus.RUNNING, checkpoint=None, params=None, **counts):
    return ImportJob(kind=kind, status=status, checkpoint=checkpoint or {}, params=params or {}, **counts)


def test_a_queued_import_waits_for_a_worker():
    assert import_progress(job(ImportKind.MANIFEST, ImportStatus.QUEUED)).as_dict() == {
        "phase": "queued",
        "done": None,
        "total": None,
        "fraction": None,
    }


def test_a_manifest_is_read_by_bytes_of_its_size_then_its_images_are_probed():
    reading = import_progress(job(ImportKind.MANIFEST, checkpoint={"offset": 250}, params={"size": 1000}))
    assert (reading.phase, reading.done, reading.total, reading.fraction) == ("reading", 250, 1000, 0.25)
    size_unknown = import_progress(job(ImportKind.MANIFEST, checkpoint={"offset": 250}))
    assert (size_unknown.phase, size_unknown.fraction) == ("reading", None)
    probing = import_progress(
        job(ImportKind.MANIFEST, checkpoint={"offset": 1000, "probed": 300}, params={"size": 1000}, imported=1200)
    )
    assert (probing.phase, probing.done, probing.total, probing.fraction) == ("probing", 300, 1200, 0.25)


def test_an_s3_listing_has_no_total_and_its_probing_has_one():
    listing = import_progress(job(ImportKind.S3_FOLDER, checkpoint={"continuation_token": "x"}, seen=5000))
    assert (listing.phase, listing.done, listing.fraction) == ("listing", 5000, None)
    probing = import_progress(job(ImportKind.S3_FOLDER, checkpoint={"listing_done": True, "probed": 500}, imported=500))
    assert (probing.phase, probing.fraction) == ("probing", 1.0)
    nothing_to_probe = import_progress(job(ImportKind.S3_FOLDER, checkpoint={"listing_done": True}, imported=0))
    assert nothing_to_probe.fraction == 1.0


@pytest.mark.parametrize("status", [ImportStatus.SUCCEEDED, ImportStatus.FAILED, ImportStatus.CANCELED])
def test_a_finished_import_has_no_phase_left(status):
    assert import_progress(job(ImportKind.MANIFEST, status, checkpoint={"offset": 5})).phase == "finished"


def test_a_copy_has_one_phase_without_totals():
    copying = import_progress(job(ImportKind.COPY, checkpoint={"step": 1}))
    assert (copying.phase, copying.fraction) == ("copying", None)
