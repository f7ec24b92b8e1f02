"""A labeling job's result for one image as a Ground Truth output attribute (pure, no Django).

Ground Truth writes each image's input line back with two more keys: the job's label attribute (``<attr>``)
and its metadata (``<attr>-metadata``) — class index and class-name for single-label classification, class ids
with a class-map and confidence-map for multi-label, image_size and annotations with a class-map and per-box
objects for boxes, and the chosen verification class for label verification (reference sections 1.3-1.7).

Class ids are positions in the job's label list, as in Ground Truth, so one id means one label in every line
of a job. Verification uses the two classes of its own list, ``VERIFICATION_CLASSES``.

Confidence: our consolidation reports the share of workers behind an answer, also when one worker answered
(Ground Truth reports 0.00 then); the output keeps our number so that a reviewer reads the same value in the
API and in the file.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from labeling.consolidation import BoxesResult, ClassificationResult, MultiLabelResult, VerificationResult

TYPE_CLASSIFICATION = "groundtruth/image-classification"
TYPE_MULTILABEL = "groundtruth/image-classification-multilabel"
TYPE_OBJECT_DETECTION = "groundtruth/object-detection"
TYPE_VERIFICATION = "groundtruth/label-verification"

# Index 0 answers "no, the label is wrong", index 1 "yes, it is right", as a two-class classifier would.
VERIFICATION_CLASSES = ("incorrect", "correct")

_ATTRIBUTE_NAME = re.compile(r"[a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,126}", re.ASCII)

Result = ClassificationResult | MultiLabelResult | BoxesResult | VerificationResult


@dataclass(frozen=True)
class OutputSpec:
    """What every line of one job shares."""

    attribute: str  # the job's label attribute name (reference 1.2)
    job_name: str  # written as "labeling-job/<job_name>"
    labels: tuple[str, ...]  # the job's label list; a label's class id is its position

    def class_id(self, label: str) -> int:
        try:
            return self.labels.index(label)
        except ValueError:
            raise ValueError(f"label {label!r} is not one of the job's labels") from None


def creation_date(moment: datetime) -> str:
    """ISO 8601 in UTC without a zone, with microseconds, as Ground Truth writes it."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds")


def output_attributes(
    spec: OutputSpec,
    result: Result,
    *,
    created_at: datetime,
    image_size: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The ``{<attr>: value, <attr>-metadata: {...}}`` pair for one image, or {} when there is no answer.

    A single-label or verification tie has no answer: Ground Truth leaves such an object unlabeled, and so do we.
    ``image_size`` (width, height) is required for boxes.
    """
    base = {"job-name": f"labeling-job/{spec.job_name}", "human-annotated": "yes"}
    date = creation_date(created_at)
    attribute = spec.attribute
    if isinstance(result, ClassificationResult):
        if result.label is None:
            return {}
        metadata = {
            "class-name": result.label,
            "confidence": _rounded(result.confidence),
            "type": TYPE_CLASSIFICATION,
            **base,
            "creation-date": date,
        }
        return {attribute: spec.class_id(result.label), f"{attribute}-metadata": metadata}
    if isinstance(result, MultiLabelResult):
        ids = sorted(spec.class_id(label) for label in result.labels)
        metadata = {
            "class-map": {str(i): spec.labels[i] for i in ids},
            "confidence-map": {str(i): _rounded(result.confidences.get(spec.labels[i], 0.0)) for i in ids},
            "type": TYPE_MULTILABEL,
            **base,
            "creation-date": date,
        }
        return {attribute: ids, f"{attribute}-metadata": metadata}
    if isinstance(result, BoxesResult):
        if image_size is None:
            raise ValueError("a bounding-box result needs the image size")
        width, height = image_size
        annotations = [
            {
                "class_id": spec.class_id(box.label),
                "left": box.left,
                "top": box.top,
                "width": box.width,
                "height": box.height,
            }
            for box in result.boxes
        ]
        metadata = {
            "objects": [{"confidence": _rounded(box.confidence)} for box in result.boxes],
            "class-map": {str(a["class_id"]): spec.labels[a["class_id"]] for a in annotations},
            "type": TYPE_OBJECT_DETECTION,
            **base,
            "creation-date": date,
        }
        value = {"image_size": [{"width": width, "height": height, "depth": 3}], "annotations": annotations}
        return {attribute: value, f"{attribute}-metadata": metadata}
    if isinstance(result, VerificationResult):
        if result.verdict is None:
            return {}
        index = 1 if result.verdict else 0
        metadata = {
            "class-name": VERIFICATION_CLASSES[index],
            "confidence": _rounded(result.confidence),
            "type": TYPE_VERIFICATION,
            **base,
            "creation-date": date,
        }
        if result.comments:
            metadata["worker-feedback"] = [{"comment": comment} for comment in result.comments]
        return {attribute: index, f"{attribute}-metadata": metadata}
    raise TypeError(f"not a consolidation result: {type(result).__name__}")


def augmented_line(input_line: dict[str, Any], attributes: dict[str, Any]) -> dict[str, Any]:
    """The input line with the job's attribute added; an old value of the same name is overwritten."""
    line = {key: value for key, value in input_line.items() if key not in attributes}
    line.update(attributes)
    return line


def label_attribute_problem(name: str, *, taken: Sequence[str] = ()) -> str | None:
    """Why ``name`` cannot be a job's label attribute (reference 1.2), or None when it can."""
    if not _ATTRIBUTE_NAME.fullmatch(name):
        return "must be 1-127 letters or digits, with single or repeated hyphens between them"
    if name.endswith(("-metadata", "-ref")) or name == "source":
        return "must not be 'source' or end in '-metadata' or '-ref'"
    if name in taken:
        return "is already used by another attribute of the line"
    return None


def default_label_attribute(job_name: str) -> str:
    """A valid label attribute made from a job's name: "cat or dog" gives "cat-or-dog"; "labels" when none can be."""
    candidate = re.sub(r"[^a-zA-Z0-9]+", "-", job_name).strip("-")[:127].rstrip("-")
    return candidate if candidate and label_attribute_problem(candidate) is None else "labels"


def _rounded(value: float) -> float:
    return round(float(value), 4)
