"""The manifest line codec: reference lines, one test per error code, edge input, and a round-trip property."""

import copy
import json
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datasets.manifest import (
    MAX_LINE_CHARS,
    BoxDraft,
    EntryDraft,
    EntryError,
    LineRejected,
    parse_line,
    parse_s3_uri,
    serialize_entry,
)
from tests.fixtures.s3 import s3_keys

DATE = "2024-03-01T10:15:00.000000"

# The reference's examples (rekognition-ground-truth.md §1.4-1.7), as dicts to vary.
CLASSIFICATION = {
    "source-ref": "s3://acme-img/pets/p001.jpg",
    "animal": 2,
    "animal-metadata": {
        "class-name": "tabby",
        "confidence": 0.91,
        "type": "groundtruth/image-classification",
        "job-name": "labeling-job/animal",
        "human-annotated": "yes",
        "creation-date": DATE,
    },
}
MULTILABEL = {
    "source-ref": "s3://acme-img/street/0042.png",
    "tags": [0, 3],
    "tags-metadata": {
        "job-name": "labeling-job/tags",
        "class-map": {"0": "car", "3": "bicycle"},
        "confidence-map": {"0": 0.88, "3": 0.64},
        "type": "groundtruth/image-classification-multilabel",
        "human-annotated": "yes",
        "creation-date": DATE,
    },
}
BOXES = {
    "source-ref": "s3://acme-img/shelf/0007.jpg",
    "boxes": {
        "image_size": [{"width": 1024, "height": 768, "depth": 3}],
        "annotations": [
            {"class_id": 0, "left": 40, "top": 52, "width": 200, "height": 310},
            {"class_id": 4, "left": 600, "top": 120, "width": 96, "height": 80},
        ],
    },
    "boxes-metadata": {
        "objects": [{"confidence": 0.93}, {"confidence": 0.71}],
        "class-map": {"0": "bottle", "4": "can"},
        "type": "groundtruth/object-detection",
        "human-annotated": "yes",
        "creation-date": DATE,
        "job-name": "labeling-job/boxes",
    },
}
VERIFICATION = (
    '{"source-ref":"s3://acme-img/shelf/0007.jpg","boxes":{"image_size":[{"width":1024,"height":768,"depth":3}],'
    '"annotations":[{"class_id":0,"left":40,"top":52,"width":200,"height":310}]},"boxes-metadata":{"objects":'
    '[{"confidence":0.93}],"class-map":{"0":"bottle"},"type":"groundtruth/object-detection","human-annotated":'
    '"yes","creation-date":"2024-03-01T10:15:00.000000","job-name":"labeling-job/boxes"},"boxes-check":1,'
    '"boxes-check-metadata":{"class-name":"bad","confidence":0.82,"type":"groundtruth/label-verification",'
    '"job-name":"labeling-job/boxes-check","human-annotated":"yes","creation-date":"2024-03-02T08:00:00.000000",'
    '"worker-feedback":[{"comment":"box misses the cap"}]}}'
)


def line_of(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)


def variant(base, change):
    """A deep copy of a reference line with `change(copy)` applied, as a JSON line."""
    obj = copy.deepcopy(base)
    change(obj)
    return line_of(obj)


def box_line(annotations, *, size=(1024, 768), class_map=None, confidences=None):
    return line_of(
        {
            "source-ref": "s3://acme-img/shelf/0007.jpg",
            "boxes": {"image_size": [{"width": size[0], "height": size[1], "depth": 3}], "annotations": annotations},
            "boxes-metadata": {
                "objects": [{"confidence": c} for c in (confidences or [0.9] * len(annotations))],
                "class-map": class_map if class_map is not None else {"0": "bottle"},
                "type": "groundtruth/object-detection",
            },
        }
    )


def box(class_id=0, left=10, top=10, width=50, height=50):
    return {"class_id": class_id, "left": left, "top": top, "width": width, "height": height}


def rejected(line, code) -> LineRejected:
    with pytest.raises(LineRejected) as caught:
        parse_line(line)
    assert caught.value.code == code, caught.value.message
    return caught.value


def codes(entry: EntryDraft) -> list[str]:
    return [error.code for error in entry.errors]


# Lines the reference shows


def test_classification_line_gives_its_label_and_confidence():
    entry = parse_line(line_of(CLASSIFICATION))

    assert entry == EntryDraft(
        source_ref="s3://acme-img/pets/p001.jpg", labels=["tabby"], boxes=[], label_confidences={"tabby": 0.91}
    )


def test_multilabel_line_expands_every_class_id_into_a_label():
    entry = parse_line(line_of(MULTILABEL))

    assert entry.labels == ["car", "bicycle"]
    assert entry.label_confidences == {"car": 0.88, "bicycle": 0.64}
    assert entry.errors == []


def test_box_line_gives_boxes_in_pixels_and_the_image_size():
    entry = parse_line(line_of(BOXES))

    assert entry.boxes == [BoxDraft("bottle", 40, 52, 200, 310, 0.93), BoxDraft("can", 600, 120, 96, 80, 0.71)]
    assert (entry.image_width, entry.image_height) == (1024, 768)
    assert entry.labels == []
    assert entry.errors == []


def test_verification_attribute_is_dropped_and_the_boxes_are_kept():
    entry = parse_line(VERIFICATION)

    assert entry.boxes == [BoxDraft("bottle", 40, 52, 200, 310, 0.93)]
    assert entry.labels == []
    assert codes(entry) == ["ERROR_UNSUPPORTED_USE_CASE_TYPE"]
    assert '"boxes-check"' in entry.errors[0].message
    assert "groundtruth/label-verification" in entry.errors[0].message


def test_several_attributes_on_one_line_all_contribute():
    obj = {**copy.deepcopy(BOXES), **{k: v for k, v in MULTILABEL.items() if k != "source-ref"}}
    obj.update({"animal": 2, "animal-metadata": {**CLASSIFICATION["animal-metadata"], "class-name": "car"}})
    obj["more"] = 0
    obj["more-metadata"] = {"class-name": "bottle", "type": "groundtruth/image-classification"}

    entry = parse_line(line_of(obj))

    # "car" twice collapses (first confidence kept); "bottle" is both an image label and a box label.
    assert entry.labels == ["car", "bicycle", "bottle"]
    assert entry.label_confidences == {"car": 0.88, "bicycle": 0.64}
    assert [b.label for b in entry.boxes] == ["bottle", "can"]
    assert entry.errors == []


def test_line_with_only_source_ref_is_a_valid_unlabeled_entry():
    entry = parse_line('{"source-ref":"s3://acme-img/new/upload.jpg"}')

    assert entry == EntryDraft(source_ref="s3://acme-img/new/upload.jpg", labels=[], boxes=[])


def test_extra_keys_and_dollar_keys_are_ignored():
    line = variant(CLASSIFICATION, lambda o: o.update({"customer-id": 42, "note": {"a": 1}, "$ref": {"x": 1}}))

    entry = parse_line(line)

    assert entry.labels == ["tabby"]
    assert entry.errors == []


def test_human_annotated_creation_date_and_job_name_may_be_missing():
    def strip(obj):
        for key in ("human-annotated", "creation-date", "job-name", "confidence"):
            del obj["animal-metadata"][key]

    entry = parse_line(variant(CLASSIFICATION, strip))

    assert entry.labels == ["tabby"]
    assert entry.label_confidences == {}
    assert entry.errors == []


def test_label_names_lose_surrounding_whitespace():
    entry = parse_line(variant(CLASSIFICATION, lambda o: o["animal-metadata"].update({"class-name": "  tabby \t"})))

    assert entry.labels == ["tabby"]


def test_empty_annotations_give_no_boxes_and_no_error():
    entry = parse_line(box_line([], class_map={}))

    assert entry.boxes == []
    assert entry.errors == []
    assert (entry.image_width, entry.image_height) == (1024, 768)


# Line framing and JSON


def test_crlf_and_lf_line_endings_are_accepted():
    line = line_of(CLASSIFICATION)

    assert parse_line(line + "\r\n") == parse_line(line + "\n") == parse_line(line)


def test_bytes_input_is_read_as_utf8():
    line = variant(CLASSIFICATION, lambda o: o["animal-metadata"].update({"class-name": "chat tigré 🐈"}))

    assert parse_line(line.encode("utf-8") + b"\r\n").labels == ["chat tigré 🐈"]


def test_bom_at_the_start_is_ignored():
    line = line_of(CLASSIFICATION)

    assert parse_line("\ufeff" + line).labels == ["tabby"]
    assert parse_line(("\ufeff" + line).encode("utf-8")).labels == ["tabby"]


def test_non_utf8_bytes_are_rejected_as_invalid_json_line():
    line = line_of(CLASSIFICATION).encode("utf-8").replace(b"tabby", b"tab\xe9y")

    error = rejected(line, "ERROR_INVALID_JSON_LINE")

    assert "UTF-8" in error.message


def test_line_of_exactly_100000_characters_is_accepted_and_one_more_is_rejected():
    base = line_of({**CLASSIFICATION, "pad": ""})
    padded = base.replace('"pad": ""', '"pad": "' + "x" * (MAX_LINE_CHARS - len(base)) + '"')
    assert len(padded) == MAX_LINE_CHARS

    assert parse_line(padded + "\n").labels == ["tabby"]
    too_long = padded.replace('"pad": "', '"pad": "y')
    assert "100,001 characters" in rejected(too_long, "ERROR_INVALID_JSON_LINE").message
    rejected(too_long.encode("utf-8"), "ERROR_INVALID_JSON_LINE")


def test_very_long_bytes_are_rejected_without_decoding():
    rejected(b"\xff" * (5 * MAX_LINE_CHARS), "ERROR_INVALID_JSON_LINE")


@pytest.mark.parametrize(
    "line",
    [
        '{"source-ref":"s3://acme-img/a.jpg",}',
        '{"source-ref":"s3://acme-img/a.jpg" "x":1}',
        "{'source-ref':'s3://acme-img/a.jpg'}",
        '{"source-ref":"s3://acme-img/a.jpg"}{"source-ref":"s3://acme-img/b.jpg"}',
        "",
        "   ",
    ],
)
def test_invalid_json_is_rejected(line):
    rejected(line, "ERROR_INVALID_JSON_LINE")


@pytest.mark.parametrize("value", ['["s3://acme-img/a.jpg"]', '"s3://acme-img/a.jpg"', "42", "null", "true"])
def test_json_value_that_is_not_an_object_is_rejected(value):
    assert "not an object" in rejected(value, "ERROR_INVALID_JSON_LINE").message


def test_deeply_nested_json_is_rejected_without_recursion_error():
    depth = 40_000
    line = '{"source-ref":"s3://acme-img/a.jpg","x":' + "[" * depth + "]" * depth + "}"

    rejected(line, "ERROR_INVALID_JSON_LINE")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_rejected_as_invalid_json(constant):
    line = line_of(CLASSIFICATION).replace('"confidence": 0.91', f'"confidence": {constant}')

    rejected(line, "ERROR_INVALID_JSON_LINE")


def test_integer_over_pythons_digit_limit_is_rejected_as_invalid_json():
    line = line_of(CLASSIFICATION).replace('"animal": 2', '"animal": ' + "9" * 5000)

    rejected(line, "ERROR_INVALID_JSON_LINE")


def test_huge_integer_coordinate_is_an_invalid_box():
    entry = parse_line(box_line([box(left=10**40), box()]))

    assert codes(entry) == ["ERROR_INVALID_BOUNDING_BOX"]
    assert len(entry.boxes) == 1


def test_huge_image_size_is_an_invalid_attribute():
    entry = parse_line(box_line([box()], size=(10**40, 768)))

    assert codes(entry)[0] == "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT"


def test_raw_line_break_inside_the_line_is_rejected():
    rejected('{"source-ref":\n"s3://acme-img/a.jpg"}', "ERROR_INVALID_JSON_LINE")


def test_rejection_message_names_the_line_number():
    with pytest.raises(LineRejected) as caught:
        parse_line("[]", line_number=17)

    assert caught.value.message.startswith("line 17: ")
    assert caught.value.line_number == 17
    assert caught.value.as_error() == EntryError("ERROR_INVALID_JSON_LINE", caught.value.message)


# source-ref


def test_missing_source_ref_is_rejected():
    rejected(variant(CLASSIFICATION, lambda o: o.pop("source-ref")), "ERROR_MISSING_SOURCE_REF")


def test_misspelt_source_ref_is_missing():
    line = line_of({"source_ref": "s3://acme-img/a.jpg", "source": "inline text"})

    assert '"source"' in rejected(line, "ERROR_MISSING_SOURCE_REF").message


@pytest.mark.parametrize(
    "ref",
    [
        "https://acme-img.s3.amazonaws.com/pets/p001.jpg",
        "S3://acme-img/p.jpg",
        "s3://acme-img",
        "s3://acme-img/",
        "s3://ab/p.jpg",
        "s3://Acme-Img/p.jpg",
        "s3://acme_img/p.jpg",
        "s3://-acme/p.jpg",
        "s3://acme../p.jpg",
        "s3://acme..img/p.jpg",
        "s3://192.168.1.10/p.jpg",
        "s3://xn--acme/p.jpg",
        "s3://acme-s3alias/p.jpg",
        "s3://" + "a" * 64 + "/p.jpg",
        "s3://acme-img/" + "é" * 513,
        " s3://acme-img/p.jpg",
        "s3://acme-img/\ud800.jpg",
        "s3://acme-img/p\x00.jpg",
    ],
)
def test_source_ref_that_is_not_an_s3_object_uri_is_rejected(ref):
    rejected(variant(CLASSIFICATION, lambda o: o.update({"source-ref": ref})), "ERROR_INVALID_SOURCE_REF_FORMAT")


@pytest.mark.parametrize("ref", [None, 42, ["s3://acme-img/p.jpg"], {"bucket": "acme-img"}])
def test_source_ref_that_is_not_a_string_is_rejected(ref):
    rejected(variant(CLASSIFICATION, lambda o: o.update({"source-ref": ref})), "ERROR_INVALID_SOURCE_REF_FORMAT")


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://acme-img/pets/p001.jpg", ("acme-img", "pets/p001.jpg")),
        ("s3://a.b-c.1/x", ("a.b-c.1", "x")),
        ("s3://acme-img/a space/key?.jpg#x", ("acme-img", "a space/key?.jpg#x")),
        ("s3://acme-img/%2e%2e/a%2F%2Fb.jpg", ("acme-img", "%2e%2e/a%2F%2Fb.jpg")),  # not percent-decoded
        ("s3://acme-img/.../.a/a./..b", ("acme-img", ".../.a/a./..b")),  # dots, but no "." or ".." segment
        ("s3://acme-img/" + "é" * 512, ("acme-img", "é" * 512)),
    ],
)
def test_s3_uri_splits_into_bucket_and_verbatim_key(uri, expected):
    assert parse_s3_uri(uri) == expected


# S3 stores these keys literally, but a proxy, an S3-compatible server or a local path may resolve them to
# another object: they are refused, never rewritten.
REFUSED_KEY_SHAPES = [
    ("s3://acme-img/.", "'.' segment"),
    ("s3://acme-img/./p.jpg", "'.' segment"),
    ("s3://acme-img/pets/./p.jpg", "'.' segment"),
    ("s3://acme-img/pets/.", "'.' segment"),
    ("s3://acme-img/..", "'..' segment"),
    ("s3://acme-img/../p.jpg", "'..' segment"),
    ("s3://acme-img/pets/../../other/p.jpg", "'..' segment"),
    ("s3://acme-img/pets/..", "'..' segment"),
    ("s3://acme-img/a//b.jpg", "empty segment"),
    ("s3://acme-img//double/slash key?.jpg", "empty segment"),  # a leading "/"
    ("s3://acme-img///p.jpg", "empty segment"),
    ("s3://acme-img/pets/", "empty segment"),  # an object key ending in "/" is a folder, not an image
    ("s3://acme-img/pets\\p.jpg", "backslash"),
    ("s3://acme-img/\\", "backslash"),
    ("s3://acme-img/..\\p.jpg", "backslash"),
]


@pytest.mark.parametrize(("uri", "problem"), REFUSED_KEY_SHAPES)
def test_s3_uri_with_dot_or_empty_segments_or_a_backslash_is_refused(uri, problem):
    with pytest.raises(ValueError, match=problem):
        parse_s3_uri(uri)


@pytest.mark.parametrize(("uri", "problem"), REFUSED_KEY_SHAPES)
def test_source_ref_with_dot_or_empty_segments_or_a_backslash_is_rejected(uri, problem):
    caught = rejected(
        variant(CLASSIFICATION, lambda o: o.update({"source-ref": uri})), "ERROR_INVALID_SOURCE_REF_FORMAT"
    )

    assert problem in caught.message


def test_a_folder_uri_may_end_in_a_slash_but_has_no_other_empty_or_dot_segment():
    assert parse_s3_uri("s3://acme-img/pets/", allow_empty_key=True) == ("acme-img", "pets/")
    for uri in ["s3://acme-img//", "s3://acme-img/pets//", "s3://acme-img/pets/../", "s3://acme-img/./"]:
        with pytest.raises(ValueError, match="segment"):
            parse_s3_uri(uri, allow_empty_key=True)


def test_s3_folder_uri_may_have_an_empty_key_when_asked():
    assert parse_s3_uri("s3://acme-img", allow_empty_key=True) == ("acme-img", "")
    with pytest.raises(ValueError, match="no object key"):
        parse_s3_uri("s3://acme-img/")


# Label attributes and their metadata


def test_boxes_without_their_metadata_are_rejected_as_no_label_attributes():
    line = variant(BOXES, lambda o: o.pop("boxes-metadata"))

    assert '"boxes-metadata"' in rejected(line, "ERROR_NO_LABEL_ATTRIBUTES").message


def test_metadata_without_its_attribute_is_rejected_as_no_label_attributes():
    rejected(variant(CLASSIFICATION, lambda o: o.pop("animal")), "ERROR_NO_LABEL_ATTRIBUTES")


def test_misspelt_metadata_is_rejected_as_no_label_attributes():
    line = variant(CLASSIFICATION, lambda o: o.update({"animal-metdata": o.pop("animal-metadata")}))

    rejected(line, "ERROR_NO_LABEL_ATTRIBUTES")


def test_broken_attribute_next_to_a_valid_one_is_kept_as_an_error():
    line = variant(CLASSIFICATION, lambda o: o.update({"boxes": BOXES["boxes"]}))

    entry = parse_line(line)

    assert entry.labels == ["tabby"]
    assert codes(entry) == ["ERROR_NO_LABEL_ATTRIBUTES"]


def test_line_whose_attributes_are_all_unsupported_is_kept_unlabeled_with_its_errors():
    line = variant(CLASSIFICATION, lambda o: o["animal-metadata"].update({"type": "groundtruth/semantic-segmentation"}))

    entry = parse_line(line)

    assert entry.labels == []
    assert entry.boxes == []
    assert codes(entry) == ["ERROR_UNSUPPORTED_USE_CASE_TYPE", "ERROR_NO_VALID_LABEL_ATTRIBUTES"]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda m: m.pop("class-name"), "class-name"),
        (lambda m: m.update({"class-name": 7}), "class-name"),
        (lambda m: m.update({"confidence": 1.5}), "confidence"),
        (lambda m: m.update({"confidence": -0.1}), "confidence"),
        (lambda m: m.update({"confidence": "high"}), "confidence"),
        (lambda m: m.update({"confidence": True}), "confidence"),
        (lambda m: m.pop("type"), "type"),
        (lambda m: m.update({"type": ["groundtruth/image-classification"]}), "type"),
    ],
)
def test_bad_classification_metadata_drops_the_attribute(change, where):
    entry = parse_line(variant(CLASSIFICATION, lambda o: change(o["animal-metadata"])))

    assert entry.labels == []
    assert codes(entry) == ["ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT", "ERROR_NO_VALID_LABEL_ATTRIBUTES"]
    assert where in entry.errors[0].message
    assert '"animal"' in entry.errors[0].message


def test_metadata_that_is_not_an_object_drops_the_attribute():
    entry = parse_line(variant(CLASSIFICATION, lambda o: o.update({"animal-metadata": "tabby"})))

    assert codes(entry)[0] == "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT"


def test_class_map_that_is_not_an_object_drops_the_box_attribute():
    entry = parse_line(variant(BOXES, lambda o: o["boxes-metadata"].update({"class-map": [["0", "bottle"]]})))

    assert entry.boxes == []
    assert codes(entry)[0] == "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT"


def test_multilabel_class_map_that_is_not_an_object_drops_the_attribute():
    entry = parse_line(variant(MULTILABEL, lambda o: o["tags-metadata"].update({"class-map": "car,bicycle"})))

    assert codes(entry)[0] == "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT"


def test_multilabel_class_id_not_in_class_map_drops_that_label():
    entry = parse_line(variant(MULTILABEL, lambda o: o.update({"tags": [0, 7, 3]})))

    assert entry.labels == ["car", "bicycle"]
    assert entry.errors == [
        EntryError("ERROR_MISSING_CLASS_MAP_ID", 'value 1 of attribute "tags": class id 7 is not in class-map')
    ]


def test_multilabel_value_that_is_not_an_array_drops_the_attribute():
    entry = parse_line(variant(MULTILABEL, lambda o: o.update({"tags": 0})))

    assert codes(entry)[0] == "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT"


@pytest.mark.parametrize(
    "image_size",
    [
        None,
        {"width": 1024, "height": 768, "depth": 3},
        [],
        [{"width": 1024, "height": 768}, {"width": 1024, "height": 768}],
        [{"width": "1024", "height": 768}],
        [{"width": 1024}],
        [{"width": 0, "height": 768}],
        [{"width": 1024.5, "height": 768}],
    ],
)
def test_bad_image_size_drops_the_box_attribute(image_size):
    entry = parse_line(variant(BOXES, lambda o: o["boxes"].update({"image_size": image_size})))

    assert entry.boxes == []
    assert entry.image_width is None
    assert codes(entry) == ["ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT", "ERROR_NO_VALID_LABEL_ATTRIBUTES"]
    assert "image_size" in entry.errors[0].message


def test_annotations_that_are_not_an_array_drop_the_box_attribute():
    entry = parse_line(variant(BOXES, lambda o: o["boxes"].update({"annotations": {"0": box()}})))

    assert codes(entry)[0] == "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT"


@pytest.mark.parametrize("left", [12.5, "40", None, True])
def test_non_integer_coordinate_drops_that_box(left):
    entry = parse_line(box_line([box(left=left), box()]))

    assert len(entry.boxes) == 1
    assert entry.errors[0].code == "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT"
    assert entry.errors[0].message.startswith('annotation 0 of attribute "boxes"')


def test_integral_float_coordinates_are_read_as_integers():
    entry = parse_line(box_line([box(left=40.0, width=50.0)]))

    assert entry.boxes == [BoxDraft("bottle", 40, 10, 50, 50, 0.9)]
    assert type(entry.boxes[0].left) is int


def test_class_id_not_in_class_map_drops_that_box():
    entry = parse_line(box_line([box(), box(), box(class_id=7)]))

    assert len(entry.boxes) == 2
    assert entry.errors == [
        EntryError("ERROR_MISSING_CLASS_MAP_ID", 'annotation 2 of attribute "boxes": class_id 7 is not in class-map')
    ]


def test_string_class_ids_are_looked_up_like_integers():
    assert parse_line(box_line([box(class_id="0")])).boxes[0].label == "bottle"


def test_objects_of_another_length_than_annotations_drop_the_box_attribute():
    line = variant(BOXES, lambda o: o["boxes-metadata"]["objects"].pop())

    entry = parse_line(line)

    assert entry.boxes == []
    assert codes(entry) == ["ERROR_MISSING_BOUNDING_BOX_CONFIDENCE", "ERROR_NO_VALID_LABEL_ATTRIBUTES"]
    assert "1 objects for 2 annotations" in entry.errors[0].message


def test_missing_objects_drop_the_box_attribute():
    entry = parse_line(variant(BOXES, lambda o: o["boxes-metadata"].pop("objects")))

    assert codes(entry)[0] == "ERROR_MISSING_BOUNDING_BOX_CONFIDENCE"


def test_object_without_confidence_drops_that_box():
    entry = parse_line(variant(BOXES, lambda o: o["boxes-metadata"]["objects"][1].pop("confidence")))

    assert [b.label for b in entry.boxes] == ["bottle"]
    assert codes(entry) == ["ERROR_MISSING_BOUNDING_BOX_CONFIDENCE"]
    assert "annotation 1" in entry.errors[0].message


def test_box_confidence_out_of_range_drops_that_box():
    entry = parse_line(box_line([box(), box()], confidences=[0.5, 2]))

    assert len(entry.boxes) == 1
    assert codes(entry) == ["ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT"]


@pytest.mark.parametrize(
    "annotation",
    [
        box(left=1000, width=50),  # 1050 > 1024
        box(top=700, height=69),  # 769 > 768
        box(left=-1),
        box(top=-5),
        box(width=-20),
    ],
)
def test_box_outside_the_image_or_negative_is_dropped_and_the_entry_kept(annotation):
    entry = parse_line(box_line([box(), annotation]))

    assert len(entry.boxes) == 1
    assert codes(entry) == ["ERROR_INVALID_BOUNDING_BOX"]
    assert "annotation 1" in entry.errors[0].message


def test_box_touching_the_image_edges_is_inside():
    assert len(parse_line(box_line([box(left=0, top=0, width=1024, height=768)])).boxes) == 1


@pytest.mark.parametrize(("width", "height"), [(1, 50), (50, 1), (0, 50)])
def test_box_of_one_pixel_or_less_is_too_small(width, height):
    entry = parse_line(box_line([box(), box(width=width, height=height)]))

    assert len(entry.boxes) == 1
    assert codes(entry) == ["ERROR_BOUNDING_BOX_TOO_SMALL"]


def test_too_small_is_judged_after_scaling_the_image_to_1280_pixels():
    # 4096 px scales by 1280/4096 = 0.3125: 3 px becomes 0.94 px (too small), 4 px becomes 1.25 px (kept).
    entry = parse_line(box_line([box(width=3), box(width=4)], size=(4096, 2000)))

    assert [b.width for b in entry.boxes] == [4]
    assert codes(entry) == ["ERROR_BOUNDING_BOX_TOO_SMALL"]
    assert "1280" in entry.errors[0].message


def test_two_pixel_box_is_kept_on_an_image_of_1280_pixels():
    assert len(parse_line(box_line([box(width=2, height=2)], size=(1280, 720))).boxes) == 1


def test_more_than_50_boxes_reject_the_line():
    rejected(box_line([box()] * 51), "ERROR_TOO_MANY_BOUNDING_BOXES")


def test_50_boxes_are_accepted_and_invalid_ones_do_not_count():
    entry = parse_line(box_line([box()] * 50 + [box(class_id=9)] * 3))

    assert len(entry.boxes) == 50
    assert codes(entry) == ["ERROR_MISSING_CLASS_MAP_ID"] * 3


def test_box_attribute_with_no_valid_annotation_keeps_an_unlabeled_entry():
    entry = parse_line(box_line([box(class_id=5), box(left=-3)]))

    assert entry.boxes == []
    assert (entry.image_width, entry.image_height) == (1024, 768)
    assert codes(entry) == [
        "ERROR_MISSING_CLASS_MAP_ID",
        "ERROR_INVALID_BOUNDING_BOX",
        "ERROR_NO_VALID_ANNOTATIONS",
        "ERROR_NO_VALID_LABEL_ATTRIBUTES",
    ]


def test_box_attribute_with_no_valid_annotation_next_to_labels_keeps_the_labels():
    line = variant(CLASSIFICATION, lambda o: o.update({k: v for k, v in json.loads(box_line([box(9)])).items()}))

    entry = parse_line(line)

    assert entry.labels == ["tabby"]
    assert codes(entry) == ["ERROR_MISSING_CLASS_MAP_ID", "ERROR_NO_VALID_ANNOTATIONS"]


def test_two_box_attributes_with_different_image_sizes_keep_the_first():
    def add_second(obj):
        obj["adjusted"] = copy.deepcopy(obj["boxes"])
        obj["adjusted"]["image_size"][0]["width"] = 2048
        obj["adjusted-metadata"] = copy.deepcopy(obj["boxes-metadata"])

    entry = parse_line(variant(BOXES, add_second))

    assert len(entry.boxes) == 2
    assert codes(entry) == ["ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT"]
    assert "differs from 1024x768" in entry.errors[0].message


def test_label_name_over_256_characters_drops_the_label():
    line = variant(CLASSIFICATION, lambda o: o["animal-metadata"].update({"class-name": "x" * 257}))

    entry = parse_line(line)

    assert entry.labels == []
    assert codes(entry)[0] == "ERROR_INVALID_LABEL_NAME_LENGTH"
    assert "257 characters" in entry.errors[0].message


def test_label_name_of_256_characters_is_kept():
    line = variant(CLASSIFICATION, lambda o: o["animal-metadata"].update({"class-name": "é" * 256}))

    assert parse_line(line).labels == ["é" * 256]


@pytest.mark.parametrize("name", ["", "   "])
def test_empty_label_name_drops_the_label(name):
    entry = parse_line(variant(CLASSIFICATION, lambda o: o["animal-metadata"].update({"class-name": name})))

    assert codes(entry)[0] == "ERROR_INVALID_LABEL_NAME_LENGTH"
    assert "empty" in entry.errors[0].message


def test_class_map_name_over_256_characters_drops_the_boxes_that_use_it():
    entry = parse_line(box_line([box(0), box(1)], class_map={"0": "bottle", "1": "c" * 300}))

    assert [b.label for b in entry.boxes] == ["bottle"]
    assert codes(entry) == ["ERROR_INVALID_LABEL_NAME_LENGTH"]


@pytest.mark.parametrize("name", ["tab\nby", "tab\x00by", "tab\x7fby", "tab\ud800by"])
def test_label_name_with_control_characters_or_lone_surrogates_drops_the_label(name):
    line = line_of(CLASSIFICATION).replace('"tabby"', json.dumps(name))

    entry = parse_line(line)

    assert entry.labels == []
    assert codes(entry)[0] == "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT"


def test_more_than_50_labels_reject_the_line():
    tags = list(range(51))
    line = variant(
        MULTILABEL,
        lambda o: o.update(
            {"tags": tags, "tags-metadata": {**o["tags-metadata"], "class-map": {str(i): f"t{i}" for i in tags}}}
        ),
    )

    assert "51 image-level labels" in rejected(line, "ERROR_TOO_MANY_LABELS").message


def test_50_labels_spread_over_attributes_are_accepted():
    obj = {"source-ref": "s3://acme-img/a.jpg"}
    for i in range(50):
        obj[f"l{i}"] = 0
        obj[f"l{i}-metadata"] = {"class-name": f"name {i}", "type": "groundtruth/image-classification"}

    assert len(parse_line(line_of(obj)).labels) == 50


def test_attribute_value_over_20000_characters_drops_the_attribute():
    def pad(obj):
        obj["animal-metadata"]["worker-feedback"] = [{"comment": "z" * 20_000}]

    entry = parse_line(variant(CLASSIFICATION, pad))

    assert entry.labels == []
    assert codes(entry)[0] == "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT"
    assert "20,000" in entry.errors[0].message


def test_messages_cut_long_values_short():
    entry = parse_line(variant(CLASSIFICATION, lambda o: o["animal-metadata"].update({"confidence": "h" * 5000})))

    assert codes(entry)[0] == "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT"
    assert len(entry.errors[0].message) < 120


def test_errors_kept_on_an_entry_are_capped():
    obj = {"source-ref": "s3://acme-img/a.jpg"}
    for i in range(300):
        obj[f"check{i}"] = 1
        obj[f"check{i}-metadata"] = {"class-name": "good", "type": "groundtruth/label-verification"}

    entry = parse_line(line_of(obj))

    assert len(entry.errors) == 101
    assert "201 more errors" in entry.errors[-1].message


# Serialization


def full_entry() -> EntryDraft:
    return EntryDraft(
        source_ref="s3://acme-img/shelf/0007.jpg",
        labels=["shelf", 'say "cheese"'],
        boxes=[
            BoxDraft("bottle", 40, 52, 200, 310, 0.93),
            BoxDraft("can", 600, 120, 96, 80),
            BoxDraft("bottle", 1, 2, 3, 4),
        ],
        image_width=1024,
        image_height=768,
        label_confidences={"shelf": 0.5},
    )


def test_serialized_line_is_the_reference_preferred_form():
    line = serialize_entry(full_entry(), creation_date=DATE, job_name="labeling-job/export-7")

    assert "\n" not in line
    assert ", " not in line  # compact separators
    assert '": ' not in line
    obj = json.loads(line)
    assert list(obj) == [
        "source-ref",
        "label-0",
        "label-0-metadata",
        "label-1",
        "label-1-metadata",
        "label-boxes",
        "label-boxes-metadata",
    ]
    assert obj["label-1-metadata"] == {
        "class-name": 'say "cheese"',
        "confidence": 1.0,
        "type": "groundtruth/image-classification",
        "job-name": "labeling-job/export-7",
        "human-annotated": "yes",
        "creation-date": DATE,
    }
    assert obj["label-0-metadata"]["confidence"] == 0.5
    assert obj["label-boxes"] == {
        "image_size": [{"width": 1024, "height": 768, "depth": 3}],
        "annotations": [
            {"class_id": 0, "left": 40, "top": 52, "width": 200, "height": 310},
            {"class_id": 1, "left": 600, "top": 120, "width": 96, "height": 80},
            {"class_id": 0, "left": 1, "top": 2, "width": 3, "height": 4},
        ],
    }
    assert obj["label-boxes-metadata"] == {
        "objects": [{"confidence": 0.93}, {"confidence": 1.0}, {"confidence": 1.0}],
        "class-map": {"0": "bottle", "1": "can"},
        "type": "groundtruth/object-detection",
        "human-annotated": "yes",
        "creation-date": DATE,
        "job-name": "labeling-job/export-7",
    }


def test_serialized_line_keeps_non_ascii_characters_unescaped():
    entry = EntryDraft("s3://acme-img/ü.jpg", labels=["chat tigré"], boxes=[])

    assert "chat tigré" in serialize_entry(entry, creation_date=DATE)
    assert "s3://acme-img/ü.jpg" in serialize_entry(entry, creation_date=DATE)


def test_serialization_is_deterministic():
    assert serialize_entry(full_entry(), creation_date=DATE) == serialize_entry(full_entry(), creation_date=DATE)


def test_attribute_prefix_and_default_job_name():
    obj = json.loads(serialize_entry(full_entry(), attribute_prefix="gw2", creation_date=DATE))

    assert {"gw2-0", "gw2-1", "gw2-boxes"} <= obj.keys()
    assert obj["gw2-0-metadata"]["job-name"] == "labeling-job/gw2"


def test_creation_date_defaults_to_now_in_utc_without_a_zone():
    date = json.loads(serialize_entry(full_entry()))["label-0-metadata"]["creation-date"]

    assert datetime.fromisoformat(date).tzinfo is None


def test_entry_without_boxes_writes_no_box_attribute_and_no_image_size():
    entry = EntryDraft("s3://acme-img/a.jpg", labels=["cat"], boxes=[], image_width=640, image_height=480)

    obj = json.loads(serialize_entry(entry, creation_date=DATE))

    assert "label-boxes" not in obj
    assert parse_line(serialize_entry(entry, creation_date=DATE)).image_width is None


def test_unlabeled_entry_is_written_as_source_ref_only():
    entry = EntryDraft("s3://acme-img/a.jpg", labels=[], boxes=[])

    assert serialize_entry(entry) == '{"source-ref":"s3://acme-img/a.jpg"}'


def test_boxes_without_an_image_size_raise_value_error():
    entry = EntryDraft("s3://acme-img/a.jpg", labels=[], boxes=[BoxDraft("cat", 1, 1, 10, 10)])

    with pytest.raises(ValueError, match="image size"):
        serialize_entry(entry)


@pytest.mark.parametrize("prefix", ["", "-label", "label-", "label_1", "lab el", "é", "a" * 122])
def test_bad_attribute_prefix_raises_value_error(prefix):
    with pytest.raises(ValueError, match="prefix"):
        serialize_entry(full_entry(), attribute_prefix=prefix)


@pytest.mark.parametrize(
    ("date", "why"),
    [
        ("yesterday", "Invalid isoformat"),
        ("2024-03-01T10:15:00+00:00", "time zone"),
        ("2024-03-01T10:15:00Z", "time zone"),
    ],
)
def test_bad_creation_date_raises_value_error(date, why):
    with pytest.raises(ValueError, match=why):
        serialize_entry(full_entry(), creation_date=date)


def test_bad_source_ref_or_nan_confidence_raise_value_error():
    with pytest.raises(ValueError, match="s3://"):
        serialize_entry(EntryDraft("https://acme-img/a.jpg", labels=[], boxes=[]))
    with pytest.raises(ValueError, match="not a finite number"):
        serialize_entry(EntryDraft("s3://acme-img/a.jpg", ["a"], [], label_confidences={"a": float("nan")}))


# Properties

LABEL_NAMES = st.one_of(
    st.sampled_from(['a "quoted" name', "back\\slash", "\\", '"', "-", "x-metadata", "l'été", "🐈‍⬛", "{}", "0"]),
    st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=256).map(str.strip).filter(bool),
)
CONFIDENCES = st.none() | st.floats(min_value=0, max_value=1)


def _valid_bucket(name: str) -> bool:
    try:
        parse_s3_uri(f"s3://{name}/k")
    except ValueError:
        return False
    return True


@st.composite
def valid_entries(draw) -> EntryDraft:
    bucket = draw(st.from_regex(r"[a-z0-9][a-z0-9.-]{1,30}[a-z0-9]", fullmatch=True).filter(_valid_bucket))
    key = draw(s3_keys())
    labels = draw(st.lists(LABEL_NAMES, max_size=50, unique=True))
    confidences = draw(st.lists(CONFIDENCES, min_size=len(labels), max_size=len(labels)))
    width, height = draw(st.integers(64, 4096)), draw(st.integers(64, 4096))
    longest = max(width, height)
    # The smallest side that stays over 1 px once the image is scaled to 1280 px.
    smallest = longest // 1280 + 1 if longest > 1280 else 2
    box_labels = draw(st.lists(LABEL_NAMES, min_size=1, max_size=8, unique=True))
    boxes = []
    for _ in range(draw(st.integers(0, 50))):
        box_width, box_height = draw(st.integers(smallest, width)), draw(st.integers(smallest, height))
        boxes.append(
            BoxDraft(
                draw(st.sampled_from(box_labels)),
                draw(st.integers(0, width - box_width)),
                draw(st.integers(0, height - box_height)),
                box_width,
                box_height,
                draw(CONFIDENCES),
            )
        )
    return EntryDraft(
        source_ref=f"s3://{bucket}/{key}",
        labels=labels,
        boxes=boxes,
        image_width=width,
        image_height=height,
        label_confidences={name: c for name, c in zip(labels, confidences, strict=True) if c is not None},
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(entry=valid_entries(), prefix=st.sampled_from(["label", "gw", "a-b--c9"]))
def test_a_serialized_entry_parses_back_to_the_same_entry(entry, prefix):
    line = serialize_entry(entry, attribute_prefix=prefix, creation_date=DATE)

    back = parse_line(line)
    assert back.errors == []
    assert back.source_ref == entry.source_ref
    assert back.labels == entry.labels
    # An unknown confidence is written, and so read back, as 1.0.
    assert back.label_confidences == {name: entry.label_confidences.get(name, 1.0) for name in entry.labels}
    assert back.boxes == [
        BoxDraft(b.label, b.left, b.top, b.width, b.height, 1.0 if b.confidence is None else b.confidence)
        for b in entry.boxes
    ]
    # Only a box attribute carries image_size.
    size = (entry.image_width, entry.image_height) if entry.boxes else (None, None)
    assert (back.image_width, back.image_height) == size
    assert parse_line(line.encode("utf-8") + b"\r\n") == back
    assert serialize_entry(back, attribute_prefix=prefix, creation_date=DATE) == line


def parse_or_reject(line) -> EntryDraft | LineRejected:
    try:
        return parse_line(line)
    except LineRejected as exc:
        return exc


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
KEYS = st.sampled_from(["boxes", "boxes-metadata", "tags", "tags-metadata", "x", "$y", "source"])
FIELDS = st.sampled_from(
    ["type", "class-name", "class-map", "objects", "confidence", "confidence-map", "image_size", "annotations"]
)
TYPES = st.sampled_from(
    ["groundtruth/image-classification", "groundtruth/image-classification-multilabel", "groundtruth/object-detection"]
)


@settings(max_examples=300, deadline=None)
@given(fields=st.dictionaries(KEYS, st.dictionaries(FIELDS, TYPES | JSON_VALUES, max_size=6) | JSON_VALUES, max_size=5))
def test_any_json_object_becomes_an_entry_or_is_rejected_with_a_code(fields):
    outcome = parse_or_reject(line_of({"source-ref": "s3://acme-img/a.jpg", **fields}))

    if isinstance(outcome, LineRejected):
        assert outcome.code.startswith("ERROR_")
    else:
        entry = outcome
        assert all(error.code.startswith("ERROR_") and error.message for error in entry.errors)
        assert len(entry.boxes) <= 50
        assert len(entry.labels) <= 50


@settings(max_examples=300, deadline=None)
@given(raw=st.text() | st.binary())
def test_any_text_or_bytes_becomes_an_entry_or_is_rejected(raw):
    outcome = parse_or_reject(raw)

    assert isinstance(outcome, EntryDraft) or outcome.code.startswith("ERROR_")
