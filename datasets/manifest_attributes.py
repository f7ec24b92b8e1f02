"""Reading the label attributes of one manifest line: what each contributes, and what is dropped and why.

Part of the manifest line codec (datasets/manifest.py, which holds the decisions in its docstring); pure Python.
"""

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from core.text import printable
from datasets.manifest_errors import (
    ERROR_BOUNDING_BOX_TOO_SMALL,
    ERROR_INVALID_BOUNDING_BOX,
    ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT,
    ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT,
    ERROR_INVALID_LABEL_NAME_LENGTH,
    ERROR_MISSING_BOUNDING_BOX_CONFIDENCE,
    ERROR_MISSING_CLASS_MAP_ID,
    ERROR_NO_VALID_ANNOTATIONS,
    ERROR_UNSUPPORTED_USE_CASE_TYPE,
    EntryError,
)

MAX_ATTRIBUTE_VALUE_CHARS = 20_000
MAX_LABEL_NAME_CHARS = 256
# Bounds what a hostile line can store in an entry's errors column.
MAX_ERRORS_PER_ENTRY = 100
# Training shrinks an image whose longer side is over this before its too-small test (reference §2.5).
TRAINING_MAX_SIDE = 1280
# The image width/height columns are 32-bit; the 64-4096 px rule is checked where the image bytes are read.
MAX_IMAGE_SIDE = 2**31 - 1

TYPE_CLASSIFICATION = "groundtruth/image-classification"
TYPE_MULTILABEL = "groundtruth/image-classification-multilabel"
TYPE_OBJECT_DETECTION = "groundtruth/object-detection"

_JSON_TYPES = {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


@dataclass(frozen=True)
class BoxDraft:
    """A box in pixels of the image, origin top-left."""

    label: str
    left: int
    top: int
    width: int
    height: int
    confidence: float | None = None


def json_type(value: object) -> str:
    return "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)


def quoted(text: str) -> str:
    # Keys can be as long as the line; messages are stored per entry (so no NUL) and sent (so no surrogate).
    return f'"{printable(text)}"' if len(text) <= 60 else f'"{printable(text[:57])}..."'


def shown(value: object) -> str:
    """A value as JSON-ish text for a message, cut short: messages are stored per entry."""
    text = repr(value) if type(value) in (str, int, float) else json_type(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _as_int(value: object) -> int | None:
    """An integer coordinate: a JSON integer, or a float with an integral value (some tools write 40.0)."""
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    return None


def _class_key(value: object) -> str | None:
    """A class id as a class-map key ("0"); GT writes integers, some hand-made files write strings."""
    if type(value) is str:
        return value
    number = _as_int(value)
    return None if number is None else str(number)


def _confidence(value: object) -> tuple[float | None, str]:
    """(confidence, problem): a number in [0, 1] (JSON null counts as absent), or why not."""
    if value is None:
        return None, ""
    if type(value) not in (int, float) or not 0 <= value <= 1:  # NaN fails the range test too
        return None, f"confidence {shown(value)} is not a number from 0 to 1"
    return float(value), ""


@lru_cache(maxsize=16_384)
def _clean_label(raw: str) -> tuple[str, str, str]:
    """(name, code, problem) of a label name; problem is "" when it is fine. Cached: names repeat a lot."""
    name = raw.strip()
    if not name:
        return "", ERROR_INVALID_LABEL_NAME_LENGTH, "is empty"
    if len(name) > MAX_LABEL_NAME_CHARS:
        return "", ERROR_INVALID_LABEL_NAME_LENGTH, f"has {len(name)} characters (at most {MAX_LABEL_NAME_CHARS})"
    if not name.isprintable() and any(c < " " or c == "\x7f" or "\ud800" <= c <= "\udfff" for c in name):
        return "", ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, "holds a control character or a lone surrogate"
    return name, "", ""


def compact_size(value: object) -> int:
    try:
        return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
    except (RecursionError, ValueError):
        return MAX_ATTRIBUTE_VALUE_CHARS + 1


class AttributeReader:
    """Collects what the label attributes of one line contribute, and the errors of the parts dropped."""

    def __init__(self, line_chars: int) -> None:
        self.labels: dict[str, float | None] = {}
        self.boxes: list[BoxDraft] = []
        self.width: int | None = None
        self.height: int | None = None
        self.size_from = ""
        self.errors: list[EntryError] = []
        self.errors_not_kept = 0
        # A value can only pass 20,000 characters on a line that long: skip the measuring otherwise.
        self.measure = line_chars > MAX_ATTRIBUTE_VALUE_CHARS

    def error(self, code: str, message: str) -> None:
        if len(self.errors) < MAX_ERRORS_PER_ENTRY:
            self.errors.append(EntryError(code, printable(message)))
        else:
            self.errors_not_kept += 1

    def add_label(self, name: str, confidence: float | None) -> None:
        if self.labels.get(name) is None:  # first seen wins; a later one only fills a missing confidence
            self.labels[name] = confidence

    def read(self, name: str, value: object, metadata: object) -> bool:
        """Take what the attribute contributes; False when it is dropped or nothing of it is valid."""
        where = f"attribute {quoted(name)}"
        if type(metadata) is not dict:
            self.error(
                ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT,
                f"{where}: its metadata is a JSON {json_type(metadata)}, not an object",
            )
            return False
        if self.measure:
            for part, code, size in (
                ("value", ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT, compact_size(value)),
                ("metadata", ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, compact_size(metadata)),
            ):
                if size > MAX_ATTRIBUTE_VALUE_CHARS:
                    self.error(code, f"{where}: its {part} has {size:,} characters (at most 20,000)")
                    return False
        kind = metadata.get("type")
        if kind == TYPE_CLASSIFICATION:
            return self.classification(where, metadata)
        if kind == TYPE_MULTILABEL:
            return self.multilabel(where, value, metadata)
        if kind == TYPE_OBJECT_DETECTION:
            return self.object_detection(name, value, metadata)
        if type(kind) is not str:
            self.error(ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, f"{where}: metadata has no string type")
        else:
            self.error(
                ERROR_UNSUPPORTED_USE_CASE_TYPE,
                f"{where}: type {quoted(kind)} is not supported (image classification, multi-label "
                "classification and object detection are)",
            )
        return False

    def label_name(self, where: str, raw: object, what: str) -> str | None:
        if type(raw) is not str:
            self.error(ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, f"{where}: {what} is not a string")
            return None
        name, code, problem = _clean_label(raw)
        if problem:
            self.error(code, f"{where}: {what} {problem}")
            return None
        return name

    def classification(self, where: str, metadata: dict[str, Any]) -> bool:
        if "class-name" not in metadata:
            self.error(ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, f"{where}: metadata has no class-name")
            return False
        name = self.label_name(where, metadata["class-name"], "class-name")
        if name is None:
            return False
        confidence, problem = _confidence(metadata.get("confidence"))
        if problem:
            self.error(ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, f"{where}: {problem}")
            return False
        self.add_label(name, confidence)
        return True

    def multilabel(self, where: str, value: object, metadata: dict[str, Any]) -> bool:
        class_map = metadata.get("class-map")
        confidence_map = metadata.get("confidence-map")
        if confidence_map is None:
            confidence_map = {}
        if type(class_map) is not dict or type(confidence_map) is not dict:
            self.error(
                ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT,
                f"{where}: class-map (required) and confidence-map (optional) must be objects",
            )
            return False
        if type(value) is not list:
            self.error(
                ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT, f"{where}: value is a JSON {json_type(value)}, not an array"
            )
            return False
        kept = 0
        for index, class_id in enumerate(value):
            at = f"value {index} of {where}"
            key = _class_key(class_id)
            if key is None:
                self.error(ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT, f"{at}: class id {shown(class_id)} is not an integer")
                continue
            if key not in class_map:
                self.error(ERROR_MISSING_CLASS_MAP_ID, f"{at}: class id {key} is not in class-map")
                continue
            name = self.label_name(at, class_map[key], f"class-map name of class id {key}")
            if name is None:
                continue
            confidence, problem = _confidence(confidence_map.get(key))
            if problem:
                self.error(ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, f"{at}: confidence-map {problem}")
                continue
            self.add_label(name, confidence)
            kept += 1
        return kept > 0 or not value

    def object_detection(self, name: str, value: object, metadata: dict[str, Any]) -> bool:
        where = f"attribute {quoted(name)}"
        if type(value) is not dict:
            self.error(
                ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT, f"{where}: value is a JSON {json_type(value)}, not an object"
            )
            return False
        size = _image_size(value.get("image_size"))
        if type(size) is str:
            self.error(ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT, f"{where}: image_size {size}")
            return False
        # Missing annotations is the reference's WARNING_NO_ATTRIBUTE_ANNOTATIONS: no boxes, not an error.
        annotations = value.get("annotations")
        if annotations is None:
            annotations = []
        if type(annotations) is not list:
            self.error(ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT, f"{where}: annotations is not an array")
            return False
        class_map = metadata.get("class-map", {} if not annotations else None)
        if type(class_map) is not dict:
            self.error(ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, f"{where}: metadata class-map is not an object")
            return False
        objects = metadata.get("objects", [] if not annotations else None)
        if objects is None or (type(objects) is list and len(objects) != len(annotations)):
            count = "no" if objects is None else len(objects)
            self.error(
                ERROR_MISSING_BOUNDING_BOX_CONFIDENCE,
                f"{where}: metadata has {count} objects for {len(annotations)} annotations (one confidence each)",
            )
            return False
        if type(objects) is not list:
            self.error(ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, f"{where}: metadata objects is not an array")
            return False
        width, height = size
        if self.width is None:
            self.width, self.height, self.size_from = width, height, name
        elif (self.width, self.height) != size:
            self.error(
                ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT,
                f"{where}: image_size {width}x{height} differs from {self.width}x{self.height} "
                f"in attribute {quoted(self.size_from)}",
            )
            return False
        kept = 0
        for index, (annotation, obj) in enumerate(zip(annotations, objects, strict=True)):
            box = _read_box(annotation, obj, class_map, width, height)
            if type(box) is tuple:
                self.error(box[0], f"annotation {index} of {where}: {box[1]}")
            else:
                self.boxes.append(box)
                kept += 1
        if annotations and not kept:
            self.error(ERROR_NO_VALID_ANNOTATIONS, f"{where}: none of its {len(annotations)} annotations is valid")
            return False
        return True


def _read_box(
    annotation: object, obj: object, class_map: dict[str, Any], image_width: int, image_height: int
) -> BoxDraft | tuple[str, str]:
    """The box of one annotation and its `objects` entry, or (code, problem) when it is dropped.

    The problem is formatted only on failure: this runs for every box of a 250,000-line manifest.
    """
    if type(annotation) is not dict:
        return ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT, f"is a JSON {json_type(annotation)}, not an object"
    get = annotation.get
    left, top, width, height = get("left"), get("top"), get("width"), get("height")
    if not (type(left) is int and type(top) is int and type(width) is int and type(height) is int):
        left, top, width, height = _as_int(left), _as_int(top), _as_int(width), _as_int(height)
        if left is None or top is None or width is None or height is None:
            return ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT, "left, top, width and height must be integers"
    key = _class_key(get("class_id"))
    if key is None:
        return ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT, "class_id is missing or not an integer"
    if key not in class_map:
        return ERROR_MISSING_CLASS_MAP_ID, f"class_id {key} is not in class-map"
    raw = class_map[key]
    if type(raw) is not str:
        return ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, f"class-map name of class_id {key} is not a string"
    label, code, problem = _clean_label(raw)
    if problem:
        return code, f"class-map name of class_id {key} {problem}"
    if type(obj) is not dict or obj.get("confidence") is None:
        return ERROR_MISSING_BOUNDING_BOX_CONFIDENCE, "its objects entry has no confidence"
    confidence, problem = _confidence(obj["confidence"])
    if problem:
        return ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT, problem
    if left < 0 or top < 0 or width < 0 or height < 0 or left + width > image_width or top + height > image_height:
        return (
            ERROR_INVALID_BOUNDING_BOX,
            f"box at ({left}, {top}) of {width}x{height} is not inside the {image_width}x{image_height} image",
        )
    too_small = box_too_small(width, height, image_width=image_width, image_height=image_height)
    if too_small:
        return ERROR_BOUNDING_BOX_TOO_SMALL, too_small
    return BoxDraft(label, left, top, width, height, confidence)


def box_too_small(width: int, height: int, *, image_width: int, image_height: int) -> str | None:
    """Why a box is too small to keep, or None: both sides must stay over 1 px once training shrinks the
    longer image side to 1280 px (reference §2.5; integer arithmetic, so exact). The API applies it too."""
    longest = max(image_width, image_height)
    if longest > TRAINING_MAX_SIDE:
        if width * TRAINING_MAX_SIDE <= longest or height * TRAINING_MAX_SIDE <= longest:
            return (
                f"box of {width}x{height} is not over 1x1 px once the {image_width}x{image_height} image "
                f"is scaled to {TRAINING_MAX_SIDE} px"
            )
    elif width <= 1 or height <= 1:
        return f"box of {width}x{height} is not over 1x1 px"
    return None


def _image_size(value: object) -> tuple[int, int] | str:
    """(width, height) of an `image_size` value, or what is wrong with it."""
    if value is None:
        return "is missing"
    if type(value) is not list or len(value) != 1 or type(value[0]) is not dict:
        return "must be an array of one {width, height, depth} object"
    width, height = _as_int(value[0].get("width")), _as_int(value[0].get("height"))
    if width is None or height is None:
        return "needs integer width and height"
    if not (0 < width <= MAX_IMAGE_SIDE and 0 < height <= MAX_IMAGE_SIDE):
        return f"{width}x{height} is not a possible image size"
    return width, height
