"""Paginated lists for the API: ``?limit=&offset=`` in, ``{items, count, limit, offset}`` out.

Under an operation that lists (``response=list[ThingOut]``)::

    @router.get("/things", response=list[ThingOut])
    @paginated
    def things(request) -> Rows[ThingOut]:
        return Rows(selectors.things_visible(request.user), thing_out)

The selector's queryset is counted and sliced in the database; only the page's rows are turned
into output schemas. A plain list works too (a selector that returns one).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar, get_type_hints

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Schema
from ninja.pagination import PaginationBase, paginate

DEFAULT_LIMIT = 100
MAX_LIMIT = 500

Out = TypeVar("Out")


class Rows(Generic[Out]):
    """A queryset (or list) and how to turn one row into its output schema, evaluated a page at a time."""

    def __init__(self, rows: QuerySet[Any] | Sequence[Any], to_out: Callable[[Any], Out]) -> None:
        self.rows = rows
        self.to_out = to_out

    def count(self) -> int:
        return self.rows.count() if isinstance(self.rows, QuerySet) else len(self.rows)

    def page(self, offset: int, limit: int) -> list[Out]:
        return [self.to_out(row) for row in self.rows[offset : offset + limit]]


class LimitOffset(PaginationBase):
    class Input(Schema):
        limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description=f"at most {MAX_LIMIT}")
        offset: int = Field(0, ge=0, le=10**9)

    class Output(Schema):
        items: list[Any]
        count: int
        limit: int
        offset: int

    def paginate_queryset(self, queryset: Any, pagination: Input, request: HttpRequest, **params: Any) -> Any:
        rows = queryset if isinstance(queryset, Rows) else Rows(queryset, lambda row: row)
        return {
            "items": rows.page(pagination.offset, pagination.limit),
            "count": rows.count(),
            "limit": pagination.limit,
            "offset": pagination.offset,
        }


View = TypeVar("View", bound=Callable[..., Any])


def paginated(view: View) -> View:
    """``@paginate(LimitOffset)``, for views written under ``from __future__ import annotations``
    (ninja reads the wrapper's annotations, so they are resolved here, in the view's module)."""
    view.__annotations__ = get_type_hints(view)
    result: View = paginate(LimitOffset)(view)
    return result
