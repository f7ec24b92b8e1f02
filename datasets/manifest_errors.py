"""Error codes and error types of the manifest line codec (datasets/manifest.py); pure Python.

The codes are the reference's per-line codes (rekognition-ground-truth.md §2.5), except
ERROR_TOO_MANY_LABELS, which is ours: the reference states the 50-labels-per-image limit but names no code.
"""

from dataclasses import dataclass

from core.text import printable

ERROR_INVALID_JSON_LINE = "ERROR_INVALID_JSON_LINE"
ERROR_MISSING_SOURCE_REF = "ERROR_MISSING_SOURCE_REF"
ERROR_INVALID_SOURCE_REF_FORMAT = "ERROR_INVALID_SOURCE_REF_FORMAT"
ERROR_NO_LABEL_ATTRIBUTES = "ERROR_NO_LABEL_ATTRIBUTES"
ERROR_NO_VALID_LABEL_ATTRIBUTES = "ERROR_NO_VALID_LABEL_ATTRIBUTES"
ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT = "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT"
ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT = "ERROR_INVALID_LABEL_ATTRIBUTE_METADATA_FORMAT"
ERROR_UNSUPPORTED_USE_CASE_TYPE = "ERROR_UNSUPPORTED_USE_CASE_TYPE"
ERROR_INVALID_LABEL_NAME_LENGTH = "ERROR_INVALID_LABEL_NAME_LENGTH"
ERROR_MISSING_BOUNDING_BOX_CONFIDENCE = "ERROR_MISSING_BOUNDING_BOX_CONFIDENCE"
ERROR_MISSING_CLASS_MAP_ID = "ERROR_MISSING_CLASS_MAP_ID"
ERROR_INVALID_BOUNDING_BOX = "ERROR_INVALID_BOUNDING_BOX"
ERROR_BOUNDING_BOX_TOO_SMALL = "ERROR_BOUNDING_BOX_TOO_SMALL"
ERROR_TOO_MANY_BOUNDING_BOXES = "ERROR_TOO_MANY_BOUNDING_BOXES"
ERROR_NO_VALID_ANNOTATIONS = "ERROR_NO_VALID_ANNOTATIONS"
ERROR_TOO_MANY_LABELS = "ERROR_TOO_MANY_LABELS"


@dataclass(frozen=True)
class EntryError:
    """An error kept on an entry (a dropped part), or the reason a line was rejected.

    `code` is one of the ERROR_... codes above; `message` says what and where, with 0-based indexes as in the
    JSON arrays, e.g. 'annotation 2 of attribute "boxes": class_id 7 is not in class-map'.
    """

    code: str
    message: str


class LineRejected(Exception):
    """A line that cannot become an entry (scope L in reference §2.5).

    `message` starts with "line N: " when the caller gave the line number; `line_number` keeps it apart.
    """

    def __init__(self, code: str, message: str, *, line_number: int | None = None) -> None:
        self.code = code
        self.line_number = line_number
        message = printable(message)  # it may quote the line's NUL or lone surrogate; it is stored and sent
        self.message = message if line_number is None else f"line {line_number}: {message}"
        super().__init__(self.message)

    def as_error(self) -> EntryError:
        return EntryError(self.code, self.message)
