"""Text that can be stored and rendered whatever a client sent (pure): NUL, control characters, lone
surrogates."""

import re

# C0 controls and DEL: never meaningful in a path, a query parameter or a name.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# What cannot go out as UTF-8 (lone surrogates) or into PostgreSQL (NUL), plus the other controls.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def storable(text: str) -> str:
    """`text` with what PostgreSQL cannot store (NUL) and what UTF-8 cannot encode (lone surrogates) written
    as escapes, e.g. `\\x00` and `\\ud800`; any other text is returned as it is."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def printable(text: str) -> str:
    """`text` with every control character (line breaks and tabs too) and lone surrogate written as an escape
    (\\x00, \\n, \\ud800): for a message that quotes a client's value, kept on one line."""
    return _UNSAFE.sub(lambda match: match.group().encode("unicode_escape").decode("ascii"), text)


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


def codepoint(char: str) -> str:
    return f"U+{ord(char):04X}"
