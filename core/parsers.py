"""Request parsers with a size limit (JSON, JSON Lines) and the JSON Lines renderer."""

import io
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.renderers import BaseRenderer, JSONRenderer

from core.errors import GroundworkError


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


class LimitedJSONParser(JSONParser):
    """DRF's JSON parser, but a body over MAX_NDJSON_BODY_BYTES is refused before it is parsed."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        body = read_limited(stream, limit=settings.MAX_NDJSON_BODY_BYTES, what="JSON")
        return super().parse(io.BytesIO(body), media_type, parser_context)


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
