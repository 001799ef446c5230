"""members.paging: capped counts and the capped paginator (SQLite and PostgreSQL)."""

import datetime

import pytest
from django.core.paginator import EmptyPage
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dangjian.members import paging

ROWS = 120


@pytest.fixture
def many(tree, admin):
    """120 members in branch A, named so the default sort is predictable."""
    from dangjian.members.models import Member

    branch = tree["branch_a"]
    Member.objects.bulk_create(
        Member(
            organization=branch,
            org_path=branch.path,
            name=f"成员{i:03d}",
            name_initials="cy",
            sex="1" if i % 3 else "2",
            birth_date=datetime.date(1980, 1, 1),
            id_number_encrypted="v1:x",
            id_number_hash=f"hash-{i:03d}",
            category="full",
            joined_on=datetime.date(2005, 7, 1),
        )
        for i in range(ROWS)
    )
    return branch


@pytest.fixture
def listing(many, admin):
    from dangjian.members import selectors

    def make(**filters):
        return selectors.member_list(admin, selectors.MemberFilter(**filters))

    return make


def test_horizon():
    assert paging.horizon(10_000, 1, 50) == 10_000
    assert paging.horizon(10_000, 190, 50) == 10_000
    assert paging.horizon(10_000, 500, 50) == (500 + paging.AHEAD) * 50
    assert paging.horizon(100, 0, 10, ahead=2) == 100


def test_count_below_cap_is_exact(listing):
    assert paging.count_capped(listing(), 200) == (ROWS, True)
    assert paging.count_capped(listing(), ROWS) == (ROWS, True)  # exactly the cap: still exact


def test_count_above_cap_stops_there(listing):
    small = {"per_page": 10, "ahead": 1}
    assert paging.count_capped(listing(), ROWS - 1, **small) == (ROWS - 1, False)
    assert paging.count_capped(listing(), 50, **small) == (50, False)
    # a deep page moves the horizon: ahead pages past the requested one
    assert paging.count_capped(listing(), 50, page=8, per_page=10, ahead=1) == (90, False)
    assert paging.count_capped(listing(), 50, page=12, per_page=10, ahead=1) == (ROWS, True)


def test_count_follows_filters(listing):
    assert paging.count_capped(listing(sex="2"), 1000) == (40, True)
    assert paging.count_capped(listing(q="成员01"), 1000) == (10, True)


def test_count_of_a_list():
    assert paging.count_capped(list(range(30)), 20, per_page=10, ahead=0) == (20, False)
    assert paging.count_capped(list(range(30)), 30, per_page=10, ahead=0) == (30, True)


def test_count_query_drops_ordering_and_joins(listing):
    with CaptureQueriesContext(connection) as queries:
        paging.count_capped(listing(), 50, per_page=10, ahead=1)
    assert len(queries) == 1
    sql = queries[0]["sql"].upper()
    assert "COUNT(" in sql
    assert "ORDER BY" not in sql
    assert "JOIN" not in sql
    assert "LIMIT 51" in sql


def test_paginator_below_cap_behaves_like_django(listing):
    paginator = paging.CappedPaginator(listing(), 50, cap=1000)
    assert paginator.count == ROWS
    assert paginator.count_exact
    assert paginator.count_estimate == ROWS
    assert paginator.num_pages == 3
    last = paginator.page(3)
    assert len(last) == 20
    assert not last.has_next()
    with pytest.raises(EmptyPage):
        paginator.page(4)


def test_paginator_above_cap(listing):
    paginator = paging.CappedPaginator(listing(), 10, cap=50, ahead=1)
    page = paginator.page(1)
    assert paginator.count == 50
    assert not paginator.count_exact
    assert paginator.num_pages == 5  # a lower bound
    assert page.has_next()
    assert [m.name for m in page] == [f"成员{i:03d}" for i in range(10)]  # ordering kept
    assert page[0].organization.pk  # select_related kept for the rows


def test_paginator_deep_page_moves_the_horizon(listing):
    paginator = paging.CappedPaginator(listing(), 10, cap=50, ahead=1)
    assert paginator.count == 50  # counted for page 1 first
    page = paginator.page(8)  # past the first horizon: counted again, further
    assert [m.name for m in page][0] == "成员070"
    assert paginator.count == 90
    assert not paginator.count_exact
    assert page.has_next()
    page = paginator.page(12)
    assert paginator.count == ROWS
    assert paginator.count_exact
    assert not page.has_next()


def test_paginator_get_page_past_the_end_gives_the_last_page(listing):
    paginator = paging.CappedPaginator(listing(), 10, cap=50, ahead=1)
    page = paginator.get_page(1000)
    assert page.number == 12
    assert paginator.count_exact
    assert paginator.get_page("x").number == 1


def test_paginator_queries(listing):
    paginator = paging.CappedPaginator(listing(), 10, cap=50)
    with CaptureQueriesContext(connection) as queries:
        list(paginator.page(2))
    assert len(queries) == 2  # the capped count and the page


def test_estimate(listing):
    paginator = paging.CappedPaginator(listing(), 10, cap=50, ahead=1)
    paginator.page(1)
    estimate = paging.estimate_count(listing())
    if connection.vendor == "postgresql":
        assert isinstance(estimate, int) and estimate >= 0
    else:
        assert estimate is None
    assert paginator.count_estimate >= paginator.count


def test_ninja_pagination(listing, monkeypatch):
    monkeypatch.setattr(paging, "DEFAULT_CAP", 50)
    pagination = paging.CappedPageNumberPagination(page_size=10)
    out = pagination.paginate_queryset(listing(), pagination.Input(page=1), request=None)
    assert (out["count"], out["count_exact"]) == ((1 + paging.AHEAD) * 10, False)
    out = pagination.paginate_queryset(listing(), pagination.Input(page=2), request=None)
    assert [m.name for m in out["items"]][0] == "成员010"
    out = pagination.paginate_queryset(listing(), pagination.Input(page=12), request=None)
    assert (out["count"], out["count_exact"]) == (ROWS, True)


def test_deep_pages_read_ids_first(listing, monkeypatch):
    monkeypatch.setattr(paging, "DEFER_FROM", 20)
    qs = listing()
    assert [m.name for m in paging.page_rows(qs, 0, 10)] == [f"成员{i:03d}" for i in range(10)]
    with CaptureQueriesContext(connection) as queries:
        rows = paging.page_rows(qs, 100, 110)
    assert [m.name for m in rows] == [f"成员{i:03d}" for i in range(100, 110)]
    assert rows[0].organization.pk  # joined, no further query
    assert len(queries) == 2
    assert "JOIN" not in queries[0]["sql"].upper()  # the ids alone
    paginator = paging.CappedPaginator(qs, 10, cap=50, ahead=1)
    page = paginator.page(12)
    assert [m.name for m in page] == [f"成员{i:03d}" for i in range(110, 120)]
    assert list(paging.page_rows(list(range(50)), 30, 33)) == [30, 31, 32]


def test_deep_pages_sorted_other_ways(listing, monkeypatch):
    monkeypatch.setattr(paging, "DEFER_FROM", 1)
    rows = paging.page_rows(listing(sort="-name"), 5, 8)
    assert [m.name for m in rows] == ["成员114", "成员113", "成员112"]
