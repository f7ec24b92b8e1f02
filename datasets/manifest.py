"""Ground Truth manifest line codec: one JSON line <-> one entry draft. Pure Python, no Django.

`parse_line` reads one line of a SageMaker Ground Truth / Rekognition Custom Labels manifest (reference
rekognition-ground-truth.md §1-2) into an `EntryDraft`; `serialize_entry` writes an entry back in the
reference's preferred form. Error codes and error types live in datasets/manifest_errors.py, the reading of
label attributes in datasets/manifest_attributes.py.

What happens to a bad line (reference §2.3 and §2.5):
- Rejected (`LineRejected`): the line cannot become an entry. That is the reference's dataset rule (over
  100,000 characters, bad JSON, missing or bad `source-ref`) plus three rules of ours: label attributes whose
  `-metadata` partner is missing when nothing else on the line is valid (ERROR_NO_LABEL_ATTRIBUTES), more than
  50 boxes (ERROR_TOO_MANY_BOUNDING_BOXES) and more than 50 image-level labels (ERROR_TOO_MANY_LABELS, our
  code). A line over the limit is rejected rather than cut, since which labels to drop would be arbitrary.
- Kept with parts dropped: anything else. The bad attribute, label or box is left out and an `EntryError` is
  kept on the entry, as the reference service keeps non-terminal errors on dataset entries (`HasErrors`).
  In particular a line whose label attributes were all dropped is kept as an *unlabeled* entry with its
  errors plus ERROR_NO_VALID_LABEL_ATTRIBUTES (or ERROR_NO_VALID_ANNOTATIONS for a box attribute whose boxes
  were all bad): the image itself is fine, and an editor should not lose it over bad labels.

Leniency, decided per field (we are an editor, not a trainer):
- `human-annotated`, `creation-date`, `job-name` are neither required nor checked: we do not store them, and an
  error would flag an entry as broken although nothing was dropped.
- A classification attribute's value (the class index) is ignored, as the reference service ignores it; the
  label comes from `class-name`. Its `confidence` may be missing (we store None); when present it must be a
  number in [0, 1]. `image_size.depth` is not checked ("required but not used").
- A box's confidence is required (ERROR_MISSING_BOUNDING_BOX_CONFIDENCE drops the box), as the brief asks.
- Label names lose surrounding whitespace; empty or over 256 characters is ERROR_INVALID_LABEL_NAME_LENGTH,
  control characters or lone surrogates are ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT: the same rules as
  datasets/validation.py, so an import never stores a name the API would refuse.
- The 20,000-character limit applies to label attributes and their metadata, measured as compact JSON; keys
  that are not label attributes are ignored whatever their size. A key without a `-metadata` partner counts as
  a broken label attribute only if its value looks like one (a dict with `annotations`/`image_size`, or like
  metadata); anything else is an extra key and is ignored, like keys starting with `$`.
- Length limits count Unicode code points. Several attributes with the same label keep the first confidence.
"""

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import orjson

from core.s3_names import key_segment_problem
from datasets.manifest_attributes import (
    MAX_ATTRIBUTE_VALUE_CHARS,
    MAX_LABEL_NAME_CHARS,
    TYPE_CLASSIFICATION,
    TYPE_MULTILABEL,
    TYPE_OBJECT_DETECTION,
    AttributeReader,
    BoxDraft,
    compact_size,
    json_type,
    quoted,
)
from datasets.manifest_errors import (
    ERROR_INVALID_JSON_LINE,
    ERROR_INVALID_SOURCE_REF_FORMAT,
    ERROR_MISSING_SOURCE_REF,
    ERROR_NO_LABEL_ATTRIBUTES,
    ERROR_NO_VALID_LABEL_ATTRIBUTES,
    ERROR_TOO_MANY_BOUNDING_BOXES,
    ERROR_TOO_MANY_LABELS,
    EntryError,
    LineRejected,
)

__all__ = [
    "MAX_ATTRIBUTE_VALUE_CHARS",
    "MAX_BOXES_PER_IMAGE",
    "MAX_LABELS_PER_IMAGE",
    "MAX_LABEL_NAME_CHARS",
    "MAX_LINE_CHARS",
    "TYPE_CLASSIFICATION",
    "TYPE_MULTILABEL",
    "TYPE_OBJECT_DETECTION",
    "BoxDraft",
    "EntryDraft",
    "EntryError",
    "LineRejected",
    "parse_line",
    "parse_s3_uri",
    "serialize_entry",
]

MAX_LINE_CHARS = 100_000
MAX_BOXES_PER_IMAGE = 50
MAX_LABELS_PER_IMAGE = 50
MAX_S3_KEY_BYTES = 1024

_METADATA = "-metadata"
_RESERVED_KEYS = frozenset({"source-ref", "source"})
_BUCKET_SHAPE = re.compile(r"[a-z0-9][a-z0-9.-]*[a-z0-9]", re.ASCII)
_IPV4_SHAPE = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}", re.ASCII)
_BUCKET_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_ATTRIBUTE_NAME = re.compile(r"[a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,126}", re.ASCII)
_BOXES_SUFFIX = "-boxes"


@dataclass
class EntryDraft:
    """What one manifest line says of one image; what the bulk entry writer stores.

    `labels` are unique, in first-seen order; `label_confidences` holds the confidence of those labels that
    came with one. `image_width`/`image_height` come from a bounding-box attribute's `image_size`, if any.
    """

    source_ref: str
    labels: list[str]
    boxes: list[BoxDraft]
    image_width: int | None = None
    image_height: int | None = None
    errors: list[EntryError] = field(default_factory=list)
    label_confidences: dict[str, float] = field(default_factory=dict)


class _Reject(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _refuse_constant(name: str) -> Any:
    # Python's json reads NaN/Infinity by default; they are not JSON.
    raise ValueError(f"{name} is not valid JSON")


# One decoder for every line: json.loads(..., parse_constant=...) would build a new one per call.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


@lru_cache(maxsize=1024)
def _bucket_problem(bucket: str) -> str | None:
    """What is wrong with a bucket name, or None. Cached: a manifest names few buckets, many times."""
    if not 3 <= len(bucket) <= 63:
        return f"bucket name {quoted(bucket)} does not have 3 to 63 characters"
    if not _BUCKET_SHAPE.fullmatch(bucket) or ".." in bucket:
        return (
            f"bucket name {quoted(bucket)} breaks the S3 naming rules (a-z, 0-9, single dots and hyphens, "
            "starting and ending with a letter or digit)"
        )
    if _IPV4_SHAPE.fullmatch(bucket):
        return f"bucket name {quoted(bucket)} is formatted as an IP address"
    if bucket.startswith(_BUCKET_RESERVED_PREFIXES) or bucket.endswith(_BUCKET_RESERVED_SUFFIXES):
        return f"bucket name {quoted(bucket)} uses a prefix or suffix that S3 reserves"
    return None


def parse_s3_uri(uri: str, *, allow_empty_key: bool = False) -> tuple[str, str]:
    """(bucket, key) of an `s3://bucket/key` URI; raises ValueError saying what is wrong.

    The bucket must follow the S3 general-purpose naming rules (3-63 characters of a-z, 0-9, dots and
    hyphens, starting and ending with a letter or digit, no "..", not an IP address, no reserved prefix or
    suffix). The key is taken verbatim (no URL decoding), must be non-empty unless `allow_empty_key` (a
    folder prefix), valid Unicode without NUL and at most 1,024 UTF-8 bytes, without "." or ".." segments, empty
    segments or backslashes (core.s3_names.key_segment_problem). Other schemes (https://) are refused.
    """
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise ValueError("is not an s3://bucket/key URI")
    bucket, _, key = uri[5:].partition("/")
    problem = _bucket_problem(bucket)
    if problem:
        raise ValueError(problem)
    if not key and not allow_empty_key:
        raise ValueError("has no object key after the bucket")
    if "\x00" in key:  # no database column holds it (and S3's XML listings cannot name it)
        raise ValueError("has a NUL character in its key")
    segment_problem = key_segment_problem(key, folder=allow_empty_key)
    if segment_problem:
        raise ValueError(segment_problem)
    if not key.isascii() or len(key) > MAX_S3_KEY_BYTES:
        try:
            size = len(key.encode("utf-8"))
        except UnicodeEncodeError:
            raise ValueError("has a key that is not valid Unicode (lone surrogate)") from None
        if size > MAX_S3_KEY_BYTES:
            raise ValueError(f"has a key of {size} bytes (S3 allows {MAX_S3_KEY_BYTES})")
    return bucket, key


def _line_text(line: str | bytes) -> str:
    """The JSON text of a line: decoded, without BOM and line terminator, within the length limit."""
    if not isinstance(line, str):
        if len(line) > 4 * MAX_LINE_CHARS + 8:  # no need to decode: even 4-byte characters would be too many
            raise _Reject(ERROR_INVALID_JSON_LINE, f"line has more than {MAX_LINE_CHARS:,} characters")
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Reject(
                ERROR_INVALID_JSON_LINE, f"line is not valid UTF-8 (byte 0x{line[exc.start]:02x} at {exc.start})"
            ) from None
    if line.startswith("\ufeff"):  # a BOM, e.g. on the first line of a file saved by Windows tools
        line = line[1:]
    if line.endswith("\n"):
        line = line[:-2] if line.endswith("\r\n") else line[:-1]
    elif line.endswith("\r"):
        line = line[:-1]
    if len(line) > MAX_LINE_CHARS:
        raise _Reject(
            ERROR_INVALID_JSON_LINE, f"line has {len(line):,} characters (at most {MAX_LINE_CHARS:,} are allowed)"
        )
    if "\n" in line or "\r" in line:
        raise _Reject(ERROR_INVALID_JSON_LINE, "line holds a raw line break; one JSON object per line")
    return line


def _line_object(text: str) -> dict[str, Any]:
    if not text.strip():
        raise _Reject(ERROR_INVALID_JSON_LINE, "line is empty")
    try:
        value = _DECODER.decode(text)
    except RecursionError:  # the C scanner refuses deep nesting this way
        raise _Reject(ERROR_INVALID_JSON_LINE, "line is not valid JSON: nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, integers over Python's 4,300 digits
        raise _Reject(ERROR_INVALID_JSON_LINE, f"line is not valid JSON: {exc}") from None
    if type(value) is not dict:
        raise _Reject(ERROR_INVALID_JSON_LINE, f"line is a JSON {json_type(value)}, not an object")
    return value


def _fast_object(line: str | bytes) -> dict[str, Any] | None:
    """The object of a line decoded by orjson, or None for the general path to judge the line.

    Only for lines that cannot meet a length rule (at most 20,000 bytes: characters are no more than bytes)
    and hold no BOM or raw line break. orjson accepts a subset of what the general path accepts (no lone
    surrogates, integers within 64 bits), with the same values: anything it refuses, including bad JSON, goes
    the general way, which says what is wrong in the same words as before.
    """
    if len(line) > MAX_ATTRIBUTE_VALUE_CHARS:
        return None
    if type(line) is bytes:
        if line.startswith(b"\xef\xbb\xbf") or b"\n" in line or b"\r" in line:
            return None
    elif line.startswith("\ufeff") or "\n" in line or "\r" in line:
        return None
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return value if type(value) is dict else None


def _source_ref(line: dict[str, Any]) -> str:
    if "source-ref" not in line:
        hint = ' ("source" holds inline text; images need "source-ref")' if "source" in line else ""
        raise _Reject(ERROR_MISSING_SOURCE_REF, f'line has no "source-ref"{hint}')
    ref = line["source-ref"]
    if type(ref) is not str:
        raise _Reject(ERROR_INVALID_SOURCE_REF_FORMAT, f'"source-ref" is a JSON {json_type(ref)}, not a string')
    try:
        parse_s3_uri(ref)
    except ValueError as exc:
        raise _Reject(ERROR_INVALID_SOURCE_REF_FORMAT, f'"source-ref" {quoted(ref)} {exc}') from None
    return ref


def _looks_like_label_value(value: object) -> bool:
    """Whether an unpaired key is a broken label attribute (boxes, or misnamed metadata) or an extra key."""
    if type(value) is not dict:
        return False
    kind = value.get("type")
    return (
        "annotations" in value
        or "image_size" in value
        or "class-name" in value
        or "class-map" in value
        or (type(kind) is str and kind.startswith("groundtruth/"))
    )


def _attribute_keys(line: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(label attributes that have a metadata partner, messages for broken ones), in line order."""
    attributes, broken = [], []
    for key, value in line.items():
        if key in _RESERVED_KEYS or key.startswith("$"):
            continue
        if key.endswith(_METADATA):
            partner = key[: -len(_METADATA)]
            if partner in _RESERVED_KEYS or partner.startswith("$"):
                continue
            if partner not in line or partner.endswith(_METADATA):
                broken.append(f"metadata {quoted(key)} has no attribute {quoted(partner)}")
        elif key + _METADATA in line:
            attributes.append(key)
        elif _looks_like_label_value(value):
            broken.append(f"attribute {quoted(key)} has no {quoted(key + _METADATA)}")
    return attributes, broken


def parse_line(line: str | bytes, *, line_number: int | None = None) -> EntryDraft:
    """The entry draft of one manifest line (with or without its line terminator); pure and thread-safe.

    Raises LineRejected with the reference's code when the line cannot become an entry (see the module
    docstring). Otherwise returns a draft whose `errors` list the parts that were dropped. A line with only
    `source-ref` is a valid unlabeled entry. Bytes must be UTF-8; a leading BOM is ignored.
    """
    try:
        obj = _fast_object(line)
        if obj is None:
            text = _line_text(line)
            obj, size = _line_object(text), len(text)
        else:
            size = len(line)  # at most 20,000, so no attribute value is measured, as with its length in characters
        source_ref = _source_ref(obj)
        attributes, broken = _attribute_keys(obj)
        reader = AttributeReader(size)
        valid = 0
        for name in attributes:
            valid += reader.read(name, obj[name], obj[name + _METADATA])
        if broken and not valid:
            raise _Reject(ERROR_NO_LABEL_ATTRIBUTES, "; ".join(broken))
        for message in broken:
            reader.error(ERROR_NO_LABEL_ATTRIBUTES, message)
        if attributes and not valid:
            reader.error(ERROR_NO_VALID_LABEL_ATTRIBUTES, "no label attribute of the line is valid")
        if len(reader.boxes) > MAX_BOXES_PER_IMAGE:
            raise _Reject(
                ERROR_TOO_MANY_BOUNDING_BOXES,
                f"line has {len(reader.boxes)} valid boxes; an image has at most {MAX_BOXES_PER_IMAGE}",
            )
        if len(reader.labels) > MAX_LABELS_PER_IMAGE:
            raise _Reject(
                ERROR_TOO_MANY_LABELS,
                f"line has {len(reader.labels)} image-level labels; an image has at most {MAX_LABELS_PER_IMAGE}",
            )
    except _Reject as exc:
        raise LineRejected(exc.code, exc.message, line_number=line_number) from None
    errors = reader.errors
    if reader.errors_not_kept:
        errors.append(
            EntryError(errors[-1].code, f"... and {reader.errors_not_kept} more errors of this line, not kept")
        )
    return EntryDraft(
        source_ref=source_ref,
        labels=list(reader.labels),
        boxes=reader.boxes,
        image_width=reader.width,
        image_height=reader.height,
        errors=errors,
        label_confidences={name: value for name, value in reader.labels.items() if value is not None},
    )


@lru_cache(maxsize=64)
def _checked_prefix(prefix: str) -> str:
    # The longest name we derive is prefix + "-boxes"; the reference allows 127 characters (§1.2).
    if len(prefix) + len(_BOXES_SUFFIX) > 127 or not _ATTRIBUTE_NAME.fullmatch(prefix):
        raise ValueError(
            f"attribute prefix {quoted(prefix)} must be letters and digits with single or repeated hyphens "
            f"between them, at most {127 - len(_BOXES_SUFFIX)} characters"
        )
    return prefix


@lru_cache(maxsize=64)
def _checked_creation_date(value: str) -> str:
    if datetime.fromisoformat(value).tzinfo is not None:  # raises ValueError when not ISO-8601
        raise ValueError("creation_date must have no time zone (Ground Truth writes UTC without one)")
    return value


def serialize_entry(
    entry: EntryDraft,
    *,
    attribute_prefix: str = "label",
    creation_date: str | None = None,
    job_name: str | None = None,
) -> str:
    """One manifest line for the entry, in the reference's preferred form; compact JSON, no trailing newline.

    Each image-level label becomes its own `groundtruth/image-classification` attribute `<prefix>-<i>`; all
    boxes go into one `groundtruth/object-detection` attribute `<prefix>-boxes` (class ids in first-seen label
    order). An unknown confidence is written as 1.0 (a person made the label), `depth` as 3; `job-name` is
    `job_name`, or "labeling-job/<prefix>" without one; `creation-date` is `creation_date` (ISO-8601 without a
    zone), or now in UTC without one. Only a box attribute carries `image_size`, so the size of an entry
    without boxes is not written.

    Deterministic for given arguments (fixed key order). Raises ValueError for a bad source_ref, prefix or
    creation_date, boxes without an image size, a NaN confidence, or a line over 100,000 characters. Labels
    and boxes are written as given: for entries that parse_line would accept unchanged (what an import
    stores), parse_line(serialize_entry(entry)) gives the entry back, with unknown confidences as 1.0.
    """
    parse_s3_uri(entry.source_ref)
    prefix = _checked_prefix(attribute_prefix)
    if creation_date is None:
        creation_date = datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
    else:
        creation_date = _checked_creation_date(creation_date)
    job = f"labeling-job/{prefix}" if job_name is None else job_name
    line: dict[str, Any] = {"source-ref": entry.source_ref}
    for index, name in enumerate(dict.fromkeys(entry.labels)):
        confidence = entry.label_confidences.get(name)
        line[f"{prefix}-{index}"] = index
        line[f"{prefix}-{index}{_METADATA}"] = {
            "class-name": name,
            "confidence": 1.0 if confidence is None else confidence,
            "type": TYPE_CLASSIFICATION,
            "job-name": job,
            "human-annotated": "yes",
            "creation-date": creation_date,
        }
    if entry.boxes:
        if entry.image_width is None or entry.image_height is None:
            raise ValueError(f"{entry.source_ref}: boxes need the image size, which is unknown")
        class_ids: dict[str, int] = {}
        annotations, objects = [], []
        for box in entry.boxes:
            class_id = class_ids.setdefault(box.label, len(class_ids))
            annotations.append(
                {"class_id": class_id, "left": box.left, "top": box.top, "width": box.width, "height": box.height}
            )
            objects.append({"confidence": 1.0 if box.confidence is None else box.confidence})
        line[prefix + _BOXES_SUFFIX] = {
            "image_size": [{"width": entry.image_width, "height": entry.image_height, "depth": 3}],
            "annotations": annotations,
        }
        line[prefix + _BOXES_SUFFIX + _METADATA] = {
            "objects": objects,
            "class-map": {str(class_id): label for label, class_id in class_ids.items()},
            "type": TYPE_OBJECT_DETECTION,
            "human-annotated": "yes",
            "creation-date": creation_date,
            "job-name": job,
        }
    if any(
        not math.isfinite(c) for c in (*entry.label_confidences.values(), *(b.confidence or 0.0 for b in entry.boxes))
    ):
        raise ValueError(f"{entry.source_ref}: a confidence is not a finite number")
    # orjson writes what json.dumps(..., ensure_ascii=False, separators=(",", ":")) writes, fifteen times faster
    # (exports run at tens of thousands of lines a second); it would write NaN as null, hence the check above.
    text = orjson.dumps(line).decode()
    if len(text) > MAX_LINE_CHARS:
        raise ValueError(f"{entry.source_ref}: the line would have {len(text):,} characters (at most 100,000)")
    if len(text) > MAX_ATTRIBUTE_VALUE_CHARS:  # only then can one value be over the limit parse_line applies
        for key, value in line.items():
            if key != "source-ref" and compact_size(value) > MAX_ATTRIBUTE_VALUE_CHARS:
                raise ValueError(f"{entry.source_ref}: attribute {quoted(key)} would be over 20,000 characters")
    return text
