"""The job dashboard in a real browser (needs the review API of `labeling-review`): worker statistics, the
output manifest download, and the review queue: a tie is settled by picking an answer and accepting
it, another is sent back to the workers."""

import json
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from datasets.models import ImageLabel
from labeling.models import Task, TaskStatus
from tests.fixtures.browser import log_in, screenshot
from tests.frontend.test_workbench_browser import lab  # noqa: F401  (the fixture)
from tests.labeling.factories import answer_all

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def worker(username):
    return get_user_model().objects.get(username=username)


def test_the_manager_sees_worker_statistics_and_downloads_the_output_manifest(page, lab):  # noqa: F811
    _, _, job, ids = lab
    for name in ("ann", "bob"):
        answer_all(job, [worker(name)], [{"labels": ["cat"]}])
    log_in(page, "mia")
    page.goto(f"/jobs/{job.pk}/")
    page.locator("#job-status").get_by_text("Completed").wait_for()
    page.locator("#workers-body tr").nth(1).wait_for()
    rows = page.locator("#workers-body tr").all_inner_texts()
    assert [row.split("\t")[:2] for row in rows] == [["ann", str(len(ids))], ["bob", str(len(ids))]]
    assert all(row.split("\t")[3] == "100 %" for row in rows), "both agree with every result"
    screenshot(page, "dashboard-workers")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download output manifest").click()
    text = Path(download_info.value.path()).read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines() if line]
    assert len(lines) == len(ids)
    assert {line["animal"] for line in lines} == {0}, "class 0 is cat, the first label"
    assert all(line["animal-metadata"]["class-name"] == "cat" for line in lines)
    assert page.console_errors == [], page.console_errors


def test_a_reviewer_settles_one_tie_and_sends_another_back(page, lab):  # noqa: F811
    _, _, job, ids = lab
    answer_all(job, [worker("ann")], [{"labels": ["cat"]}])
    answer_all(job, [worker("bob")], [{"labels": ["dog"]}])
    assert Task.objects.filter(job=job, status=TaskStatus.REVIEW).count() == len(ids)

    log_in(page, "mia")
    page.goto(f"/jobs/{job.pk}/")
    cards = page.locator("#review-list .review-card")
    cards.nth(len(ids) - 1).wait_for()
    assert page.locator("#stat-review").inner_text() == str(len(ids))
    screenshot(page, "dashboard-review")

    first_id, second_id = (int(cards.nth(i).get_attribute("data-task-id")) for i in (0, 1))
    first = page.locator(f"#review-list [data-task-id='{first_id}']")
    second = page.locator(f"#review-list [data-task-id='{second_id}']")
    first.get_by_role("button", name="Accept the picked answer").click()
    page.get_by_text("Pick one of the answers first.").wait_for()
    first.get_by_label("bob: dog").check()
    first.get_by_role("button", name="Accept the picked answer").click()
    first.wait_for(state="detached")
    second.get_by_role("button", name="back to the workers").click()
    second.wait_for(state="detached")
    page.locator("#stat-review").get_by_text(str(len(ids) - 2)).wait_for()
    screenshot(page, "dashboard-review-after")

    accepted = Task.objects.get(pk=first_id)
    assert accepted.status == TaskStatus.ACCEPTED
    labels = set(ImageLabel.objects.filter(image_id=accepted.image_id).values_list("label__name", flat=True))
    assert labels == {"dog"}, "the picked answer is written to the entry"
    assert Task.objects.get(pk=second_id).status == TaskStatus.OPEN

    page.get_by_label("Show").select_option("accepted")
    page.locator(f"#review-list [data-task-id='{first_id}']").wait_for()
    assert page.console_errors == [], page.console_errors
