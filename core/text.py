"""Text that can be stored and rendered whatever a client sent (pure)."""


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
