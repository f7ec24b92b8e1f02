"""One renderer for every API error: `{"error": {"code", "message", "fields"}}`.

DRF's own exceptions (validation, parse, auth, throttling), Django's Http404 / PermissionDenied, our
GroundworkError family and unexpected exceptions (a logged 500 without any trace in the body) all pass here.
"""

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import set_rollback

from core.errors import GroundworkError

logger = logging.getLogger("groundwork.api")

# Stable codes for DRF's exception classes (DRF's own default codes are less telling for a client).
_DRF_CODES: dict[type[drf.APIException], str] = {
    drf.ParseError: "malformed_request",
    drf.NotAuthenticated: "not_authenticated",
    drf.AuthenticationFailed: "authentication_failed",
    drf.PermissionDenied: "permission_denied",
    drf.NotFound: "not_found",
    drf.MethodNotAllowed: "method_not_allowed",
    drf.NotAcceptable: "not_acceptable",
    drf.UnsupportedMediaType: "unsupported_media_type",
    drf.Throttled: "throttled",
}


DATABASE_UNAVAILABLE = "The database cannot be reached at the moment; nothing was changed. Try again shortly."


def database_unavailable_response(response_class: type) -> Any:
    """503 with the envelope and a Retry-After: the database is out of reach (an outage, a restart), which a
    client may wait out; the web server reconnects by itself once it is back."""
    logger.warning("The database is unreachable: answered 503")
    response = response_class(error_body("database_unavailable", DATABASE_UNAVAILABLE), status=503)
    response["Retry-After"] = "5"
    return response


def error_body(code: str, message: str, fields: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": dict(fields or {})}}


def flatten_validation_detail(detail: Any, prefix: str = "") -> dict[str, list[drf.ErrorDetail]]:
    """Turn DRF's nested error detail into `{"a.b.0.c": [ErrorDetail, ...]}`."""
    if isinstance(detail, Mapping):
        flat: dict[str, list[drf.ErrorDetail]] = {}
        for key, value in detail.items():
            flat.update(flatten_validation_detail(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(detail, Sequence) and not isinstance(detail, str):
        if all(isinstance(item, str) for item in detail):
            return {prefix or "non_field_errors": list(detail)}
        flat = {}
        for index, value in enumerate(detail):
            flat.update(flatten_validation_detail(value, f"{prefix}.{index}" if prefix else str(index)))
        return flat
    return {prefix or "non_field_errors": [detail]}


def _validation_response(exc: drf.ValidationError) -> Response:
    flat = flatten_validation_detail(exc.detail)
    fields = {name: " ".join(str(message) for message in messages) for name, messages in flat.items()}
    codes = {getattr(message, "code", None) or "invalid" for messages in flat.values() for message in messages}
    code = codes.pop() if len(codes) == 1 else "invalid"
    message = "; ".join(text if name == "non_field_errors" else f"{name}: {text}" for name, text in fields.items())
    return Response(error_body(code, message or "Invalid input.", fields), status=400)


def _parse_error_response(exc: drf.ParseError) -> Response:
    text = str(exc.detail)
    code = "malformed_json" if text.startswith("JSON parse error") else "malformed_request"
    return Response(error_body(code, text), status=400)


def api_exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response:
    if isinstance(exc, GroundworkError):
        set_rollback()
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.http_status)
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()

    if isinstance(exc, drf.ValidationError):
        set_rollback()
        return _validation_response(exc)
    if isinstance(exc, drf.ParseError):
        return _parse_error_response(exc)
    if isinstance(exc, drf.APIException):
        set_rollback()
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None) is not None:
            headers["Retry-After"] = str(int(exc.wait))
        code = _DRF_CODES.get(type(exc)) or exc.default_code
        return Response(error_body(code, str(exc.detail)), status=exc.status_code, headers=headers)

    if isinstance(exc, (OperationalError, InterfaceError)):
        return database_unavailable_response(Response)

    # Unexpected: log it with its traceback, answer without any detail of it.
    view = context.get("view")
    logger.exception("Unhandled error in %s", type(view).__name__ if view else "API view")
    set_rollback()
    return Response(error_body("server_error", "An unexpected error occurred; it has been logged."), status=500)
