from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    """`?page=` and `?page_size=`; the answer carries `count`, the total across pages.

    A page that does not exist is a 400 naming `page` (bad input), not a 404.
    """

    page_size_query_param = "page_size"

    @property
    def max_page_size(self) -> int:  # type: ignore[override]
        return int(settings.API_PAGE_SIZE_MAX)

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> list[Any] | None:
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound as exc:
            raise ValidationError({"page": [str(exc.detail)]}) from None
