"""The Ground Truth output attribute of a job's result, and that its lines import back through our codec."""

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from datasets.manifest import EntryDraft, parse_line, serialize_entry
from labeling.consolidation import (
    Box,
    consolidate_boxes,
    consolidate_multi_label,
    consolidate_single_label,
    consolidate_verification,
)
from labeling.output_manifest import (
    OutputSpec,
    augmented_line,
    creation_date,
    default_label_attribute,
    label_attribute_problem,
    output_attributes,
)

SPEC = OutputSpec(attribute="animal", job_name="pets-round-1", labels=("dog", "cat", "tabby"))
WHEN = datetime(2026, 3, 1, 10, 15, tzinfo=UTC)
SOURCE = "s3://acme-img/pets/p001.jpg"


def line_of(attributes: dict) -> bytes:
    return orjson.dumps({"source-ref": SOURCE, **attributes})


def test_single_label_writes_the_class_index_and_its_name():
    result = consolidate_single_label(["tabby", "tabby", "cat"])
    attributes = output_attributes(SPEC, result, created_at=WHEN)
    assert attributes == {
        "animal": 2,
        "animal-metadata": {
            "class-name": "tabby",
            "confidence": 0.6667,
            "type": "groundtruth/image-classification",
            "job-name": "labeling-job/pets-round-1",
            "human-annotated": "yes",
            "creation-date": "2026-03-01T10:15:00.000000",
        },
    }
    draft = parse_line(line_of(attributes))
    assert draft.labels == ["tabby"]
    assert draft.errors == []


def test_a_tie_writes_nothing():
    assert output_attributes(SPEC, consolidate_single_label(["dog", "cat"]), created_at=WHEN) == {}
    assert output_attributes(SPEC, consolidate_verification([(True, None), (False, None)]), created_at=WHEN) == {}


def test_multi_label_writes_sorted_class_ids_with_maps_and_imports_back_as_single_labels():
    result = consolidate_multi_label([{"dog", "cat"}, {"cat"}, {"cat", "dog"}])
    attributes = output_attributes(SPEC, result, created_at=WHEN)
    assert attributes["animal"] == [0, 1]
    metadata = attributes["animal-metadata"]
    assert metadata["class-map"] == {"0": "dog", "1": "cat"}
    assert metadata["confidence-map"] == {"0": 0.6667, "1": 1.0}
    assert metadata["type"] == "groundtruth/image-classification-multilabel"
    draft = parse_line(line_of(attributes))
    assert sorted(draft.labels) == ["cat", "dog"]
    assert draft.errors == []


def test_boxes_write_image_size_annotations_objects_and_class_map():
    answers = [
        [Box("cat", 10, 10, 100, 80), Box("dog", 300, 200, 50, 50)],
        [Box("cat", 12, 8, 100, 84)],
        [Box("cat", 11, 10, 98, 80), Box("dog", 302, 198, 50, 52)],
    ]
    attributes = output_attributes(SPEC, consolidate_boxes(answers), created_at=WHEN, image_size=(640, 480))
    value = attributes["animal"]
    assert value["image_size"] == [{"width": 640, "height": 480, "depth": 3}]
    assert [a["class_id"] for a in value["annotations"]] == [1, 0]
    metadata = attributes["animal-metadata"]
    assert len(metadata["objects"]) == len(value["annotations"])
    assert metadata["class-map"] == {"1": "cat", "0": "dog"}
    assert metadata["objects"][0]["confidence"] == 1.0
    draft = parse_line(line_of(attributes))
    assert draft.errors == []
    assert (draft.image_width, draft.image_height) == (640, 480)
    imported = sorted((b.label, b.left, b.top, b.width, b.height) for b in draft.boxes)
    assert imported == [("cat", 11, 9, 99, 82), ("dog", 301, 199, 50, 51)]


def test_boxes_need_the_image_size():
    with pytest.raises(ValueError, match="image size"):
        output_attributes(SPEC, consolidate_boxes([[Box("cat", 1, 1, 5, 5)]]), created_at=WHEN)


def test_an_empty_box_result_is_an_empty_annotation_list():
    attributes = output_attributes(SPEC, consolidate_boxes([[], []]), created_at=WHEN, image_size=(64, 64))
    assert attributes["animal"]["annotations"] == []
    assert attributes["animal-metadata"]["objects"] == []
    assert attributes["animal-metadata"]["class-map"] == {}


def test_verification_writes_the_verification_class_and_worker_feedback():
    result = consolidate_verification([(False, "box misses the cap"), (False, None), (True, "  ")])
    attributes = output_attributes(SPEC, result, created_at=WHEN)
    assert attributes["animal"] == 0
    metadata = attributes["animal-metadata"]
    assert metadata["class-name"] == "incorrect"
    assert metadata["type"] == "groundtruth/label-verification"
    assert metadata["worker-feedback"] == [{"comment": "box misses the cap"}]
    yes = output_attributes(SPEC, consolidate_verification([(True, None)]), created_at=WHEN)
    assert yes["animal"] == 1
    assert "worker-feedback" not in yes["animal-metadata"]


def test_a_label_outside_the_job_is_refused():
    with pytest.raises(ValueError, match="not one of the job's labels"):
        output_attributes(SPEC, consolidate_single_label(["horse"]), created_at=WHEN)


def test_creation_date_is_utc_without_a_zone():
    plus_two = timezone(timedelta(hours=2))
    assert creation_date(datetime(2026, 3, 1, 12, 0, 0, 5, tzinfo=plus_two)) == "2026-03-01T10:00:00.000005"
    assert creation_date(datetime(2026, 3, 1, 12, 0)) == "2026-03-01T12:00:00.000000"


def test_the_augmented_line_keeps_the_input_keys_and_overwrites_the_job_attribute():
    entry = EntryDraft(source_ref=SOURCE, labels=["dog"], boxes=[])
    input_line = orjson.loads(serialize_entry(entry, creation_date="2026-01-01T00:00:00.000000"))
    input_line["animal"] = "old value"
    attributes = output_attributes(SPEC, consolidate_single_label(["cat"]), created_at=WHEN)
    line = augmented_line(input_line, attributes)
    assert line["source-ref"] == SOURCE
    assert line["label-0-metadata"]["class-name"] == "dog"
    assert line["animal"] == 1
    assert sorted(parse_line(orjson.dumps(line)).labels) == ["cat", "dog"]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("animal", None),
        ("boxes-check", None),
        ("a--b", None),
        ("", "letters or digits"),
        ("-animal", "letters or digits"),
        ("animal_1", "letters or digits"),
        ("x" * 128, "letters or digits"),
        ("animal-metadata", "-metadata"),
        ("animal-ref", "-ref"),
        ("source-ref", "-ref"),
        ("source", "'source'"),
    ],
)
def test_label_attribute_names_follow_ground_truth(name, problem):
    found = label_attribute_problem(name)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


def test_an_attribute_already_on_the_line_is_refused():
    assert "already used" in label_attribute_problem("label-0", taken=("label-0", "label-boxes"))


labels = st.lists(st.sampled_from(SPEC.labels), max_size=3, unique=True)


@given(st.lists(labels, min_size=1, max_size=9))
def test_any_multi_label_result_imports_back_as_the_labels_it_kept(answers):
    result = consolidate_multi_label([set(a) for a in answers])
    attributes = output_attributes(SPEC, result, created_at=WHEN)
    draft = parse_line(line_of(attributes))
    assert sorted(draft.labels) == sorted(result.labels)


box_answers = st.lists(
    st.lists(
        st.builds(
            Box,
            label=st.sampled_from(SPEC.labels),
            left=st.integers(0, 500),
            top=st.integers(0, 300),
            width=st.integers(2, 100),
            height=st.integers(2, 100),
        ),
        max_size=4,
    ),
    min_size=1,
    max_size=5,
)


@given(box_answers)
def test_any_box_result_imports_back_with_every_box(answers):
    result = consolidate_boxes(answers)
    attributes = output_attributes(SPEC, result, created_at=WHEN, image_size=(640, 480))
    draft = parse_line(line_of(attributes))
    assert draft.errors == []
    assert sorted((b.label, b.left, b.top, b.width, b.height) for b in draft.boxes) == sorted(
        (b.label, b.left, b.top, b.width, b.height) for b in result.boxes
    )


@pytest.mark.parametrize(
    ("job_name", "attribute"),
    [
        ("cat or dog", "cat-or-dog"),
        ("  Pets: round #2 ", "Pets-round-2"),
        ("animal", "animal"),
        ("boxes-metadata", "labels"),
        ("ÄÖÜ", "labels"),
        ("x" * 200, "x" * 127),
    ],
)
def test_a_job_name_becomes_a_valid_label_attribute(job_name, attribute):
    assert default_label_attribute(job_name) == attribute
    assert label_attribute_problem(attribute) is None
