"""Manifest lines written straight from stored row values: the export's fast serializer. Pure Python, no Django.

`serialize_entry` (datasets/manifest.py) builds an `EntryDraft`, checks it, builds a dict and hands it to
orjson: right for one entry, most of the cost of exporting 250,000. `RowWriter` writes the same bytes from the
values the export reads (one row per entry, its label links and boxes as lists), gluing pre-encoded fragments:
label names, the job name and the fixed keys are encoded once per export, numbers once per distinct value.
Every string and number is still encoded by orjson, the encoder `serialize_entry` uses, so escaping and float
forms cannot drift; tests/datasets/test_export_rows.py checks the lines equal `serialize_entry`'s.

What it skips, and why that is safe: the source-ref, label names and sizes were checked when they were written
(stored rows come only from the codec and the validated API), so they are not checked again. Rows the
fragments cannot write exactly as `serialize_entry` would (boxes without an image size, a confidence that is
not a finite number, a line long enough that an attribute may pass 20,000 characters) go through
`serialize_entry` itself, which then writes them or raises as it always did.
"""

import math
from collections.abc import Iterable, Sequence

import orjson

from datasets.manifest import (
    MAX_ATTRIBUTE_VALUE_CHARS,
    TYPE_CLASSIFICATION,
    TYPE_OBJECT_DETECTION,
    BoxDraft,
    EntryDraft,
    serialize_entry,
)

# One entry as the export reads it: source_ref, image width, image height, last change (ISO date without
# zone), label ids of its links in link order, their confidences (None: unknown), its boxes as
# (label id, left, top, width, height) in box order, their confidences. An absent list may be None.
EntryRow = tuple[
    str,
    int | None,
    int | None,
    str,
    Sequence[int] | None,
    Sequence[float | None] | None,
    Sequence[Sequence[int]] | None,
    Sequence[float | None] | None,
]


def _json(value: object) -> str:
    return orjson.dumps(value).decode()


class RowWriter:
    """Writes manifest lines of one dataset's entry rows, exactly as `serialize_entry` with the same arguments."""

    def __init__(self, *, label_names: dict[int, str], attribute_prefix: str, job_name: str) -> None:
        serialize_entry(EntryDraft("s3://check/prefix", [], []), attribute_prefix=attribute_prefix)  # checks it
        self._prefix = attribute_prefix
        self._job_name = job_name
        self._names = label_names
        self._name_json = {pk: _json(name) for pk, name in label_names.items()}
        self._numbers: dict[object, str] = {}  # confidence -> its JSON; None -> 1.0 as the codec writes it
        self._label_heads: list[str] = []
        self._label_fragments: dict[
            tuple[int, int, float | None], str
        ] = {}  # per label index: `,"<prefix>-<i>":<i>,"<prefix>-<i>-metadata":{...`
        job = _json(job_name)
        self._label_middle = f',"type":{_json(TYPE_CLASSIFICATION)},"job-name":{job},"human-annotated":"yes"'
        self._boxes_head = f',"{attribute_prefix}-boxes":{{"image_size":[{{"width":'
        self._boxes_metadata = f'{attribute_prefix}-boxes-metadata":{{"objects":['
        self._boxes_tail = f',"type":{_json(TYPE_OBJECT_DETECTION)},"human-annotated":"yes","creation-date":'
        self._job_tail = f',"job-name":{job}}}'

    def _number(self, value: float | None) -> str | None:
        """The JSON of a confidence (None is written as 1.0), or None if the fragments must not write it."""
        text = self._numbers.get(value)
        if text is None:
            if value is None:
                text = "1.0"
            elif type(value) is not float or not math.isfinite(value):
                return None
            else:
                text = _json(value)
            # Not 0.0: -0.0 equals it as a key but is written "-0.0". At most 100,000 distinct values are kept.
            if value != 0.0 and len(self._numbers) < 100_000:
                self._numbers[value] = text
        return text

    def _label_head(self, index: int) -> str:
        while len(self._label_heads) <= index:
            i = len(self._label_heads)
            self._label_heads.append(f',"{self._prefix}-{i}":{i},"{self._prefix}-{i}-metadata":{{"class-name":')
        return self._label_heads[index]

    def line(self, row: EntryRow) -> str:
        """The manifest line of one entry row, without a line break."""
        text = self._fast_line(row)
        if text is None:
            text = serialize_entry(
                self._draft(row), attribute_prefix=self._prefix, creation_date=row[3], job_name=self._job_name
            )
        return text

    def lines(self, rows: Iterable[EntryRow]) -> str:
        """Lines of rows, each ending with a line break."""
        return "".join([self.line(row) + "\n" for row in rows])

    def _label_fragment(self, index: int, label_id: int, confidence: float | None) -> str | None:
        """`,"<prefix>-<i>":<i>,"<prefix>-<i>-metadata":{...,"creation-date":` of one label link, or None."""
        key = (index, label_id, confidence)
        text = self._label_fragments.get(key)
        if text is None:
            number = self._number(confidence)
            if number is None:
                return None
            text = f'{self._label_head(index)}{self._name_json[label_id]},"confidence":{number}{self._label_middle}'
            text += ',"creation-date":'
            if confidence != 0.0 and len(self._label_fragments) < 100_000:  # -0.0: see _number
                self._label_fragments[key] = text
        return text

    def _fast_line(self, row: EntryRow) -> str | None:
        ref, width, height, changed, label_ids, label_confidences, boxes, box_confidences = row
        # The date comes from the database's own timestamp text (digits and separators), nothing to escape.
        date = f'"{changed}"'
        parts = ['{"source-ref":', _json(ref)]
        if label_ids:
            # Link rows are unique per (entry, label) (a database constraint), so no label repeats here.
            fragments, fragment = self._label_fragments, self._label_fragment
            if label_confidences is None:
                label_confidences = (None,) * len(label_ids)
            for index, label_id in enumerate(label_ids):
                confidence = label_confidences[index]
                text = fragments.get((index, label_id, confidence)) or fragment(index, label_id, confidence)
                if text is None:
                    return None
                parts += (text, date, "}")
        if boxes:
            if width is None or height is None:
                return None
            class_ids: dict[int, int] = {}
            annotations, objects = [], []
            number = self._number
            if box_confidences is None:
                box_confidences = (None,) * len(boxes)
            for (label_id, left, top, box_width, box_height), confidence in zip(boxes, box_confidences, strict=True):
                class_id = class_ids.setdefault(label_id, len(class_ids))
                annotations.append(
                    f'{{"class_id":{class_id},"left":{left},"top":{top},"width":{box_width},"height":{box_height}}}'
                )
                text = number(confidence)
                if text is None:
                    return None
                objects.append(f'{{"confidence":{text}}}')
            names = self._name_json
            class_map = ",".join([f'"{class_id}":{names[pk]}' for pk, class_id in class_ids.items()])
            parts += (
                self._boxes_head,
                f'{width},"height":{height},"depth":3}}],"annotations":[',
                ",".join(annotations),
                ']},"',
                self._boxes_metadata,
                ",".join(objects),
                '],"class-map":{',
                class_map,
                "}",
                self._boxes_tail,
                date,
                self._job_tail,
            )
        parts.append("}")
        text = "".join(parts)
        if len(text) > MAX_ATTRIBUTE_VALUE_CHARS:  # the codec measures such lines (limits on lines and values)
            return None
        return text

    def _draft(self, row: EntryRow) -> EntryDraft:
        ref, width, height, _changed, label_ids, label_confidences, boxes, box_confidences = row
        names = self._names
        labels = [names[pk] for pk in label_ids or ()]
        confidences = {
            names[pk]: confidence
            for pk, confidence in zip(label_ids or (), label_confidences or (), strict=False)
            if confidence is not None
        }
        drafts = [
            BoxDraft(names[pk], left, top, box_width, box_height, confidence)
            for (pk, left, top, box_width, box_height), confidence in zip(
                boxes or (), box_confidences or [None] * len(boxes or ()), strict=True
            )
        ]
        return EntryDraft(ref, labels, drafts, width, height, [], confidences)
