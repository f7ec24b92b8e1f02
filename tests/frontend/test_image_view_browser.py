"""The image view in a real browser: draw a box with the mouse, save it, undo."""

import pytest
from playwright.sync_api import expect

from datasets.models import BoundingBox
from projects import services as project_services
from tests.fixtures.api import create_user
from tests.fixtures.browser import log_in, screenshot
from tests.fixtures.datasets import make_dataset
from tests.frontend.test_gallery_browser import upload

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def entry():
    user = create_user("ada")
    project = project_services.project_create(user=user, name="Alexa devices")
    dataset = make_dataset(project, name="echo-train")
    first, second = upload(dataset, ["kitchen.png", "hall.png"], labels=["indoor"], size=(400, 300))
    return dataset, first, second


def drag(page, start, end):
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
    page.mouse.move(*end)
    page.mouse.up()


def test_a_box_drawn_with_the_mouse_is_saved_in_image_pixels(page, entry):
    dataset, first, second = entry
    log_in(page, "ada")
    page.goto(f"/datasets/{dataset.pk}/entries/{first}/")
    page.locator("#overlay").wait_for()
    expect(page.locator("#photo")).to_have_js_property("complete", True)
    screenshot(page, "image-view")

    page.get_by_label("Label for new boxes").fill("echo-dot")
    area = page.locator("#overlay").bounding_box()
    scale = area["width"] / 400
    # From image pixel (100, 75) to (300, 225): a quarter inset on each side.
    drag(page, (area["x"] + 100 * scale, area["y"] + 75 * scale), (area["x"] + 300 * scale, area["y"] + 225 * scale))
    assert page.locator("#overlay g.box").count() == 1
    assert page.locator("#dirty").inner_text() == "Unsaved changes"
    screenshot(page, "image-view-drawn")

    page.get_by_role("button", name="Save").click()
    page.get_by_text("All changes saved").wait_for()
    box = BoundingBox.objects.get(image_id=first)
    assert box.label.name == "echo-dot"
    for value, expected in ((box.left, 100), (box.top, 75), (box.width, 200), (box.height, 150)):
        assert abs(value - expected) <= 3, (box.left, box.top, box.width, box.height)
    api_boxes = page.evaluate(f"fetch('/api/v1/datasets/{dataset.pk}/entries/{first}/').then(r => r.json())")["boxes"]
    assert [b["label"] for b in api_boxes] == ["echo-dot"]

    # Undo the box, save again: the entry has none.
    page.keyboard.press("Control+z")
    assert page.locator("#overlay g.box").count() == 0
    page.keyboard.press("Control+Shift+z")
    assert page.locator("#overlay g.box").count() == 1
    page.get_by_role("button", name="Undo").click()
    assert page.locator("#dirty").inner_text() == "Unsaved changes"
    page.get_by_role("button", name="Save").click()
    page.get_by_text("All changes saved").wait_for()
    assert not BoundingBox.objects.filter(image_id=first).exists()

    page.keyboard.press("?")
    assert page.get_by_role("heading", name="Keyboard shortcuts").is_visible()
    screenshot(page, "image-view-help")
    page.keyboard.press("Escape")
    page.keyboard.press("n")
    page.wait_for_url(f"**/entries/{second}/")
    assert page.console_errors == [], page.console_errors


def test_a_refused_save_keeps_the_edit_and_says_why(page, entry):
    dataset, first, _ = entry
    log_in(page, "ada")
    page.goto(f"/datasets/{dataset.pk}/entries/{first}/")
    page.locator("#overlay").wait_for()
    page.get_by_label("Add an image label").fill("x" * 300)
    page.get_by_role("button", name="Add", exact=True).click()
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Not saved:").wait_for()
    assert "at most 256 characters" in page.locator("#flash").inner_text()
    assert page.locator("#dirty").inner_text() == "Unsaved changes"
    screenshot(page, "image-view-save-failed")
