"""Jobs follow their dataset's labels: a rename or merge renames the job's label, a deletion removes it, and
results given under the old name are written under the new one (or without the deleted label).

Results and answers keep the names they were given under; `resolve` maps one through the job's renames when
it is written, so nothing already stored must be rewritten (a job may have 250,000 results).
"""

from collections.abc import Mapping
from typing import Any

from django.dispatch import receiver

from datasets.signals import label_changed
from labeling.models import LabelingJob, TaskType


def resolve(name: str, renames: Mapping[str, str | None]) -> str | None:
    """The name `name` has now (None: deleted)."""
    return renames.get(name, name)


def renames_after(renames: Mapping[str, str | None], old: str, new: str | None) -> dict[str, str | None]:
    """The renames map after `old` became `new`: kept flat (each old name maps to the name of the moment),
    and a name in use again is no longer an old one."""
    updated = {key: (new if value == old else value) for key, value in renames.items()}
    updated[old] = new
    if new is not None:
        updated.pop(new, None)
    return {key: value for key, value in updated.items() if key != value}


def resolve_result(*, task_type: str, result: dict[str, Any], renames: Mapping[str, str | None]) -> dict[str, Any]:
    """`result` with its label names as they are now; a deleted label is left out."""
    if not renames:
        return result
    if task_type == TaskType.CLASSIFICATION:
        return {**result, "label": resolve(result["label"], renames)}
    if task_type == TaskType.MULTI_LABEL:
        names = (resolve(name, renames) for name in result["labels"])
        return {**result, "labels": list(dict.fromkeys(name for name in names if name is not None))}
    if task_type == TaskType.BOUNDING_BOX:
        boxes = [{**box, "label": resolve(box["label"], renames)} for box in result["boxes"]]
        return {**result, "boxes": [box for box in boxes if box["label"] is not None]}
    return result


@receiver(label_changed)
def jobs_follow_label_change(*, dataset_id: int, old_name: str, new_name: str | None, **_: object) -> None:
    for job in LabelingJob.objects.select_for_update().filter(dataset_id=dataset_id):
        labels = [new_name if name == old_name else name for name in job.labels]
        job.labels = list(dict.fromkeys(name for name in labels if name is not None))  # a merge: once
        job.label_renames = renames_after(job.label_renames, old_name, new_name)
        job.save(update_fields=["labels", "label_renames"])
