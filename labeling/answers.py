"""What a worker may submit for each task type, checked and normalised before it is stored (no database).

Stored forms (one per assignment, read back by consolidation, review and the output manifest):
- classification: ``{"labels": [name]}``, exactly one of the job's labels;
- multi_label: ``{"labels": [names]}``, a subset of the job's labels (empty allowed), without repeats;
- bounding_box: ``{"boxes": [{"label", "left", "top", "width", "height"}]}``, the job's labels, inside the image;
- verification: ``{"verdict": bool, "comment": str | None}``.
"""

import math
from collections.abc import Mapping, Sequence
from typing import Any

from core.errors import InvalidInput

MAX_BOXES_PER_ANSWER = 50
MAX_COMMENT_CHARS = 2000


def _invalid(message: str, field: str) -> InvalidInput:
    return InvalidInput(message, code="invalid_answer", fields={field: message})


def _labels(answer: Mapping[str, Any], job_labels: Sequence[str]) -> list[str]:
    labels = answer.get("labels")
    if not isinstance(labels, list) or not all(isinstance(name, str) for name in labels):
        raise _invalid("This task needs `labels`, a list of label names.", "labels")
    unknown = [name for name in labels if name not in job_labels]
    if unknown:
        raise _invalid(f"Not labels of this job: {', '.join(map(repr, unknown))}.", "labels")
    return list(dict.fromkeys(labels))


def _number(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _invalid("Must be a finite number.", field)
    return value


def _boxes(answer: Mapping[str, Any], job_labels: Sequence[str], width: int, height: int) -> list[dict[str, Any]]:
    boxes = answer.get("boxes")
    if not isinstance(boxes, list):
        raise _invalid("This task needs `boxes`, a list of boxes (it may be empty).", "boxes")
    if len(boxes) > MAX_BOXES_PER_ANSWER:
        raise _invalid(f"At most {MAX_BOXES_PER_ANSWER} boxes per image.", "boxes")
    cleaned = []
    for i, box in enumerate(boxes):
        where = f"boxes.{i}"
        if not isinstance(box, Mapping):
            raise _invalid("A box is an object {label, left, top, width, height}.", where)
        if box.get("label") not in job_labels:
            raise _invalid(f"Not a label of this job: {box.get('label')!r}.", f"{where}.label")
        left, top, w, h = (_number(box.get(key), f"{where}.{key}") for key in ("left", "top", "width", "height"))
        if w <= 0 or h <= 0:
            raise _invalid("A box has a positive width and height.", where)
        if left < 0 or top < 0 or left + w > width or top + h > height:
            raise InvalidInput(
                f"Box {i} lies outside the image ({width}x{height}).",
                code="box_outside_image",
                fields={where: "Outside the image."},
            )
        cleaned.append({"label": box["label"], "left": left, "top": top, "width": w, "height": h})
    return cleaned


def clean_answer(
    answer: Mapping[str, Any],
    *,
    task_type: str,
    job_labels: Sequence[str],
    image_width: int | None,
    image_height: int | None,
) -> dict[str, Any]:
    """The answer in its stored form, or InvalidInput `invalid_answer` / `box_outside_image`."""
    if not isinstance(answer, Mapping):
        raise _invalid("An answer is a JSON object.", "answer")
    if task_type == "classification":
        labels = _labels(answer, job_labels)
        if len(labels) != 1:
            raise _invalid("A single-label task takes exactly one label.", "labels")
        return {"labels": labels}
    if task_type == "multi_label":
        return {"labels": _labels(answer, job_labels)}
    if task_type == "bounding_box":
        if image_width is None or image_height is None:
            raise InvalidInput("The image's size is unknown.", code="image_size_unknown")
        return {"boxes": _boxes(answer, job_labels, image_width, image_height)}
    if task_type == "verification":
        verdict = answer.get("verdict")
        if not isinstance(verdict, bool):
            raise _invalid("A verification task needs `verdict`, true or false.", "verdict")
        comment = answer.get("comment")
        if comment is not None and not isinstance(comment, str):
            raise _invalid("A comment is a string.", "comment")
        if comment is not None and len(comment) > MAX_COMMENT_CHARS:
            raise _invalid(f"A comment has at most {MAX_COMMENT_CHARS} characters.", "comment")
        return {"verdict": verdict, "comment": comment.strip() or None if comment else None}
    raise ValueError(f"unknown task type {task_type!r}")
