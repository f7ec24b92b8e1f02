"""The stored JSON of answers and results, read back as consolidation values (pure, no Django).

`Task.result` holds a consolidation result in the form `labeling.services.results.consolidate_answers` writes:
classification ``{"label", "votes", "tied"}``, multi-label ``{"labels", "confidences"}``, boxes
``{"boxes": [{label, left, top, width, height, confidence, worker_count}]}``, verification
``{"verdict", "comments"}``; a write the dataset refused adds ``"write_error"``. `Assignment.answer` holds an
answer as `labeling.answers.clean_answer` returns it. This module turns both into the dataclasses of
`labeling.consolidation` (for `agreement` and the output manifest), builds a reviewer's answer as a result,
and gives the result's shape in the API.
"""

from collections.abc import Mapping
from typing import Any

from labeling.consolidation import (
    Box,
    BoxesResult,
    ClassificationResult,
    ConsolidatedBox,
    MultiLabelResult,
    VerificationResult,
)
from labeling.output_manifest import Result

REVIEWED_CONFIDENCE = 1.0  # a reviewer's decision: a person settled it


def result_value(task_type: str, result: Mapping[str, Any], confidence: float | None) -> Result:
    """The consolidation value of a stored result."""
    if task_type == "classification":
        return ClassificationResult(
            label=result.get("label"),
            confidence=confidence or 0.0,
            needs_review=result.get("label") is None,
            tied=tuple(result.get("tied", ())),
            votes=dict(result.get("votes", {})),
        )
    if task_type == "multi_label":
        return MultiLabelResult(
            labels=tuple(result["labels"]), confidences=dict(result.get("confidences", {})), needs_review=False
        )
    if task_type == "bounding_box":
        return BoxesResult(boxes=tuple(ConsolidatedBox(**box) for box in result["boxes"]), needs_review=False)
    if task_type == "verification":
        return VerificationResult(
            verdict=result.get("verdict"),
            confidence=confidence or 0.0,
            needs_review=result.get("verdict") is None,
            comments=tuple(result.get("comments", ())),
        )
    raise ValueError(f"unknown task type {task_type!r}")


def answer_value(task_type: str, answer: Mapping[str, Any]) -> Any:
    """A stored answer in the form `labeling.consolidation.agreement` takes for the task type."""
    if task_type == "classification":
        return answer["labels"][0]
    if task_type == "multi_label":
        return answer["labels"]
    if task_type == "bounding_box":
        return [Box(**box) for box in answer["boxes"]]
    if task_type == "verification":
        return (answer["verdict"], answer.get("comment"))
    raise ValueError(f"unknown task type {task_type!r}")


def has_answer(task_type: str, result: Mapping[str, Any] | None) -> bool:
    """Whether a stored result holds an answer to write (a single-label or verification tie has none)."""
    if result is None:
        return False
    if task_type == "classification":
        return result.get("label") is not None
    if task_type == "verification":
        return result.get("verdict") is not None
    return True


def reviewed_result(
    task_type: str, answer: Mapping[str, Any], *, previous: Mapping[str, Any] | None
) -> tuple[dict[str, Any], float]:
    """(stored result, confidence) of a reviewer's cleaned answer; the workers' votes and comments are kept."""
    previous = previous or {}
    if task_type == "classification":
        label = answer["labels"][0]
        return {"label": label, "votes": previous.get("votes", {}), "tied": []}, REVIEWED_CONFIDENCE
    if task_type == "multi_label":
        labels = list(answer["labels"])
        return {"labels": labels, "confidences": dict.fromkeys(labels, REVIEWED_CONFIDENCE)}, REVIEWED_CONFIDENCE
    if task_type == "bounding_box":
        boxes = [{**box, "confidence": REVIEWED_CONFIDENCE, "worker_count": 0} for box in answer["boxes"]]
        return {"boxes": boxes}, REVIEWED_CONFIDENCE
    if task_type == "verification":
        comments = list(previous.get("comments", []))
        if answer.get("comment"):
            comments.append(answer["comment"])
        return {"verdict": answer["verdict"], "comments": comments}, REVIEWED_CONFIDENCE
    raise ValueError(f"unknown task type {task_type!r}")


def api_result(task_type: str, result: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The result as the API shows it: ``{labels}``, ``{boxes}`` or ``{verdict, comments}``, None before one.

    A single-label tie shows no label (`labels` empty); a refused write adds `write_error` {code, message}.
    """
    if result is None:
        return None
    if task_type == "classification":
        shown: dict[str, Any] = {"labels": [result["label"]] if result.get("label") is not None else []}
    elif task_type == "multi_label":
        shown = {"labels": list(result["labels"])}
    elif task_type == "bounding_box":
        shown = {
            "boxes": [
                {key: box[key] for key in ("label", "left", "top", "width", "height", "confidence")}
                for box in result["boxes"]
            ]
        }
    else:
        shown = {"verdict": result.get("verdict"), "comments": list(result.get("comments", []))}
    if "write_error" in result:
        shown["write_error"] = result["write_error"]
    return shown
