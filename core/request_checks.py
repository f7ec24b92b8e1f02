"""Refusing requests whose path or query parameters hold control characters, before any view sees them.

NUL cannot be stored in PostgreSQL (a lookup with it is a database error, a 500), and no path, id, name or
filter of ours means anything with a C0 control character or DEL in it. Answered 400: the error envelope
under /api/, plain text on pages.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from core.exception_handler import error_body
from core.text import codepoint, control_character, printable

CODE = "control_characters_not_allowed"


def control_character_problem(request: HttpRequest) -> tuple[str, dict[str, str]] | None:
    """(message, fields) naming the first place of the request's path or query holding a control character."""
    char = control_character(request.path)
    if char:
        return f"The path holds a control character ({codepoint(char)}).", {}
    for name, values in request.GET.lists():
        for text in (name, *values):
            char = control_character(text)
            if char:
                shown = printable(name)
                message = f"Control characters are not allowed: {codepoint(char)}."
                return f'The query parameter "{shown}" holds a control character ({codepoint(char)}).', {shown: message}
    return None


class RefuseControlCharactersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        problem = control_character_problem(request)
        if problem is None:
            return self.get_response(request)
        message, fields = problem
        if request.path.startswith("/api/"):
            return JsonResponse(error_body(CODE, message, fields), status=400)
        return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
