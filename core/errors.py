"""The error types of the domain: services raise these, the API renders them as the error envelope."""

from collections.abc import Mapping


class GroundworkError(Exception):
    """Base of every expected error: a stable `code`, a human `message`, and the HTTP status to answer."""

    http_status = 400
    default_code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.fields = dict(fields or {})


class InvalidInput(GroundworkError):
    """The request is well-formed but its content breaks a rule (unknown user, duplicate, ...)."""


class NotFound(GroundworkError):
    """The object does not exist, or the caller may not know that it does (another project's)."""

    http_status = 404
    default_code = "not_found"


class PermissionDenied(GroundworkError):
    """The caller is a member of the project but their role does not allow the action."""

    http_status = 403
    default_code = "permission_denied"


class Conflict(GroundworkError):
    """The action contradicts the current state (the last owner, a job already running, ...)."""

    http_status = 409
    default_code = "conflict"
