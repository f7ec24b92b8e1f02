"""Pagination of API lists: page numbers for small lists, cursors for entries (see datasets)."""

import re
from collections.abc import Callable, Sequence

from django.db.models import QuerySet
from rest_framework import pagination
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView

from core.errors import GroundworkError

_ID = re.compile(r"-?[0-9]{1,19}")
_MAX_ID = 2**63 - 1


class InvalidCursor(GroundworkError):
    default_code = "invalid_cursor"


class PageNumberPagination(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class IdCursorPagination(pagination.CursorPagination):
    """Cursor pages in id order: constant cost per page however deep, stable while rows are added."""

    ordering = "id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500

    def decode_cursor(self, request: Request) -> pagination.Cursor | None:
        """DRF's cursor, but one that does not decode, or whose position is not an id (forged), is a 400
        `invalid_cursor` instead of DRF's 404 or a database error."""
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise InvalidCursor("The cursor is not one this API gave out; start again without it.") from None
        position = cursor.position if cursor is not None else None
        if position is not None and (not _ID.fullmatch(position) or abs(int(position)) > _MAX_ID):
            raise InvalidCursor("The cursor is not one this API gave out; start again without it.")
        return cursor


def paginated_response(
    view: APIView,
    queryset: QuerySet,
    serializer_class: type[Serializer],
    *,
    paginator_class: type[pagination.BasePagination] = PageNumberPagination,
    prepare: Callable[[list], Sequence] | None = None,
    context: dict | None = None,
) -> Response:
    """One page of `queryset`, serialized (with `context`); `prepare` may attach data to the page's rows in
    bulk first."""
    paginator = paginator_class()
    page = paginator.paginate_queryset(queryset, view.request, view=view)
    if prepare is not None:
        page = prepare(page)
    return paginator.get_paginated_response(serializer_class(page, many=True, context=context or {}).data)
