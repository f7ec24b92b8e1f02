"""A manager sets up labeling through the pages (a team, a bounding-box job) and an annotator draws a box in the
workbench: the answer arrives in the database with the box where it was drawn."""

import pytest
from playwright.sync_api import expect

from labeling.models import Assignment, AssignmentStatus, LabelingJob, Team
from projects import services as project_services
from projects.models import Membership, Role
from tests.fixtures.api import create_user
from tests.fixtures.browser import log_in, screenshot
from tests.fixtures.datasets import make_dataset
from tests.frontend.test_workbench_browser import upload

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHOTO_LOADED = "() => { const p = document.getElementById('photo'); return p.complete && p.naturalWidth > 0 }"


def test_a_manager_creates_a_team_and_a_box_job_and_an_annotator_draws_a_box(new_page):
    manager = create_user("mia")
    project = project_services.project_create(user=manager, name="Shelves")
    for name in ("ann", "bob"):
        Membership.objects.create(project=project, user=create_user(name), role=Role.ANNOTATOR)
    dataset = make_dataset(project, name="shelf-photos")
    upload(dataset, 2)

    boss = new_page()
    log_in(boss, "mia")
    boss.goto(f"/projects/{project.pk}/teams/")
    boss.get_by_label("Team name").fill("night shift")
    boss.get_by_label("ann", exact=True).check()
    boss.get_by_role("button", name="Create team").click()
    boss.locator("#team-table").get_by_text("night shift").wait_for()
    screenshot(boss, "teams")
    team = Team.objects.get(project=project, name="night shift")
    assert list(team.members.values_list("username", flat=True)) == ["ann"]

    boss.goto(f"/projects/{project.pk}/jobs/")
    boss.get_by_label("Name", exact=True).fill("bottles and cans")
    boss.get_by_label("Task type").select_option("bounding_box")
    boss.get_by_label("Labels").fill("bottle\ncan")
    boss.get_by_label("Instructions").fill("Draw a tight box around every bottle and can.")
    boss.get_by_label("Team").select_option(str(team.pk))
    screenshot(boss, "jobs-new")
    boss.get_by_role("button", name="Create job").click()
    boss.wait_for_url("**/jobs/*/")
    job = LabelingJob.objects.get(project=project)
    assert (job.task_type, job.labels, job.label_attribute_name) == (
        "bounding_box",
        ["bottle", "can"],
        "bottles-and-cans",
    )
    assert job.image_count == 2
    assert boss.console_errors == [], boss.console_errors

    worker = new_page()
    log_in(worker, "ann")
    worker.goto(f"/jobs/{job.pk}/work/")
    worker.get_by_role("button", name="Start working").click()
    worker.locator("#work[aria-busy=false]").wait_for()
    expect(worker.locator("#photo")).to_have_js_property("complete", True)
    expect(worker.locator("#photo")).not_to_have_js_property("naturalWidth", 0)
    photo = worker.locator("#photo").bounding_box()
    # From a quarter to three quarters of the shown image, in both directions.
    x0, y0 = photo["x"] + photo["width"] * 0.25, photo["y"] + photo["height"] * 0.25
    x1, y1 = photo["x"] + photo["width"] * 0.75, photo["y"] + photo["height"] * 0.75
    worker.mouse.move(x0, y0)
    worker.mouse.down()
    worker.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=5)
    worker.mouse.move(x1, y1, steps=5)
    worker.mouse.up()
    worker.locator("#box-count").get_by_text("(1)").wait_for()
    screenshot(worker, "workbench-boxes")
    worker.keyboard.press("Enter")
    worker.locator("#done-count").get_by_text("1 submitted").wait_for()

    answer = Assignment.objects.get(job=job, worker__username="ann", status=AssignmentStatus.SUBMITTED)
    image = answer.task.image
    (box,) = answer.answer["boxes"]
    assert box["label"] == "bottle"
    # The box covers the middle half of the image, in pixels of the stored image (a few pixels of slack).
    assert abs(box["left"] - image.width * 0.25) <= 4
    assert abs(box["top"] - image.height * 0.25) <= 4
    assert abs(box["width"] - image.width * 0.5) <= 6
    assert abs(box["height"] - image.height * 0.5) <= 6
    assert worker.console_errors == [], worker.console_errors
