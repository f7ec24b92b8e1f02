"""Text that a request may carry but no response or column can: NUL, control characters, lone surrogates."""

import re

# C0 controls and DEL: never meaningful in a path, a query parameter or a name.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# What cannot go out as UTF-8 (lone surrogates) or into PostgreSQL (NUL), plus the other controls.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def control_character(text: str) -> str | None:
    """The first C0 control character or DEL in `text`, or None."""
    match = _CONTROL.search(text)
    return match.group() if match else None


def has_surrogate(text: str) -> bool:
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def printable(text: str) -> str:
    """`text` with control characters and lone surrogates written as escapes (\\x00, \\ud800): safe to put in
    a message, a log line or a response, which must encode as UTF-8."""
    return _UNSAFE.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)


def codepoint(char: str) -> str:
    return f"U+{ord(char):04X}"
