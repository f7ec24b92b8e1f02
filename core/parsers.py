"""Request parsers with a size limit (JSON, JSON Lines) and the JSON Lines renderer.

A JSON body is also refused when it nests deeper than MAX_JSON_DEPTH (deeper still would exhaust Python's
recursion limit while parsing or validating it) or when a string or key holds NUL (no PostgreSQL text or jsonb
column can store it) or a lone surrogate (no response can encode it): a 400 naming where, never a 500.
"""

import io
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.renderers import BaseRenderer, JSONRenderer

from core.errors import GroundworkError, InvalidInput
from core.text import codepoint, has_surrogate, printable

# Our deepest bodies (a dataset source, boxes) nest four levels; this leaves room without risking the stack.
MAX_JSON_DEPTH = 64


class PayloadTooLarge(GroundworkError):
    http_status = 413
    default_code = "payload_too_large"


def read_limited(stream: Any, *, limit: int, what: str) -> bytes:
    """The whole body, refused with 413 beyond `limit` bytes (never more than limit + 1 read into memory)."""
    if stream is None:
        return b""
    body = stream.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge(f"{what} bodies are at most {limit:,} bytes.")
    return body


class MalformedJSON(GroundworkError):
    default_code = "malformed_json"


def _string_problem(text: str) -> tuple[str, str] | None:
    """(code, message) for a string no column or response can hold, or None; DRF's codes and words."""
    if "\x00" in text:
        return "null_characters_not_allowed", "Null characters are not allowed."
    if has_surrogate(text):
        char = next(char for char in text if "\ud800" <= char <= "\udfff")
        return "surrogate_characters_not_allowed", f"Surrogate characters are not allowed: {codepoint(char)}."
    return None


def check_json_value(value: Any) -> None:
    """Refuse a parsed body nested past MAX_JSON_DEPTH, or holding NUL or a lone surrogate in a string or key
    (InvalidInput naming the place as `a.b.0.c`). Iterative, so any depth the parser let through is safe."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, where, depth = stack.pop()
        if type(item) is str:
            problem = _string_problem(item)
            if problem:
                code, message = problem
                name = printable(where) or "non_field_errors"
                shown = message if name == "non_field_errors" else f"{name}: {message}"
                raise InvalidInput(shown, code=code, fields={name: message})
            continue
        if not isinstance(item, dict | list):
            continue
        if depth >= MAX_JSON_DEPTH:
            raise MalformedJSON(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels.")
        if isinstance(item, dict):
            for key, child in item.items():
                path = f"{where}.{key}" if where else key
                stack.append((key, path, depth + 1))
                stack.append((child, path, depth + 1))
        else:
            stack.extend(
                (child, f"{where}.{index}" if where else str(index), depth + 1) for index, child in enumerate(item)
            )


class LimitedJSONParser(JSONParser):
    """DRF's JSON parser, but a body over MAX_NDJSON_BODY_BYTES is refused before it is parsed, and a body too
    deep or holding NUL or lone surrogates is refused after (check_json_value)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        body = read_limited(stream, limit=settings.MAX_NDJSON_BODY_BYTES, what="JSON")
        try:
            data = super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError:  # the C scanner refuses deep nesting this way
            raise MalformedJSON(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels.") from None
        check_json_value(data)
        return data


class NDJSONParser(BaseParser):
    """Gives the raw body (bytes) of a JSON Lines request, refusing bodies over MAX_NDJSON_BODY_BYTES."""

    media_type = "application/x-ndjson"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> bytes:
        body = read_limited(stream, limit=settings.MAX_NDJSON_BODY_BYTES, what="JSON Lines")
        if not body:
            raise ParseError("The request has no body.")
        return body


class NDJSONRenderer(BaseRenderer):
    """Lets a client ask for application/x-ndjson; errors are still rendered as one JSON document."""

    media_type = "application/x-ndjson"
    format = "ndjson"
    charset = None

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: dict | None = None) -> bytes:
        return JSONRenderer().render(data)


def ndjson_download(chunks: Iterable[bytes], *, filename: str) -> StreamingHttpResponse:
    """A streamed JSON Lines attachment (a manifest): the chunks go out as they are made."""
    response = StreamingHttpResponse(chunks, content_type="application/x-ndjson")
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return response
