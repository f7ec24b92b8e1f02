"""A job's output manifest, streamed in bounded memory: one augmented line per image with a result.

Ground Truth writes each input line back with the job's label attribute and its metadata (reference §6.7). Our
input line is the entry's own line as the dataset export writes it (`datasets.manifest.serialize_entry`, prefix
`groundwork`), less the labels or boxes of the job's labels: the job's attribute states those, and an entry
line that stated them too would give every box twice when the output is imported (for classification a label
twice is harmless, but one rule for all task types reads better). A verification job writes no labels, so its
entries' lines are whole.

Tasks that are complete or accepted are read in keyset pages of id order: three queries per page (tasks with
their entries, the entries' label links, their boxes), whatever the job's size; a page is one chunk. On
PostgreSQL the stream reads one snapshot (REPEATABLE READ), as the dataset export does.
"""

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime

import orjson
from django.db import connection, transaction

from datasets.export import ATTRIBUTE_PREFIX, updated_at_as_text
from datasets.manifest import BoxDraft, EntryDraft, serialize_entry
from datasets.models import BoundingBox, Image, ImageLabel, Label
from labeling import stored
from labeling.models import LabelingJob, Task, TaskStatus, TaskType
from labeling.output_manifest import OutputSpec, augmented_line, output_attributes

PAGE = 1000


def _statements() -> tuple[str, str, str]:
    # Only table names from model metadata are interpolated; values are parameters.
    task, image = Task._meta.db_table, Image._meta.db_table
    tasks_sql = f"""SELECT task.id, task.result, task.confidence, task.completed_at,
            entry.id, entry.source_ref, entry.width, entry.height, {updated_at_as_text()}
        FROM {task} task JOIN {image} entry ON entry.id = task.image_id
        WHERE task.job_id = %(job)s AND task.status IN (%(complete)s, %(accepted)s) AND task.id > %(after)s
        ORDER BY task.id LIMIT %(page)s"""  # noqa: S608
    # The page's entries (at most PAGE of them) by id, on the rows' image_id index.
    in_page = f"""WHERE row.image_id IN (
            SELECT image_id FROM {task} WHERE job_id = %(job)s AND id > %(after)s AND id <= %(last)s
        ) ORDER BY row.id"""  # noqa: S608
    labels_sql = f"SELECT row.image_id, row.label_id, row.confidence FROM {ImageLabel._meta.db_table} row {in_page}"  # noqa: S608
    boxes_sql = f"""SELECT row.image_id, row.label_id, row."left", row.top, row.width, row.height, row.confidence
        FROM {BoundingBox._meta.db_table} row {in_page}"""  # noqa: S608
    return tasks_sql, labels_sql, boxes_sql


def _pages(job: LabelingJob) -> Iterator[list[str]]:
    names = dict(Label.objects.filter(dataset_id=job.dataset_id).values_list("pk", "name"))
    own = set(job.labels) if job.task_type != TaskType.VERIFICATION else set()
    spec = OutputSpec(attribute=job.label_attribute_name, job_name=job.name, labels=tuple(job.labels))
    dataset_job_name = f"groundwork/{job.dataset.name}"
    tasks_sql, labels_sql, boxes_sql = _statements()
    params = {
        "job": job.pk,
        "complete": TaskStatus.COMPLETE,
        "accepted": TaskStatus.ACCEPTED,
        "after": 0,
        "last": 0,
        "page": PAGE,
    }
    with connection.cursor() as cursor:
        while True:
            cursor.execute(tasks_sql, params)
            rows = cursor.fetchall()
            if not rows:
                return
            params["last"] = rows[-1][0]
            labels: dict[int, list[str]] = defaultdict(list)
            confidences: dict[int, dict[str, float]] = defaultdict(dict)
            boxes: dict[int, list[BoxDraft]] = defaultdict(list)
            cursor.execute(labels_sql, params)
            for image_id, label_id, confidence in cursor.fetchall():
                name = names[label_id]
                if name not in own:
                    labels[image_id].append(name)
                    if confidence is not None:
                        confidences[image_id][name] = confidence
            cursor.execute(boxes_sql, params)
            for image_id, label_id, left, top, width, height, confidence in cursor.fetchall():
                name = names[label_id]
                if name not in own:
                    boxes[image_id].append(BoxDraft(name, left, top, width, height, confidence))
            lines = []
            for _, result, confidence, completed_at, pk, source_ref, width, height, changed in rows:
                if isinstance(result, str):  # raw cursors give JSON as text on SQLite
                    result = orjson.loads(result)
                draft = EntryDraft(
                    source_ref, labels.get(pk, []), boxes.get(pk, []), width, height, [], confidences.get(pk, {})
                )
                entry_line = serialize_entry(
                    draft, attribute_prefix=ATTRIBUTE_PREFIX, creation_date=changed, job_name=dataset_job_name
                )
                attributes = output_attributes(
                    spec,
                    stored.result_value(job.task_type, result, confidence),
                    created_at=_moment(completed_at),
                    image_size=(width, height) if width and height else None,
                )
                lines.append(orjson.dumps(augmented_line(orjson.loads(entry_line), attributes)).decode())
            yield lines
            params["after"] = params["last"]


def _moment(value: datetime | str) -> datetime:
    """A timestamp from a raw cursor: a datetime, or text in UTC on SQLite."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def iter_output_chunks(*, job: LabelingJob) -> Iterator[bytes]:
    """The job's output manifest as UTF-8 chunks of whole lines (one chunk per page of tasks)."""
    own_snapshot = connection.vendor == "postgresql" and not connection.in_atomic_block
    with transaction.atomic():
        if own_snapshot:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        for lines in _pages(job):
            yield ("\n".join(lines) + "\n").encode()
