"""Projects, datasets and imports in a real browser: the pages a labeling team uses all day."""

import re

import pytest
from playwright.sync_api import expect

from datasets.models import Dataset, Image, ImageLabel
from datasets.services.datasets import dataset_create
from projects import services as project_services
from projects.models import Membership, Project
from tests.fixtures.api import create_user
from tests.fixtures.browser import log_in, screenshot
from tests.fixtures.s3 import png_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AUTO_LABEL = "Automatically attach a label to my images based on the folder they're stored in"


@pytest.mark.s3
@pytest.mark.worker
def test_a_new_project_gets_a_dataset_from_an_s3_folder_with_folder_labels(page, s3, celery_worker):
    create_user("ada")

    log_in(page, "ada")
    screenshot(page, "projects-empty")
    page.get_by_role("link", name="New project").click()
    page.get_by_label("Project name").fill("Alexa devices")
    page.get_by_label("Description").fill("Echo and Echo Dot photos for the device classifier")
    screenshot(page, "project-new")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name="Alexa devices", level=1)).to_be_visible()
    screenshot(page, "project-empty")
    # The page names the project's drop folder, the only folder of the server's bucket it reads.
    drop_folder = page.locator("#drop-folder code").inner_text()
    assert drop_folder == s3.drop_uri(Project.objects.get(name="Alexa devices"))
    for key in ["devices/echo/1.png", "devices/echo/2.png", "devices/echo-dot/1.png", "devices/readme.txt"]:
        s3.put_in_drop(Project.objects.get(), key, b"not an image" if key.endswith(".txt") else png_bytes())

    page.get_by_role("link", name="New dataset").click()
    page.get_by_label("Dataset name").fill("devices")
    page.get_by_label("Import images from an S3 folder").check()
    page.get_by_label("S3 folder location").fill(f"{drop_folder}devices/")
    page.get_by_label(AUTO_LABEL, exact=True).check()
    screenshot(page, "dataset-new-s3-folder")
    page.get_by_role("button", name="Create dataset").click()

    page.wait_for_url(re.compile(r".*/imports/\d+/$"))
    expect(page.locator("#outcome")).to_have_text(re.compile(r"^Import finished: 3 images imported, 1 skipped"))
    expect(page.locator("#progress")).to_have_attribute("aria-valuenow", "100")
    expect(page.get_by_role("button", name="Cancel import")).to_be_hidden()
    expect(page.get_by_role("link", name="Open devices")).to_be_visible()
    screenshot(page, "import-finished")

    dataset = Dataset.objects.get(name="devices")
    labels = {
        e.source_ref.rsplit("devices/", 1)[1]: sorted(
            ImageLabel.objects.filter(image=e).values_list("label__name", flat=True)
        )
        for e in Image.objects.filter(dataset=dataset)
    }
    assert labels == {"echo/1.png": ["echo"], "echo/2.png": ["echo"], "echo-dot/1.png": ["echo-dot"]}

    page.get_by_role("link", name="Back to Alexa devices").click()
    row = page.get_by_role("row", name=re.compile("devices"))
    expect(row.get_by_role("cell", name="Ready")).to_be_visible()
    expect(row.get_by_role("cell", name="3", exact=True)).to_have_count(2)  # images and labeled
    screenshot(page, "project-with-dataset")
    assert page.console_errors == [], page.console_errors


def test_upload_from_this_computer_lists_every_refused_file_with_its_reason(page, tmp_path):
    owner = create_user("grace")
    project = project_services.project_create(user=owner, name="Kitchen", description="")
    files = []
    for i in range(21):
        path = tmp_path / f"photo-{i:02}.png"
        path.write_bytes(png_bytes(96 + i, 64))
        files.append(str(path))
    bad = tmp_path / "notes.png"
    bad.write_bytes(b"these are notes, not an image")
    files.append(str(bad))

    log_in(page, "grace")
    page.goto(f"/projects/{project.pk}/datasets/new/")
    page.get_by_label("Dataset name").fill("kitchen")
    page.get_by_label("Upload images from this computer").check()
    screenshot(page, "dataset-new-upload")
    page.get_by_role("button", name="Create dataset").click()
    expect(page.get_by_role("heading", name="Add images to kitchen")).to_be_visible()
    screenshot(page, "upload-empty")

    page.get_by_label("Labels for every image of this upload").fill("kitchen")
    page.locator("#files").set_input_files(files)
    expect(page.locator("#batches li[data-state]")).to_have_count(2, timeout=60_000)
    screenshot(page, "upload-done")
    expect(page.locator("#summary")).to_have_text("21 images added, 1 file not added (listed below).", timeout=60_000)
    expect(page.locator("#batches li")).to_have_count(2)  # 20 files a batch
    refused = page.get_by_role("row", name=re.compile("notes.png"))
    expect(refused.get_by_role("cell").nth(1)).to_have_text(
        "the file is not a recognised image; only PNG and JPEG are accepted"
    )
    screenshot(page, "upload-done")

    dataset = Dataset.objects.get(name="kitchen")
    assert dataset.total_entries == 21
    assert dataset.labeled_entries == 21
    assert page.console_errors == [], page.console_errors


def test_an_owner_invites_a_member_who_then_sees_the_project(page, new_page):
    owner = create_user("linus")
    create_user("margaret")
    project = project_services.project_create(user=owner, name="Garden", description="Plants and pests")
    dataset_create(project_id=project.pk, name="plants", type="train", user=owner)
    dataset_create(project_id=project.pk, name="plants-test", type="test", user=owner)

    log_in(page, "linus")
    page.get_by_role("link", name="Garden").click()
    page.get_by_label("Username").fill("margaret")
    page.get_by_label("Role", exact=True).select_option("annotator")
    page.get_by_role("button", name="Invite").click()
    expect(page.locator("#flash")).to_have_text("margaret joined as annotator.")
    expect(page.get_by_label("Role of margaret")).to_have_value("annotator")
    screenshot(page, "project-members")
    assert Membership.objects.get(project=project, user__username="margaret").role == "annotator"

    page.get_by_label("Username").fill("nobody-here")
    page.get_by_role("button", name="Invite").click()
    expect(page.locator("#id_username_error")).to_have_text("Unknown user.")
    screenshot(page, "project-invite-error")

    other = new_page()
    log_in(other, "margaret")
    other.get_by_role("link", name="Garden").click()
    expect(other.get_by_role("link", name="New dataset")).to_have_count(0)
    expect(other.get_by_role("button", name="Invite")).to_have_count(0)
    screenshot(other, "project-as-annotator")
    assert page.console_errors == [], page.console_errors
    assert other.console_errors == [], other.console_errors
