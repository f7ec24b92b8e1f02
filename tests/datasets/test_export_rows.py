"""The export's fast serializer (datasets/export_rows.py) writes exactly the codec's lines, and the export
through the database writes what the codec writes for the stored entries."""

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datasets.export import iter_manifest_chunks
from datasets.export_rows import RowWriter
from datasets.manifest import BoxDraft, EntryDraft, parse_line, serialize_entry
from datasets.models import Image
from tests.fixtures.datasets import Box, Draft, Error, make_dataset
from tests.fixtures.s3 import s3_keys

NAMES = {
    1: "cat",
    2: 'quote " and \\ backslash',
    3: "ünïcödé 猫 🐈",
    4: "tab\tless/slash <html> &amp;",
    5: "x" * 256,
    6: "\u2028line separator\u2029",
    7: "del\x7f",
}
JOB = 'groundwork/train "set"'
DATE = "2024-03-01T10:15:00.123456"

refs = st.builds(lambda key: f"s3://bkt-1.example/{key}", s3_keys(max_segments=4, max_segment_size=10))
confidences = st.one_of(
    st.none(),
    st.floats(min_value=0, max_value=1),
    st.sampled_from([0.0, -0.0, 1.0, 1e-7, 0.1 + 0.2, 5e-324]),
)
coordinates = st.integers(min_value=0, max_value=10**6)
boxes = st.tuples(st.sampled_from(list(NAMES)), coordinates, coordinates, coordinates, coordinates)


@st.composite
def rows(draw):
    label_ids = draw(st.lists(st.sampled_from(list(NAMES)), unique=True, max_size=len(NAMES)))
    box_values = draw(st.lists(boxes, max_size=8))
    sized = draw(st.booleans()) or bool(box_values)
    return (
        draw(refs),
        draw(st.integers(1, 10**5)) if sized else None,
        draw(st.integers(1, 10**5)) if sized else None,
        DATE,
        label_ids or draw(st.sampled_from([None, label_ids])),
        draw(st.sampled_from([None, [draw(confidences) for _ in label_ids]])) if label_ids else None,
        box_values or None,
        [draw(confidences) for _ in box_values] if box_values else None,
    )


def codec_line(row) -> str:
    ref, width, height, changed, label_ids, label_confidences, box_values, box_confidences = row
    labels = [NAMES[pk] for pk in label_ids or ()]
    confidences = {
        NAMES[pk]: c
        for pk, c in zip(label_ids or (), label_confidences or [None] * len(labels), strict=True)
        if c is not None
    }
    drafts = [
        BoxDraft(NAMES[pk], left, top, w, h, c)
        for (pk, left, top, w, h), c in zip(
            box_values or (), box_confidences or [None] * len(box_values or ()), strict=True
        )
    ]
    return serialize_entry(
        EntryDraft(ref, labels, drafts, width, height, [], confidences),
        attribute_prefix="groundwork",
        creation_date=changed,
        job_name=JOB,
    )


@given(st.lists(rows(), max_size=5))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_lines_equal_the_codecs_serialization(page):
    writer = RowWriter(label_names=NAMES, attribute_prefix="groundwork", job_name=JOB)

    written = writer.lines(page)

    assert written == "".join(codec_line(row) + "\n" for row in page)


def row(**changes):
    values = {
        "ref": "s3://bkt/a.jpg",
        "width": 640,
        "height": 480,
        "changed": DATE,
        "label_ids": [1, 3],
        "label_confidences": [0.5, None],
        "boxes": [(2, 1, 2, 3, 4), (1, 5, 6, 7, 8), (2, 0, 0, 5, 5)],
        "box_confidences": [0.25, None, 1.0],
    }
    values.update(changes)
    return tuple(values.values())


def test_a_line_with_labels_and_boxes_reads_back_as_the_entry():
    writer = RowWriter(label_names=NAMES, attribute_prefix="groundwork", job_name=JOB)

    draft = parse_line(writer.line(row()))

    assert draft.labels == ["cat", "ünïcödé 猫 🐈"]
    assert draft.label_confidences == {"cat": 0.5, "ünïcödé 猫 🐈": 1.0}
    assert [(b.label, b.left, b.top, b.width, b.height, b.confidence) for b in draft.boxes] == [
        (NAMES[2], 1, 2, 3, 4, 0.25),
        ("cat", 5, 6, 7, 8, 1.0),
        (NAMES[2], 0, 0, 5, 5, 1.0),
    ]
    assert (draft.image_width, draft.image_height) == (640, 480)


@pytest.mark.parametrize(
    "changes",
    [
        {"width": None, "label_ids": None, "label_confidences": None},  # boxes without the image size
        {"label_confidences": [math.nan, None]},
        {"box_confidences": [0.25, math.inf, 1.0]},
    ],
)
def test_rows_the_codec_refuses_raise_as_the_codec_does(changes):
    writer = RowWriter(label_names=NAMES, attribute_prefix="groundwork", job_name=JOB)

    with pytest.raises(ValueError, match=r"\S") as raised:
        writer.line(row(**changes))
    with pytest.raises(ValueError, match=r"\S") as expected:
        codec_line(row(**changes))
    assert str(raised.value) == str(expected.value)


def test_a_line_long_enough_to_pass_an_attribute_limit_is_measured_by_the_codec():
    names = {pk: f"{pk:03}" + "n" * 250 for pk in range(100)}
    writer = RowWriter(label_names=names, attribute_prefix="groundwork", job_name=JOB)
    many = row(label_ids=None, label_confidences=None, boxes=[(pk, 1, 1, 2, 2) for pk in range(100)])
    many = (*many[:-1], [0.5] * 100)

    # 100 box labels of 253 characters put the box metadata's class-map over 20,000 characters.
    with pytest.raises(ValueError, match="over 20,000 characters"):
        writer.line(many)


@pytest.mark.django_db
def test_export_from_the_database_writes_the_codecs_lines_for_the_stored_entries(project_with_roles):
    drafts = [
        Draft("s3://bkt/labels.jpg", labels=["cat", 'dog "rex"', "猫"]),
        Draft("s3://bkt/none.jpg"),
        Draft("s3://bkt/unsized.jpg", image_width=None, image_height=None, labels=["cat"]),
        Draft(
            's3://bkt/boxes and spaces/ü"q".jpg',
            labels=["猫"],
            boxes=[Box('dog "rex"', 1, 2, 30, 40, 0.5), Box("bird", 5, 5, 9, 9, None), Box('dog "rex"', 0, 0, 3, 3)],
        ),
        Draft(
            "s3://bkt/errors.jpg",
            labels=["bird"],
            errors=[Error("ERROR_INVALID_BOUNDING_BOX", "annotation 1 outside the image")],
        ),
    ]
    dataset = make_dataset(project_with_roles.project, drafts=drafts)

    lines = b"".join(iter_manifest_chunks(dataset_id=dataset.pk, job_name="groundwork/train")).decode().splitlines()

    assert Image.objects.get(source_ref="s3://bkt/errors.jpg").has_errors
    expected = []
    for entry in (
        Image.objects.filter(dataset=dataset).order_by("id").prefetch_related("image_labels__label", "boxes__label")
    ):
        links = sorted(entry.image_labels.all(), key=lambda link: link.pk)
        draft = EntryDraft(
            entry.source_ref,
            [link.label.name for link in links],
            [BoxDraft(b.label.name, b.left, b.top, b.width, b.height, b.confidence) for b in entry.boxes.all()],
            entry.width,
            entry.height,
            [],
            {link.label.name: link.confidence for link in links if link.confidence is not None},
        )
        changed = entry.updated_at.replace(tzinfo=None).isoformat(timespec="microseconds")
        expected.append(
            serialize_entry(draft, attribute_prefix="groundwork", creation_date=changed, job_name="groundwork/train")
        )
    assert lines == expected
    assert [parse_line(line).labels for line in lines] == [["cat", 'dog "rex"', "猫"], [], ["cat"], ["猫"], ["bird"]]
