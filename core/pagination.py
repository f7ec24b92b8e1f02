"""Pagination of API lists: page numbers for small lists, cursors for entries (see datasets)."""

from collections.abc import Callable, Sequence

from django.db.models import QuerySet
from rest_framework import pagination
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.views import APIView


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
