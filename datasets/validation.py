"""Rules for label names and boxes that a person or a program sends (pure, no database)."""

from collections.abc import Sequence
from dataclasses import dataclass

from core.errors import InvalidInput
from datasets.manifest_attributes import box_too_small

MAX_LABEL_NAME_CHARS = 256
MAX_LABELS_PER_ENTRY = 50
MAX_BOXES_PER_ENTRY = 50


@dataclass(frozen=True)
class BoxInput:
    label: str
    left: int
    top: int
    width: int
    height: int
    confidence: float | None = None


def clean_label_name(name: str, *, field: str = "name") -> str:
    """A label name as stored: surrounding whitespace removed, 1-256 characters, no control characters."""
    cleaned = name.strip()
    if not cleaned:
        raise InvalidInput("A label name cannot be empty.", code="invalid_label_name", fields={field: "Empty."})
    if len(cleaned) > MAX_LABEL_NAME_CHARS:
        raise InvalidInput(
            f"Label names have at most {MAX_LABEL_NAME_CHARS} characters; this one has {len(cleaned)}.",
            code="invalid_label_name",
            fields={field: "Too long."},
        )
    if any(ord(char) < 32 or ord(char) == 127 for char in cleaned):
        raise InvalidInput(
            "Label names cannot contain control characters.", code="invalid_label_name", fields={field: "Invalid."}
        )
    return cleaned


def clean_label_names(names: Sequence[str]) -> list[str]:
    """Cleaned, de-duplicated (first kept) label names of one entry; at most 50."""
    cleaned = list(dict.fromkeys(clean_label_name(name, field=f"labels.{i}") for i, name in enumerate(names)))
    if len(cleaned) > MAX_LABELS_PER_ENTRY:
        raise InvalidInput(
            f"An entry has at most {MAX_LABELS_PER_ENTRY} labels; {len(cleaned)} were given.",
            code="too_many_labels",
            fields={"labels": "Too many."},
        )
    return cleaned


def clean_boxes(boxes: Sequence[BoxInput], *, image_width: int | None, image_height: int | None) -> list[BoxInput]:
    """Boxes of one entry, inside the image; at most 50. An image of unknown size takes no boxes (a box
    must be checkable, and the manifest form of boxes needs the image's size)."""
    if boxes and (image_width is None or image_height is None):
        raise InvalidInput(
            "The image's size is not known yet (it has not been probed), so boxes cannot be checked.",
            code="image_size_unknown",
            fields={"boxes": "Image size unknown."},
        )
    if len(boxes) > MAX_BOXES_PER_ENTRY:
        raise InvalidInput(
            f"An entry has at most {MAX_BOXES_PER_ENTRY} boxes; {len(boxes)} were given.",
            code="too_many_boxes",
            fields={"boxes": "Too many."},
        )
    cleaned = []
    for index, box in enumerate(boxes):
        field = f"boxes.{index}"
        if box.left < 0 or box.top < 0 or box.width < 1 or box.height < 1:
            raise InvalidInput(
                f"Box {index} must have left, top >= 0 and width, height >= 1 "
                f"(got {box.left}, {box.top}, {box.width}x{box.height}).",
                code="invalid_box",
                fields={field: "Negative or empty."},
            )
        if box.left + box.width > image_width or box.top + box.height > image_height:
            raise InvalidInput(
                f"Box {index} ({box.left}, {box.top}, {box.width}x{box.height}) reaches outside the "
                f"{image_width}x{image_height} image.",
                code="box_outside_image",
                fields={field: "Outside the image."},
            )
        too_small = box_too_small(box.width, box.height, image_width=image_width, image_height=image_height)
        if too_small:
            # The manifest import drops such boxes (ERROR_BOUNDING_BOX_TOO_SMALL): refusing them here keeps
            # export -> import lossless.
            raise InvalidInput(f"Box {index}: {too_small}.", code="box_too_small", fields={field: "Too small."})
        cleaned.append(
            BoxInput(
                clean_label_name(box.label, field=f"{field}.label"),
                box.left,
                box.top,
                box.width,
                box.height,
                box.confidence,
            )
        )
    return cleaned
