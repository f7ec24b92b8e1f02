"""The labeling workforce in a real browser: two annotators work one classification job by keyboard alone while
a manager watches it finish on the dashboard."""

import io

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from datasets.models import ImageLabel
from datasets.services.uploads import UploadedFileInput, images_upload
from labeling.models import Assignment, AssignmentStatus, Task, TaskStatus
from labeling.services.jobs import JobInput, job_create
from labeling.services.teams import team_create
from projects import services as project_services
from projects.models import Membership, Role
from tests.fixtures.api import create_user
from tests.fixtures.browser import log_in, screenshot
from tests.fixtures.datasets import make_dataset
from tests.fixtures.s3 import png_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

IMAGES = 4


def upload(dataset, count):
    files = []
    for i in range(count):
        data = png_bytes(320 + 40 * i, 240)
        files.append(UploadedFileInput(f"photo-{i}.png", io.BytesIO(data), len(data)))
    result = images_upload(dataset_id=dataset.pk, files=files, labels=[], user=None)
    assert not result.errors
    return result.created_ids


@pytest.fixture
def lab():
    manager = create_user("mia")
    project = project_services.project_create(user=manager, name="Pets")
    workers = [create_user("ann"), create_user("bob")]
    for user in workers:
        Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR)
    dataset = make_dataset(project, name="pet-photos")
    ids = upload(dataset, IMAGES)
    team = team_create(project_id=project.pk, name="day shift", members=["ann", "bob"])
    job = job_create(
        project_id=project.pk,
        user=manager,
        data=JobInput(
            name="cat or dog",
            dataset_id=dataset.pk,
            task_type="classification",
            labels=["cat", "dog", "bird"],
            team_id=team.pk,
            workers_per_image=2,
            task_time_limit_s=600,
            label_attribute_name="animal",
            instructions="Pick the animal in the photo. If you cannot tell, skip the image.",
        ),
    )
    return project, dataset, job, ids


def wait_for_image(page, submitted):
    page.locator("#done-count").get_by_text(f"{submitted} submitted").wait_for()
    page.locator("#work[aria-busy=false]").wait_for()
    expect(page.locator("#photo")).to_have_js_property("complete", True)
    expect(page.locator("#photo")).not_to_have_js_property("naturalWidth", 0)


def answer(page, key, submitted_before):
    """Pick a label by its number key and submit with Enter, once the image is on screen."""
    wait_for_image(page, submitted_before)
    page.keyboard.press(key)
    assert page.locator(".label-btn[aria-pressed=true]").count() == 1
    page.keyboard.press("Enter")
    page.locator("#done-count").get_by_text(f"{submitted_before + 1} submitted").wait_for()


@pytest.mark.s3
@pytest.mark.worker
def test_two_annotators_finish_a_job_by_keyboard_while_the_manager_watches(new_page, lab, celery_worker):
    project, dataset, job, _ = lab
    boss, ann, bob = new_page(), new_page(), new_page()
    log_in(boss, "mia")
    log_in(ann, "ann")
    log_in(bob, "bob")

    boss.goto(f"/jobs/{job.pk}/")
    boss.locator("#workers-body").wait_for()
    assert boss.locator("#job-status").inner_text() == "In progress"

    ann.goto(f"/projects/{project.pk}/jobs/")
    screenshot(ann, "labeling-jobs-annotator")
    start = ann.get_by_role("link", name="Start working on cat or dog")
    start.focus()
    ann.keyboard.press("Enter")
    ann.wait_for_url(f"**/jobs/{job.pk}/work/")
    screenshot(ann, "workbench-start")
    ann.keyboard.press("Enter")  # "Start working" has the focus
    wait_for_image(ann, 0)
    assert ann.locator("#countdown").is_visible()
    ann.keyboard.press("1")
    screenshot(ann, "workbench-classification")
    ann.keyboard.press("Enter")
    ann.locator("#done-count").get_by_text("1 submitted").wait_for()

    # Bob, at the same time in his own browser, skips his first image once, then answers every image.
    bob.goto(f"/jobs/{job.pk}/work/")
    bob.keyboard.press("Enter")
    wait_for_image(bob, 0)
    bob.keyboard.press("s")
    bob.get_by_text("Skipped: the image went back to the queue.").wait_for()
    wait_for_image(bob, 0)
    assert Assignment.objects.filter(worker__username="bob", status=AssignmentStatus.RELEASED).count() == 1
    for n in range(IMAGES):
        answer(bob, "1", n)
    bob.locator("#done-screen").get_by_text("No work left for you").wait_for()
    screenshot(bob, "workbench-done")

    # Ann's lease on her second image runs out before she answers: the submit says so and she goes on.
    wait_for_image(ann, 1)
    Assignment.objects.filter(worker__username="ann", status=AssignmentStatus.LEASED).update(
        expires_at=timezone.now() - timezone.timedelta(seconds=1)
    )
    ann.keyboard.press("2")
    ann.keyboard.press("Enter")
    ann.get_by_text("Too late: the time for that image ran out").wait_for()
    screenshot(ann, "workbench-lease-expired")
    wait_for_image(ann, 1)
    for n in range(1, IMAGES):
        answer(ann, "1", n)
    ann.locator("#done-screen").get_by_text("No work left for you").wait_for()
    assert ann.locator("#done-screen").evaluate("el => el === document.activeElement")

    # The manager's dashboard follows the job to its end: completed once the worker wrote the results.
    boss.locator("#job-status").get_by_text("Completed").wait_for(timeout=20_000)
    assert boss.locator("#stat-completed").inner_text() == str(IMAGES)
    screenshot(boss, "dashboard-completed")

    assert set(Task.objects.filter(job=job).values_list("status", flat=True)) == {TaskStatus.COMPLETE}
    assert set(ImageLabel.objects.filter(image__dataset=dataset).values_list("label__name", flat=True)) == {"cat"}
    assert bob.console_errors == [], bob.console_errors
    assert len(ann.console_errors) == 1, ann.console_errors
    assert "409 (Conflict)" in ann.console_errors[0], "only the late submit failed"
