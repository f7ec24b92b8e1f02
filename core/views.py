"""Django-level error pages: JSON envelopes under /api/, plain pages elsewhere."""

import sys

from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found, server_error

from core.exception_handler import DATABASE_UNAVAILABLE, database_unavailable_response, error_body


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(error_body("not_found", f"No endpoint at {request.path}."), status=404)
    return page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    """Called while the exception is being handled: one of the database being out of reach is a 503."""
    if isinstance(sys.exc_info()[1], (OperationalError, InterfaceError)):
        if _is_api(request):
            return database_unavailable_response(JsonResponse)
        return HttpResponse(
            DATABASE_UNAVAILABLE, status=503, content_type="text/plain; charset=utf-8", headers={"Retry-After": "5"}
        )
    if _is_api(request):
        return JsonResponse(error_body("server_error", "An unexpected error occurred; it has been logged."), status=500)
    return server_error(request)


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness and database reachability, for load balancers and container health checks."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return JsonResponse({"status": "unavailable", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok"})
