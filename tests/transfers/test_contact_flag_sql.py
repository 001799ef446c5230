"""The out-of-contact list filters by flag in SQL (transfers.selectors.with_flag) with exactly
the dates of the pure rule (members.rules.contact_flag), month ends included."""

import datetime

import pytest

from dangjian.members import services as member_services
from dangjian.transfers import selectors

pytestmark = pytest.mark.django_db
D = datetime.date.fromisoformat

# (lost contact on, suspended on or None)
CASES = [
    ("2023-08-31", None),
    ("2023-08-28", None),
    ("2023-09-01", None),
    ("2023-02-28", "2023-08-28"),
    ("2022-08-31", "2023-02-28"),
    ("2022-01-31", "2024-01-31"),
    ("2024-02-29", None),
]
TODAYS = [
    "2024-02-28",
    "2024-02-29",
    "2024-03-01",
    "2024-08-29",
    "2025-02-28",
    "2025-08-28",
    "2025-08-31",
    "2026-01-31",
    "2026-02-28",
    "2026-03-01",
]


@pytest.fixture
def flagged(admin, tree, make_member):
    people = []
    for i, (lost, suspended) in enumerate(CASES):
        m = make_member(tree["branch_a"], f"失联{i}", birth="1970-01-01", joined_on="2000-07-01")
        member_services.append_event(actor=admin, member=m, kind="lost_contact", on=D(lost))
        if suspended:
            member_services.append_event(actor=admin, member=m, kind="suspended", on=D(suspended))
        people.append(m)
    return people


@pytest.mark.parametrize("today", TODAYS)
def test_the_sql_filter_agrees_with_the_rule(flagged, admin, today):
    today = D(today)
    qs = selectors.out_of_contact(admin)
    by_rule = {m.pk: m.flag for m in selectors.with_flags(qs, today)}
    assert len(by_rule) == len(CASES)
    for flag in ("suspend", "remove", ""):
        in_sql = set(selectors.with_flag(qs, flag, today).values_list("pk", flat=True))
        assert in_sql == {pk for pk, f in by_rule.items() if f == flag}, (flag, today)


def test_the_page_filters_by_flag(flagged, admin, client_for):
    from django.urls import reverse

    client = client_for(admin)
    page = client.get(reverse("transfers:contact"), {"flag": "remove"})
    assert page.status_code == 200
    html = page.content.decode()
    expected = [
        m.name for m in selectors.with_flags(selectors.out_of_contact(admin)) if m.flag == "remove"
    ]
    assert expected and all(name in html for name in expected)
    others = [m.name for m in flagged if m.name not in expected]
    assert not any(f">{name}<" in html for name in others)
    assert client.get(reverse("transfers:contact"), {"flag": "bogus"}).status_code == 200


def test_the_api_filters_by_flag(flagged, admin):
    from django.test import Client

    from dangjian.core import services as core_services

    _token, secret = core_services.create_api_token(actor=admin, name="t", days=1)
    api = Client(headers={"Authorization": f"Bearer {secret}"})
    rows = api.get("/api/v1/transfers/contact", {"flag": "remove"}).json()["items"]
    expected = {
        m.pk for m in selectors.with_flags(selectors.out_of_contact(admin)) if m.flag == "remove"
    }
    assert expected and {r["id"] for r in rows} == expected
    assert api.get("/api/v1/transfers/contact", {"flag": "bogus"}).status_code == 422
