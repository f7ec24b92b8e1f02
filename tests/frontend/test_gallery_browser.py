"""The gallery in a real browser: filtering by a label, labeling a click + shift-click selection."""

import io
import re

import pytest

from datasets.models import ImageLabel
from datasets.services.uploads import UploadedFileInput, images_upload
from projects import services as project_services
from tests.fixtures.api import create_user
from tests.fixtures.browser import log_in, screenshot
from tests.fixtures.datasets import assert_counts_true, make_dataset
from tests.fixtures.s3 import png_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def upload(dataset, names, labels=(), size=(160, 120)):
    files = []
    for name in names:
        data = png_bytes(*size)
        files.append(UploadedFileInput(name, io.BytesIO(data), len(data)))
    result = images_upload(dataset_id=dataset.pk, files=files, labels=list(labels), user=None)
    assert not result.errors
    return result.created_ids


@pytest.fixture
def gallery():
    user = create_user("ada")
    project = project_services.project_create(user=user, name="Alexa devices")
    dataset = make_dataset(project, name="echo-train")
    dots = upload(dataset, [f"dot-{i}.png" for i in range(3)], labels=["echo-dot"])
    shows = upload(dataset, [f"show-{i}.png" for i in range(2)], labels=["echo-show"])
    plain = upload(dataset, [f"plain-{i}.png" for i in range(4)])
    return dataset, dots, shows, plain


def test_filtering_the_gallery_by_a_label_shows_only_its_images(page, gallery):
    dataset, dots, _, _ = gallery
    log_in(page, "ada")
    page.goto(f"/datasets/{dataset.pk}/")
    page.locator("#grid .tile").nth(8).wait_for()
    assert page.locator("#grid .tile img").count() == 9, "every entry has a thumbnail"
    screenshot(page, "gallery")

    page.get_by_label("Label", exact=True).select_option("echo-dot")
    page.wait_for_url(re.compile(r".*contains_labels=echo-dot.*"))
    page.locator("#grid .tile").nth(2).wait_for()
    ids = [int(i) for i in page.locator("#grid .tile").evaluate_all("els => els.map(e => e.dataset.id)")]
    assert ids == dots
    assert page.locator("#matching").inner_text() == "3 images match this filter"
    screenshot(page, "gallery-filtered")
    assert page.console_errors == [], page.console_errors


def test_a_label_goes_to_three_images_picked_with_click_and_shift_click(page, gallery):
    dataset, _, _, plain = gallery
    log_in(page, "ada")
    page.goto(f"/datasets/{dataset.pk}/?labeled=false")
    page.locator("#grid .tile").nth(3).wait_for()
    # Uploads are stored under generated names; the grid is in id order, so the plain images come in turn.
    picks = page.locator("#grid .tile input.pick")
    assert picks.first.get_attribute("aria-label").startswith("Select ")
    picks.nth(0).click()
    picks.nth(2).click(modifiers=["Shift"])
    assert page.locator("#selection-count").inner_text() == "3 images selected"
    page.get_by_label("Image label").fill("echo-studio")
    screenshot(page, "gallery-selection")
    page.get_by_role("button", name="Add to selection").click()
    page.get_by_text("Added “echo-studio” to 3 images.").wait_for()
    page.locator("#label-list [data-label='echo-studio']").wait_for()
    assert "3" in page.locator("#label-list [data-label='echo-studio'] .count").inner_text()
    screenshot(page, "gallery-labeled")

    labeled = set(ImageLabel.objects.filter(label__name="echo-studio").values_list("image_id", flat=True))
    assert labeled == set(plain[:3])
    assert_counts_true(dataset)
    assert page.console_errors == [], page.console_errors


def test_select_all_matching_labels_entries_that_were_never_loaded(page, gallery):
    dataset, dots, shows, plain = gallery
    log_in(page, "ada")
    page.goto(f"/datasets/{dataset.pk}/?source_ref_contains=.png")
    page.locator("#grid .tile").first.wait_for()
    page.get_by_role("button", name="Select all 9 matching").click()
    page.get_by_label("Image label").fill("device")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Add to selection").click()
    page.get_by_text("Added “device” to 9 images.").wait_for()
    assert set(ImageLabel.objects.filter(label__name="device").values_list("image_id", flat=True)) == {
        *dots,
        *shows,
        *plain,
    }
    assert_counts_true(dataset)
