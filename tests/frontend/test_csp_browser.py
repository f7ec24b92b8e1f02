"""Pages under the Content-Security-Policy in a real browser: a violation is a console error, which fails the test
(tests/fixtures/browser.py), so each page here is also checked to work, not only to be quiet."""

import pytest
from playwright.sync_api import expect

from labeling.services import queue
from projects import services as project_services
from tests.fixtures.api import PASSWORD, create_user
from tests.fixtures.browser import log_in, screenshot
from tests.fixtures.datasets import Draft
from tests.labeling.factories import make_job, make_workers

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_swagger_ui_renders_the_api_under_the_policy(page):
    page.goto("/api/docs/")

    expect(page.get_by_role("heading", name="Groundwork API")).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/me/").first).to_be_visible()
    page.locator(".opblock-summary-path", has_text="/api/v1/me/").first.click()
    expect(page.get_by_role("button", name="Try it out")).to_be_visible()
    screenshot(page, "api-docs-csp")
    assert page.console_errors == [], page.console_errors


def test_the_admin_signs_in_and_lists_users_under_the_policy(page):
    create_user("root", is_staff=True, is_superuser=True)

    page.goto("/admin/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Users")).to_be_visible()
    page.get_by_role("link", name="Users").click()
    expect(page.get_by_role("link", name="root")).to_be_visible()
    page.get_by_role("link", name="root").click()
    expect(page.get_by_label("Username")).to_have_value("root")
    screenshot(page, "admin-user-csp")
    assert page.console_errors == [], page.console_errors


def test_the_job_list_draws_its_progress_bars_without_inline_styles(page):
    owner = create_user("mia")
    project = project_services.project_create(user=owner, name="Pets")
    (worker,) = make_workers(project, 1)
    job = make_job(project, workers=[worker], drafts=[Draft(f"s3://b/{i}.jpg") for i in range(4)])
    lease = queue.assignment_claim_next(job=job, worker=worker)
    queue.assignment_submit(assignment_id=lease.pk, worker=worker, answer={"labels": ["cat"]})

    log_in(page, "mia")
    page.goto(f"/projects/{project.pk}/jobs/")

    done = page.locator(".job-card .seg.done")
    expect(done).to_have_attribute("data-width", "25.00")
    bar_width = page.locator(".job-card .progress").bounding_box()["width"]
    assert done.bounding_box()["width"] == pytest.approx(bar_width / 4, abs=1)
    screenshot(page, "jobs-progress-csp")
    assert page.console_errors == [], page.console_errors
