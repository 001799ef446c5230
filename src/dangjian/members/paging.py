"""Paging long lists without counting every row.

`COUNT(*)` over a large subtree reads every matching row: at 1,000,000 members it costs about as
much as everything else on the page put together, several times over. The list only needs to know
whether there are more pages around the one shown, so it counts up to a horizon:

- `count_capped(qs, cap, page=, per_page=)` counts at most `horizon(...)` rows: the cap (1,000 by
  default), or, for a page deep in the list, up to `ahead` pages (10) past the requested page. It
  returns `(count, exact)`; when `exact` is False the true count is larger than `count`.
- `CappedPaginator` is a Django `Paginator` that counts that way. Its `count` is the capped count,
  `count_exact` says whether it is the true count, `num_pages` is then a lower bound (so
  `page.has_next()` stays right), and `count_estimate` gives the planner's estimate of the true
  count on PostgreSQL (the capped count elsewhere), for a label such as "about 612,000".
- `CappedPageNumberPagination` does the same for django-ninja's `@paginate`: `count` is capped
  and `count_exact` says whether it is the true count.

Behaviour for the page: show "1,000+" (or "about 612,000", from `count_estimate`) when
`count_exact` is False, and a pager that ends with "…" after the last known page; requesting a
page beyond the horizon moves the horizon, so any page can be reached by number. Asking for a page
past the real end gives EmptyPage (`get_page` then returns the real last page, as usual).

Deep pages (from `DEFER_FROM` rows skipped) read the primary keys of the page first and then
the rows (`page_rows`): with the index on (org_path, name, id) INCLUDE (status) the skipped rows
are an index-only scan.

The count query drops the ordering and select_related joins and reads only primary keys, so
PostgreSQL can stop after `horizon + 1` rows of whatever index or scan is cheapest. Its cost grows
with cap / selectivity: at 1,000,000 members a filter matching 8 per cent of them (sex=2 and
education=21) costs about 5 ms to count to 1,000, but about 50-80 ms to count to 10,000.
"""

import json
import math
import re
from typing import Any

from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property
from ninja import Field, Schema
from ninja.pagination import PageNumberPagination

DEFER_FROM = 1_000  # rows skipped from which a page is read ids first (see page_rows)
DEFAULT_CAP = 1_000  # 20 pages of 50; see docs/performance.md for why not 10,000
AHEAD = 10  # pages counted past the requested one, when that goes beyond the cap
MAX_PAGE = 1_000_000  # a larger page number is read as this one (no 64-bit overflow in SQL)


def page_number(number) -> int:
    """A page number as asked for, within 1..MAX_PAGE (anything unreadable is page 1)."""
    try:
        return min(max(int(number), 1), MAX_PAGE)
    except (TypeError, ValueError, OverflowError):
        return 1


def horizon(cap: int = DEFAULT_CAP, page: int = 1, per_page: int = 50, ahead: int = AHEAD) -> int:
    """How many rows to count: the cap, or `ahead` pages past the end of `page`."""
    return max(cap, (max(page, 1) + ahead) * per_page)


def capped_queryset(
    qs: QuerySet, cap: int = DEFAULT_CAP, page: int = 1, per_page: int = 50, ahead: int = AHEAD
) -> QuerySet:
    """The rows to count: primary keys only, unordered, at most horizon + 1 of them."""
    limit = horizon(cap, page, per_page, ahead)
    return qs.order_by().select_related(None).values("pk")[: limit + 1]


def count_capped(
    qs, cap: int = DEFAULT_CAP, *, page: int = 1, per_page: int = 50, ahead: int = AHEAD
) -> tuple[int, bool]:
    """(count, exact): the number of rows, or the horizon and False when there are more."""
    limit = horizon(cap, page, per_page, ahead)
    if isinstance(qs, QuerySet):
        n = capped_queryset(qs, cap, page, per_page, ahead).count()
    else:
        n = len(qs)
    if n > limit:
        return limit, False
    return n, True


def page_rows(qs, bottom: int, top: int):
    """The rows [bottom:top] of `qs`. Deep in a long list (from DEFER_FROM rows skipped) the
    primary keys are read first, alone, then the rows with their joins: the skipped rows cost
    an index-only scan instead of reading each row and its joined organisation. Returns a
    sliced queryset or a list, in the order of `qs` either way."""
    if not isinstance(qs, QuerySet) or bottom < DEFER_FROM:
        return qs[bottom:top]
    ids = list(qs.values_list("pk", flat=True)[bottom:top])
    found = {row.pk: row for row in qs.order_by().filter(pk__in=ids)}
    return [found[pk] for pk in ids if pk in found]


def estimate_count(qs: QuerySet) -> int | None:
    """The planner's estimate of the rows of `qs` (PostgreSQL only; None elsewhere).

    Cheap (no rows are read) but only an estimate: good for "about 612,000", never for paging.
    """
    connection = connections[qs.db]
    if connection.vendor != "postgresql":
        return None
    sql, params = qs.order_by().select_related(None).values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class CappedPaginator(Paginator):
    """A Paginator that counts at most `horizon(cap, page, per_page, ahead)` rows.

    `count` and `num_pages` are lower bounds when `count_exact` is False.
    """

    def __init__(
        self,
        object_list,
        per_page,
        orphans=0,
        allow_empty_first_page=True,
        *,
        cap: int | None = None,
        ahead: int | None = None,
        **kwargs,
    ):
        super().__init__(object_list, per_page, orphans, allow_empty_first_page, **kwargs)
        self.cap = DEFAULT_CAP if cap is None else cap
        self.ahead = AHEAD if ahead is None else ahead
        self._wanted = 1
        self._exact = True

    def _want(self, number) -> None:
        """Remember the page asked for; count again if it lies past the current horizon."""
        wanted = page_number(number)
        further = horizon(self.cap, wanted, self.per_page, self.ahead)
        if "count" in self.__dict__ and not self._exact and further > self.count:
            for name in ("count", "num_pages", "count_estimate"):
                self.__dict__.pop(name, None)
        self._wanted = max(self._wanted, wanted)

    @cached_property
    def count(self) -> int:
        n, self._exact = count_capped(
            self.object_list,
            self.cap,
            page=self._wanted,
            per_page=self.per_page,
            ahead=self.ahead,
        )
        return n

    @property
    def count_exact(self) -> bool:
        self.count  # noqa: B018 - counts if not yet done
        return self._exact

    @cached_property
    def num_pages(self) -> int:
        if self.count == 0 and not self.allow_empty_first_page:
            return 0
        if not self.count_exact:
            return math.ceil(self.count / self.per_page)
        return super().num_pages

    @cached_property
    def count_estimate(self) -> int:
        """The count if exact; else the planner's estimate (never below the capped count)."""
        if self.count_exact or not isinstance(self.object_list, QuerySet):
            return self.count
        return max(estimate_count(self.object_list) or 0, self.count)

    def validate_number(self, number):
        self._want(number)
        if re.fullmatch(r"[0-9]+", str(number).strip()):
            number = page_number(number)
        return super().validate_number(number)

    def page(self, number):
        self._want(number)
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        return self._get_page(page_rows(self.object_list, bottom, top), number, self)


class CappedPageNumberPagination(PageNumberPagination):
    """django-ninja page-number pagination (?page=, ?page_size=) with a capped count."""

    class Output(Schema):
        items: list[Any]
        count: int = Field(description="rows; a lower bound when count_exact is false")
        count_exact: bool = Field(description="false: there are more rows than count")

    def paginate_queryset(self, queryset, pagination, request, **params):
        page_size = self._get_page_size(pagination.page_size)
        page = page_number(pagination.page)
        offset = (page - 1) * page_size
        count, exact = count_capped(queryset, DEFAULT_CAP, page=page, per_page=page_size)
        return {
            self.items_attribute: page_rows(queryset, offset, offset + page_size),
            "count": count,
            "count_exact": exact,
        }
