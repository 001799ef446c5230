"""The dues API at /api/v1/dues: the monthly rule, bases (one by one and in bulk), ledgers and
their generation job, payments (idempotent by Idempotency-Key and by reference), relief signed
off above, arrears and the branch meeting's decision, reminders, collection and remittance
reports, and a member's own dues. Every operation is tried by alice (secretary of branch A,
inside), oscar (the town committee above) and bob (secretary of sibling branch B: 404 or empty
lists); bad input answers a stable code naming the field, writes nothing, never a 500; every
write is audited; lists do not query per row."""

import datetime
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dangjian.core import jobs
from dangjian.core import services as core_services
from dangjian.core.models import AuditEvent, Job
from dangjian.dues import ledger, rules
from dangjian.dues import services as dues
from dangjian.dues.models import (
    ArrearsDecision,
    DuesBase,
    LedgerLine,
    Payment,
    Relief,
)
from tests.members.test_api import assert_error

pytestmark = pytest.mark.django_db

D = "/api/v1/dues"


class ApiClient:
    """django.test.Client speaking JSON with a bearer token (and any extra headers)."""

    def __init__(self, user=None):
        headers = {}
        if user is not None:
            _token, secret = core_services.create_api_token(actor=user, name="tests", days=1)
            headers["Authorization"] = f"Bearer {secret}"
        self.client = Client(headers=headers)

    def get(self, path, params=None):
        return self.client.get(path, params or {})

    def post(self, path, data=None, **headers):
        return self.client.post(
            path, data or {}, content_type="application/json", headers=headers or None
        )

    def put(self, path, data=None):
        return self.client.put(path, data or {}, content_type="application/json")


@pytest.fixture
def alice(people):
    return ApiClient(people["alice"])


@pytest.fixture
def oscar(people):
    return ApiClient(people["oscar"])


@pytest.fixture
def bob(people):
    return ApiClient(people["bob"])


def today() -> datetime.date:
    return timezone.localdate()


def month_back(n: int) -> tuple[int, int]:
    """The (year, month) n months before this one."""
    return rules.from_index(rules.month_index(today().year, today().month) - n)


def this_month() -> dict:
    return {"year": today().year, "month": today().month}


# Bases of the roster: 40.00, 0.20, 60.00 in branch A; 10.00, 0.50 in branch B.
BASES = {
    "zhang": ("in_service", "4000"),
    "li": ("student", None),
    "wang": ("retired", "6000"),
    "zhao": ("in_service", "2000"),
    "qian": ("farmer", "0.50"),
}


@pytest.fixture
def ledgers(roster, people, tree, admin):
    """This year's and last year's bases and ledgers for the roster (last year's too: six
    months back from January reach into it). Nothing paid."""
    for year in (today().year - 1, today().year):
        for key, (category, base) in BASES.items():
            dues.declare_base(
                actor=admin, member=roster[key], year=year, category=category, base=base
            )
        dues.generate_now(actor=admin, org=tree["town"], year=year)
    return roster


def pay(client, member, months=None, key=None, **extra):
    body = {
        "member": member.pk,
        "months": months or [this_month()],
        "paid_on": today().isoformat(),
        "method": "cash",
        **extra,
    }
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(f"{D}/payments", body, **headers)


def line(member, year=None, month=None) -> LedgerLine:
    return LedgerLine.objects.get(
        member=member, year=year or today().year, month=month or today().month
    )


def newcomer_with_lines(make_member, tree):
    """A new member of branch A, with this year's lines (the ledger generated again) and no
    base yet."""
    newcomer = make_member(tree["branch_a"], "孙八")
    ledger.generate(today().year, tree["branch_a"])
    return newcomer


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["items"]}


# Authentication --------------------------------------------------------------------------------


def test_every_operation_needs_a_token(ledgers):
    anonymous = ApiClient()
    response = anonymous.get(f"{D}/rules/monthly", {"category": "student"})
    assert_error(response, 401, "unauthorized")
    assert_error(anonymous.get(f"{D}/mine"), 401, "unauthorized")
    assert_error(pay(anonymous, ledgers["zhang"]), 401, "unauthorized")
    assert not Payment.objects.exists()


# The monthly rule ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "category,base,amount,rate",
    [
        ("in_service", "3000", "15.00", "0.005"),
        ("in_service", "3000.01", "30.00", "0.01"),
        ("in_service", "10000", "150.00", "0.015"),
        ("in_service", "10000.01", "200.00", "0.02"),
        ("retired", "5000", "25.00", "0.005"),
        ("retired", "5000.01", "50.00", "0.01"),
        ("farmer", "0.5", "0.50", None),
        ("student", None, "0.20", None),
        ("relief", None, "0.20", None),
    ],
)
def test_monthly_rule_gives_the_amount(alice, category, base, amount, rate):
    query = {"category": category, "on": f"{today().year}-03-01"}
    if base is not None:
        query["base"] = base
    response = alice.get(f"{D}/rules/monthly", query)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["amount"] == amount
    assert (Decimal(body["rate"]) if body["rate"] else None) == (Decimal(rate) if rate else None)
    assert body["rule_version"] == "2017" and body["year"] == today().year
    assert body["unusual"] is False


def test_monthly_rule_warns_of_an_unusual_amount(oscar):
    response = oscar.get(f"{D}/rules/monthly", {"category": "in_service", "base": "60000"})
    assert response.status_code == 200, response.content
    assert response.json()["amount"] == "1200.00" and response.json()["unusual"] is True


@pytest.mark.parametrize(
    "query,status,code,field",
    [
        ({"category": "farmer", "base": "1.5"}, 400, "farmer_range", "base"),
        ({"category": "farmer"}, 400, "required", "base"),
        ({"category": "in_service"}, 400, "required", "base"),
        ({"category": "in_service", "base": "3000", "on": "2001-01-01"}, 400, "invalid_date", "on"),
        ({"category": "worker", "base": "3000"}, 422, "invalid", "category"),
        ({"category": "in_service", "base": "abc"}, 422, "invalid", "base"),
        ({"category": "in_service", "base": "10.001"}, 422, "invalid", "base"),
        ({"category": "in_service", "base": "-1"}, 422, "invalid", "base"),
        ({"category": "in_service", "base": "1e30"}, 422, "invalid", "base"),
        ({"category": "in_service", "base": "NaN"}, 422, "invalid", "base"),
        ({"category": "in_service", "base": "3000", "on": "2026-02-30"}, 422, "invalid", "on"),
        ({"base": "3000"}, 422, "invalid", "category"),
    ],
)
def test_monthly_rule_refuses_bad_input_naming_the_field(bob, query, status, code, field):
    assert_error(bob.get(f"{D}/rules/monthly", query), status, code, field)


# Bases -----------------------------------------------------------------------------------------


def test_bases_are_listed_within_the_scope(alice, oscar, bob, ledgers, tree):
    year = {"year": today().year}
    a = {
        b.pk
        for b in DuesBase.objects.filter(year=today().year, member__organization=tree["branch_a"])
    }
    b = {
        b.pk
        for b in DuesBase.objects.filter(year=today().year, member__organization=tree["branch_b"])
    }
    assert len(a) == 3 and len(b) == 2
    assert ids(alice.get(f"{D}/bases", year)) == a
    assert ids(oscar.get(f"{D}/bases", year)) == a | b
    assert ids(oscar.get(f"{D}/bases", {**year, "org": tree["branch_b"].pk})) == b
    assert ids(bob.get(f"{D}/bases", year)) == b
    assert ids(bob.get(f"{D}/bases", {"member": ledgers["zhang"].pk})) == set()
    assert_error(bob.get(f"{D}/bases", {"org": tree["branch_a"].pk}), 404, "not_found", "org")
    row = next(
        r
        for r in alice.get(f"{D}/bases", year).json()["items"]
        if r["member"]["id"] == ledgers["zhang"].pk
    )
    assert row["amount"] == "40.00" and row["base"] == "4000.00"
    assert row["category"] == "in_service" and row["rule_version"] == "2017"


def test_declaring_a_base_creates_then_corrects_it_and_lines_follow(
    alice, ledgers, tree, make_member
):
    newcomer = newcomer_with_lines(make_member, tree)
    assert line(newcomer).status == "nobase"
    url = f"{D}/bases/{newcomer.pk}/{today().year}"
    response = alice.put(url, {"category": "in_service", "base": "3000"})
    assert response.status_code == 201, response.content
    assert response.json()["amount"] == "15.00" and response.json()["override"] is None
    assert line(newcomer).due == Decimal("15.00") and line(newcomer).status == "unpaid"
    response = alice.put(
        url,
        {"category": "in_service", "base": "3000", "override": "20.00", "override_reason": "自愿"},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["amount"] == "20.00" and body["computed"] == "15.00"
    assert body["override_reason"] == "自愿"
    assert line(newcomer).due == Decimal("20.00")
    base = DuesBase.objects.get(member=newcomer, year=today().year)
    actions = set(
        AuditEvent.objects.filter(object_id=str(base.pk)).values_list("action", flat=True)
    )
    assert actions == {"dues.base.declare", "dues.base.change"}


def test_bases_are_declared_only_within_the_scope(oscar, bob, ledgers, tree, make_member):
    newcomer = newcomer_with_lines(make_member, tree)
    url = f"{D}/bases/{newcomer.pk}/{today().year}"
    assert_error(bob.put(url, {"category": "student"}), 404, "not_found")
    assert not DuesBase.objects.filter(member=newcomer).exists()
    response = oscar.put(url, {"category": "student"})
    assert response.status_code == 201, response.content
    assert response.json()["amount"] == "0.20"


@pytest.mark.parametrize(
    "year,body,status,code,field",
    [
        (
            0,
            {"category": "in_service", "base": "3000", "override": "20"},
            400,
            "override_reason_required",
            "override_reason",
        ),
        (0, {"category": "farmer", "base": "2"}, 400, "farmer_range", "base"),
        (0, {"category": "retired"}, 400, "required", "base"),
        (0, {"category": "nobody"}, 422, "invalid", "category"),
        (0, {"category": "in_service", "base": "3000.001"}, 422, "invalid", "base"),
        (
            0,
            {"category": "in_service", "base": 3000, "override_reason": "x" * 300, "override": 9},
            400,
            "too_long",
            "override_reason",
        ),
        (2, {"category": "student"}, 400, "invalid_year", "year"),
        (9000, {"category": "student"}, 422, "invalid", "year"),
    ],
)
def test_declaring_a_base_refuses_bad_input(alice, ledgers, year, body, status, code, field):
    zhang = ledgers["zhang"]
    before = list(DuesBase.objects.values_list("pk", "category", "base", "override"))
    year = year if year > 100 else today().year + year
    assert_error(alice.put(f"{D}/bases/{zhang.pk}/{year}", body), status, code, field)
    assert list(DuesBase.objects.values_list("pk", "category", "base", "override")) == before


def test_bulk_declaration_is_all_or_nothing(alice, bob, roster, tree):
    year = today().year
    a = tree["branch_a"].pk
    rows = [
        {"member": roster["zhang"].pk, "category": "in_service", "base": "3000"},
        {"member": roster["li"].pk, "category": "farmer", "base": "5"},
        {"member": roster["zhao"].pk, "category": "student"},  # branch B
    ]
    response = alice.post(f"{D}/bases/bulk", {"org": a, "year": year, "rows": rows})
    body = assert_error(response, 400, "rows_invalid", "rows.1.base")
    assert [e["loc"] for e in body["errors"]] == [["rows", 1, "base"], ["rows", 2, "member"]]
    assert all(e["msg"] for e in body["errors"])
    assert not DuesBase.objects.exists()
    rows[1]["base"] = "0.80"
    response = alice.post(f"{D}/bases/bulk", {"org": a, "year": year, "rows": rows[:2]})
    assert response.status_code == 200, response.content
    assert response.json() == {"changed": 2}
    assert DuesBase.objects.get(member=roster["li"]).amount == Decimal("0.80")
    assert AuditEvent.objects.filter(action="dues.base.declare").count() == 2
    again = alice.post(f"{D}/bases/bulk", {"org": a, "year": year, "rows": rows[:2]})
    assert again.json() == {"changed": 0}
    response = bob.post(f"{D}/bases/bulk", {"org": a, "year": year, "rows": rows[:1]})
    assert_error(response, 404, "not_found", "org")
    empty = alice.post(f"{D}/bases/bulk", {"org": a, "year": year, "rows": []})
    assert_error(empty, 422, "invalid", "rows")


# Ledgers ---------------------------------------------------------------------------------------


def test_generation_runs_as_a_job_seen_by_its_owner(alice, oscar, bob, roster, tree, people):
    body = {"org": tree["branch_a"].pk, "year": today().year}
    response = alice.post(f"{D}/ledgers/generate", body)
    assert response.status_code == 201, response.content
    job = Job.objects.get(pk=response.json()["id"])
    assert job.kind == "dues.generate" and job.user == people["alice"]
    assert job.params == {"org": tree["branch_a"].pk, "year": today().year}
    assert AuditEvent.objects.filter(action="dues.ledger.generate").count() == 1
    assert jobs.execute(str(job.pk))
    status = alice.get(f"{D}/jobs/{job.pk}")
    assert status.status_code == 200, status.content
    assert status.json()["status"] == "done" and status.json()["percent"] == 100
    assert LedgerLine.objects.filter(member=roster["zhang"], year=today().year).count() == 12
    assert not LedgerLine.objects.filter(member=roster["zhao"]).exists()
    assert_error(oscar.get(f"{D}/jobs/{job.pk}"), 404, "not_found")
    assert_error(bob.post(f"{D}/ledgers/generate", body), 404, "not_found", "org")
    town = {"org": tree["town"].pk, "year": today().year}
    assert_error(alice.post(f"{D}/ledgers/generate", town), 404, "not_found", "org")
    later = {"org": tree["branch_a"].pk, "year": today().year + 2}
    assert_error(alice.post(f"{D}/ledgers/generate", later), 400, "invalid_year", "year")
    assert Job.objects.count() == 1


def test_ledger_lines_are_listed_within_the_scope(alice, oscar, bob, ledgers, tree):
    month = {"year": today().year, "month": today().month}
    a = set(
        LedgerLine.objects.filter(organization=tree["branch_a"], **month).values_list(
            "pk", flat=True
        )
    )
    b = set(
        LedgerLine.objects.filter(organization=tree["branch_b"], **month).values_list(
            "pk", flat=True
        )
    )
    assert len(a) == 3 and len(b) == 2
    assert ids(alice.get(f"{D}/ledgers", month)) == a
    assert ids(oscar.get(f"{D}/ledgers", month)) == a | b
    assert ids(bob.get(f"{D}/ledgers", month)) == b
    assert ids(bob.get(f"{D}/ledgers", {"member": ledgers["zhang"].pk})) == set()
    assert_error(bob.get(f"{D}/ledgers", {"org": tree["branch_a"].pk}), 404, "not_found", "org")
    pay(alice, ledgers["zhang"])
    paid = alice.get(f"{D}/ledgers", {**month, "status": "paid"}).json()["items"]
    assert [(r["member"]["id"], r["paid"], r["remaining"]) for r in paid] == [
        (ledgers["zhang"].pk, "40.00", "0.00")
    ]


def test_ledger_list_does_not_query_per_row(oscar, ledgers):
    def queries(page_size):
        with CaptureQueriesContext(connection) as captured:
            response = oscar.get(f"{D}/ledgers", {"page_size": page_size})
        assert len(response.json()["items"]) == page_size
        return len(captured)

    queries(1)  # the token's first use is recorded once
    assert queries(3) == queries(40)


def test_a_members_ledger_is_read_within_the_scope(alice, oscar, bob, ledgers):
    zhang = ledgers["zhang"]
    url = f"{D}/members/{zhang.pk}/ledger"
    response = alice.get(url, {"year": today().year})
    assert response.status_code == 200, response.content
    body = response.json()
    assert [r["month"] for r in body["lines"]] == list(range(1, 13))
    assert body["base"]["amount"] == "40.00" and body["due"] == "480.00"
    assert body["paid"] == "0.00"
    assert oscar.get(url).status_code == 200
    assert_error(bob.get(url), 404, "not_found")
    assert_error(alice.get(f"{D}/members/{2**62}/ledger"), 404, "not_found")


# Payments --------------------------------------------------------------------------------------


def test_a_repeated_idempotency_key_answers_the_same_payment_recorded_once(alice, ledgers):
    zhang = ledgers["zhang"]
    first = pay(alice, zhang, key="7f7c0c8e-double-click")
    assert first.status_code == 201, first.content
    again = pay(alice, zhang, key="7f7c0c8e-double-click")
    assert again.status_code == 200, again.content
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["receipt_no"] == first.json()["receipt_no"]
    assert Payment.objects.count() == 1
    assert AuditEvent.objects.filter(action="dues.payment.record").count() == 1
    body = first.json()
    assert body["amount"] == "40.00" and body["kind"] == "dues"
    assert body["months"] == [{**this_month(), "amount": "40.00"}]
    assert line(zhang).status == "paid" and line(zhang).paid == Decimal("40.00")


def test_idempotency_keys_belong_to_the_account(alice, oscar, ledgers):
    """Oscar's request with Alice's key is his own request, not a replay of hers."""
    zhang = ledgers["zhang"]
    assert pay(alice, zhang, key="same-key").status_code == 201
    assert_error(pay(oscar, zhang, key="same-key"), 409, "already_paid", "months")
    assert Payment.objects.count() == 1


def test_the_same_reference_records_once(alice, ledgers):
    zhang = ledgers["zhang"]
    online = {"method": "online", "reference": "WX20260101123"}
    first = pay(alice, zhang, **online)
    assert first.status_code == 201, first.content
    again = pay(alice, zhang, **online)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    other = pay(alice, ledgers["wang"], **online)
    assert_error(other, 409, "duplicate_reference", "reference")
    assert Payment.objects.count() == 1


def test_payments_are_recorded_and_read_within_the_scope(alice, oscar, bob, ledgers, tree):
    zhang, zhao = ledgers["zhang"], ledgers["zhao"]
    assert_error(pay(bob, zhang), 404, "not_found", "member")
    assert not Payment.objects.exists()
    mine = pay(alice, zhang).json()["id"]
    theirs = pay(bob, zhao).json()["id"]
    year = {"year": today().year}
    assert ids(alice.get(f"{D}/payments", year)) == {mine}
    assert ids(bob.get(f"{D}/payments", year)) == {theirs}
    assert ids(oscar.get(f"{D}/payments", year)) == {mine, theirs}
    assert ids(oscar.get(f"{D}/payments", {"org": tree["branch_b"].pk})) == {theirs}
    assert_error(bob.get(f"{D}/payments", {"org": tree["branch_a"].pk}), 404, "not_found", "org")
    assert alice.get(f"{D}/payments/{mine}").status_code == 200
    assert oscar.get(f"{D}/payments/{mine}").status_code == 200
    assert_error(bob.get(f"{D}/payments/{mine}"), 404, "not_found")
    assert_error(bob.post(f"{D}/payments/{mine}/reverse", {"reason": "错"}), 404, "not_found")
    assert not Payment.objects.get(pk=mine).reversed


def test_payment_list_does_not_query_per_row(oscar, ledgers, people):
    for months_back in range(6):
        for key in ("zhang", "wang", "zhao", "qian"):
            year, month = month_back(months_back)
            dues.record_payment(
                actor=people["oscar"],
                member=ledgers[key],
                months=[(year, month)],
                paid_on=today(),
                method="cash",
            )

    def queries(page_size):
        with CaptureQueriesContext(connection) as captured:
            response = oscar.get(f"{D}/payments", {"page_size": page_size})
        assert len(response.json()["items"]) == page_size
        return len(captured)

    queries(1)  # the token's first use is recorded once
    assert queries(2) == queries(24)


@pytest.mark.parametrize(
    "change,status,code,field",
    [
        ({"months": []}, 422, "invalid", "months"),
        ({"months": [{"year": 2026, "month": 13}]}, 422, "invalid", "months.0.month"),
        ({"months": [{"year": 1999, "month": 1}]}, 422, "invalid", "months.0.year"),
        ({"method": "cheque"}, 422, "invalid", "method"),
        ({"paid_on": "2026-13-01"}, 422, "invalid", "paid_on"),
        ({"amount": "1.234"}, 422, "invalid", "amount"),
        ({"amount": "-5"}, 422, "invalid", "amount"),
        ({"member": 0}, 422, "invalid", "member"),
        ({"member": 2**70}, 422, "invalid", "member"),
        ({"member": 2**62}, 404, "not_found", "member"),
        ({"paid_on": "future"}, 400, "future_date", "paid_on"),
        ({"method": "online"}, 400, "reference_required", "reference"),
        ({"amount": "40.01"}, 400, "overpaid", "amount"),
        ({"amount": "0"}, 400, "invalid_amount", "amount"),
        ({"months": "advance"}, 400, "approval_required", "approval"),
        ({"proxy_name": "张三的妻子"}, 400, "approval_required", "approval"),
        ({"months": "late"}, 400, "late_payment", "months"),
        ({"months": "next_year"}, 400, "no_ledger_line", "months"),
        ({"note": "bad\x00note"}, 400, "control_characters", "note"),
        ({"reference": "x" * 65}, 400, "too_long", "reference"),
    ],
)
def test_payments_refuse_bad_input_and_record_nothing(alice, ledgers, change, status, code, field):
    body = {
        "member": ledgers["zhang"].pk,
        "months": [this_month()],
        "paid_on": today().isoformat(),
        "method": "cash",
    }
    special = {
        "future": (today() + datetime.timedelta(days=1)).isoformat(),
        "advance": [dict(zip(("year", "month"), month_back(-1), strict=True))],
        "late": [dict(zip(("year", "month"), month_back(7), strict=True))],
        "next_year": [{"year": today().year + 1, "month": 1}],
    }
    body |= {k: special.get(v, v) if isinstance(v, str) else v for k, v in change.items()}
    assert_error(alice.post(f"{D}/payments", body), status, code, field)
    assert not Payment.objects.exists()


def test_paying_again_answers_already_paid_and_advance_with_approval_is_recorded(alice, ledgers):
    zhang = ledgers["zhang"]
    assert pay(alice, zhang).status_code == 201
    assert_error(pay(alice, zhang), 409, "already_paid", "months")
    ahead = [dict(zip(("year", "month"), month_back(-1), strict=True))]
    response = pay(alice, zhang, months=ahead, approval="支委会同意提前交纳")
    assert response.status_code == 201, response.content
    late = [dict(zip(("year", "month"), month_back(8), strict=True))]
    response = pay(alice, zhang, months=late, confirm_late=True)
    assert response.status_code == 201, response.content
    assert Payment.objects.count() == 3


def test_an_empty_idempotency_key_is_refused(alice, ledgers):
    response = pay(alice, ledgers["zhang"], key="   ")
    assert_error(response, 400, "invalid", "Idempotency-Key")
    response = pay(alice, ledgers["zhang"], key="k" * 256)
    assert_error(response, 422, "invalid")
    assert not Payment.objects.exists()


def test_a_month_for_many_members_is_recorded_once(alice, bob, ledgers, tree, make_member):
    a = tree["branch_a"]
    body = {
        "org": a.pk,
        **this_month(),
        "members": [ledgers["zhang"].pk, ledgers["wang"].pk],
        "paid_on": today().isoformat(),
        "method": "cash",
    }
    headers = {"Idempotency-Key": "grid-2026-11"}
    response = alice.post(f"{D}/payments/month", body, **headers)
    assert response.status_code == 200, response.content
    assert response.json() == {"recorded": 2, "skipped": 0}
    again = alice.post(f"{D}/payments/month", body, **headers)
    assert again.json() == {"recorded": 0, "skipped": 2}
    assert Payment.objects.count() == 2
    assert AuditEvent.objects.filter(action="dues.payment.record").count() == 2
    assert line(ledgers["wang"]).status == "paid"
    assert_error(bob.post(f"{D}/payments/month", body), 404, "not_found", "org")
    newcomer = newcomer_with_lines(make_member, tree)
    response = alice.post(f"{D}/payments/month", {**body, "members": [newcomer.pk]})
    assert_error(response, 400, "no_base", "members")
    response = alice.post(f"{D}/payments/month", {**body, "members": [ledgers["zhao"].pk]})
    assert_error(response, 400, "no_ledger_line", "members")
    response = alice.post(f"{D}/payments/month", {**body, "method": "online"})
    assert_error(response, 422, "invalid", "method")
    assert Payment.objects.count() == 2


def test_voluntary_payments_are_recorded_apart(alice, bob, ledgers):
    body = {
        "member": ledgers["zhang"].pk,
        "amount": "1000",
        "paid_on": today().isoformat(),
        "method": "bank",
    }
    first = alice.post(f"{D}/payments/voluntary", body, **{"Idempotency-Key": "v1"})
    assert first.status_code == 201, first.content
    assert first.json()["kind"] == "voluntary" and first.json()["large_one_off"] is True
    assert first.json()["months"] == []
    again = alice.post(f"{D}/payments/voluntary", body, **{"Idempotency-Key": "v1"})
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    small = alice.post(f"{D}/payments/voluntary", {**body, "amount": "999.99"})
    assert small.status_code == 201 and small.json()["large_one_off"] is False
    assert not LedgerLine.objects.filter(paid__gt=0).exists()
    assert_error(bob.post(f"{D}/payments/voluntary", body), 404, "not_found", "member")
    bad = alice.post(f"{D}/payments/voluntary", {**body, "amount": "0"})
    assert_error(bad, 400, "invalid_amount", "amount")
    listed = alice.get(f"{D}/payments", {"kind": "voluntary"})
    assert ids(listed) == {first.json()["id"], small.json()["id"]}
    assert AuditEvent.objects.filter(action="dues.payment.voluntary").count() == 2


def test_reversing_a_payment_owes_the_month_again(alice, ledgers):
    zhang = ledgers["zhang"]
    pk = pay(alice, zhang).json()["id"]
    url = f"{D}/payments/{pk}/reverse"
    assert_error(alice.post(url, {"reason": "  "}), 400, "required", "reason")
    assert_error(alice.post(url, {}), 422, "invalid", "reason")
    response = alice.post(url, {"reason": "重复录入"})
    assert response.status_code == 200, response.content
    assert response.json()["reversed"] is True and response.json()["reverse_reason"] == "重复录入"
    assert line(zhang).status == "unpaid" and line(zhang).paid == 0
    assert_error(alice.post(url, {"reason": "再来"}), 409, "already_reversed")
    assert AuditEvent.objects.filter(action="dues.payment.reverse").count() == 1
    assert ids(alice.get(f"{D}/payments", {"reversed": True})) == {pk}
    assert ids(alice.get(f"{D}/payments", {"reversed": False})) == set()


def test_the_host_of_a_mobile_member_collects_the_months_it_hosts(alice, bob, ledgers, tree, admin):
    """Zhang of branch A is away at branch B since the first of this month: B collects this
    month (and sees only that line of his); A keeps the earlier months."""
    from dangjian.transfers import services as transfer_services

    zhang = ledgers["zhang"]
    transfer_services.register_mobile_out(
        actor=admin,
        member=zhang,
        host_org=tree["branch_b"],
        since=today().replace(day=1),
        expected_return=today() + datetime.timedelta(days=60),
    )
    assert line(zhang).organization_id == tree["branch_b"].pk and line(zhang).hosted
    response = bob.get(f"{D}/members/{zhang.pk}/ledger")
    assert response.status_code == 200, response.content
    months = [(r["month"], r["hosted"]) for r in response.json()["lines"]]
    assert (today().month, True) in months and len(months) <= 12 - today().month + 1
    assert response.json()["base"] is None  # the base is the home branch's record
    assert_error(
        bob.put(f"{D}/bases/{zhang.pk}/{today().year}", {"category": "student"}), 404, "not_found"
    )
    response = pay(bob, zhang)
    assert response.status_code == 201, response.content
    assert response.json()["organization"]["id"] == tree["branch_b"].pk
    if today().month > 1:
        year, month = month_back(1)
        assert_error(pay(bob, zhang, months=[{"year": year, "month": month}]), 404, "not_found")
        assert pay(alice, zhang, months=[{"year": year, "month": month}]).status_code == 201


# Relief ----------------------------------------------------------------------------------------


def relief_body(member, **change):
    return {
        "member": member.pk,
        "year": today().year,
        "from_month": 1,
        "to_month": 12,
        "kind": "exempt",
        "reason": "重病住院",
        "branch_decided_on": today().isoformat(),
        **change,
    }


def test_relief_is_approved_by_the_branch_and_signed_off_above(alice, oscar, bob, ledgers):
    zhang = ledgers["zhang"]
    assert_error(bob.post(f"{D}/reliefs", relief_body(zhang)), 404, "not_found", "member")
    response = alice.post(f"{D}/reliefs", relief_body(zhang))
    assert response.status_code == 201, response.content
    relief = response.json()
    assert relief["state"] == "pending"
    url = f"{D}/reliefs/{relief['id']}/sign"
    assert_error(alice.post(url, {"approve": True}), 403, "forbidden")
    assert_error(bob.post(url, {"approve": True}), 404, "not_found")
    assert ids(alice.get(f"{D}/reliefs")) == {relief["id"]}
    assert ids(alice.get(f"{D}/reliefs", {"to_sign": True})) == set()
    assert ids(oscar.get(f"{D}/reliefs", {"to_sign": True})) == {relief["id"]}
    assert ids(bob.get(f"{D}/reliefs")) == set()
    assert_error(
        bob.get(f"{D}/reliefs", {"org": ledgers["zhang"].organization_id}), 404, "not_found", "org"
    )
    assert line(zhang).status == "unpaid"
    response = oscar.post(url, {"approve": True, "note": "同意"})
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "approved"
    assert line(zhang).status == "exempt"
    assert_error(oscar.post(url, {"approve": False, "note": "x"}), 409, "already_decided")
    actions = set(
        AuditEvent.objects.filter(
            object_id=str(relief["id"]), action__startswith="dues.relief"
        ).values_list("action", flat=True)
    )
    assert actions == {"dues.relief.request", "dues.relief.sign"}


@pytest.mark.parametrize(
    "change,status,code,field",
    [
        ({"from_month": 6, "to_month": 3}, 400, "invalid_range", "to_month"),
        ({"kind": "reduce"}, 400, "invalid_amount", "amount"),
        ({"branch_decided_on": "future"}, 400, "invalid_date", "branch_decided_on"),
        ({"reason": ""}, 400, "required", "reason"),
        ({"kind": "forgive"}, 422, "invalid", "kind"),
        ({"to_month": 0}, 422, "invalid", "to_month"),
        ({"year": 3000}, 422, "invalid", "year"),
    ],
)
def test_relief_refuses_bad_input(alice, ledgers, change, status, code, field):
    if change.get("branch_decided_on") == "future":
        change["branch_decided_on"] = (today() + datetime.timedelta(days=2)).isoformat()
    response = alice.post(f"{D}/reliefs", relief_body(ledgers["zhang"], **change))
    assert_error(response, status, code, field)
    assert not Relief.objects.exists()


def test_not_approving_relief_needs_a_note_and_overlaps_are_refused(alice, oscar, ledgers):
    zhang = ledgers["zhang"]
    pk = alice.post(f"{D}/reliefs", relief_body(zhang, to_month=6)).json()["id"]
    again = alice.post(f"{D}/reliefs", relief_body(zhang, from_month=6))
    assert_error(again, 409, "relief_overlaps", "from_month")
    url = f"{D}/reliefs/{pk}/sign"
    assert_error(oscar.post(url, {"approve": False}), 400, "required", "note")
    response = oscar.post(url, {"approve": False, "note": "材料不全"})
    assert response.json()["state"] == "rejected"
    assert ids(oscar.get(f"{D}/reliefs", {"state": "rejected"})) == {pk}


# Arrears ---------------------------------------------------------------------------------------


def test_six_unpaid_months_are_flagged_and_a_person_decides(
    alice, oscar, bob, ledgers, tree, people
):
    zhang, wang = ledgers["zhang"], ledgers["wang"]
    a = {"org": tree["branch_a"].pk}
    flagged = alice.get(f"{D}/arrears", a)
    assert flagged.status_code == 200, flagged.content
    rows = {r["member"]["id"]: r for r in flagged.json()["items"]}
    assert {zhang.pk, wang.pk} <= set(rows)
    assert ledgers["zhao"].pk not in rows
    through = month_back(1)
    assert rows[zhang.pk]["through"] == f"{through[0]}-{through[1]:02d}"
    assert rows[zhang.pk]["months"] >= 6
    assert Decimal(rows[zhang.pk]["owed"]) == 40 * rows[zhang.pk]["months"]
    town = {
        r["member"]["id"]
        for r in oscar.get(f"{D}/arrears", {"org": tree["town"].pk}).json()["items"]
    }
    assert {zhang.pk, ledgers["zhao"].pk} <= town
    assert_error(bob.get(f"{D}/arrears", a), 404, "not_found", "org")
    assert_error(alice.get(f"{D}/arrears", {"org": tree["town"].pk}), 404, "not_found", "org")

    url = f"{D}/arrears/{zhang.pk}/decision"
    decision = {"outcome": "warned", "meeting_on": today().isoformat(), "note": "限期补交"}
    assert_error(bob.post(url, decision), 404, "not_found")
    left = {**decision, "outcome": "left"}
    assert_error(alice.post(url, left), 400, "reference_required", "reference")
    response = alice.post(url, decision)
    assert response.status_code == 201, response.content
    assert response.json()["outcome"] == "warned"
    assert response.json()["through"] == f"{through[0]}-{through[1]:02d}"
    assert ArrearsDecision.objects.count() == 1
    assert AuditEvent.objects.filter(action="dues.arrears.decide").count() == 1
    still = {r["member"]["id"] for r in alice.get(f"{D}/arrears", a).json()["items"]}
    assert zhang.pk not in still and wang.pk in still
    assert zhang.status == "active"  # never removed automatically
    decisions = alice.get(f"{D}/arrears/decisions", a)
    assert ids(decisions) == {response.json()["id"]}
    assert_error(bob.get(f"{D}/arrears/decisions", a), 404, "not_found", "org")

    year, month = month_back(1)
    dues.record_payment(
        actor=people["oscar"],
        member=wang,
        months=[(year, month)],
        paid_on=today(),
        method="cash",
    )
    paid_up = alice.post(f"{D}/arrears/{wang.pk}/decision", decision)
    assert_error(paid_up, 409, "not_in_arrears")
    future = {**decision, "meeting_on": (today() + datetime.timedelta(days=1)).isoformat()}
    assert_error(alice.post(url, future), 400, "invalid_date", "meeting_on")
    assert_error(alice.post(url, {**decision, "outcome": "expel"}), 422, "invalid", "outcome")


# Reminders -------------------------------------------------------------------------------------


def test_reminders_tell_members_behind_once(alice, bob, ledgers, tree, make_user):
    from dangjian.core.models import Notification

    zhang = ledgers["zhang"]
    zhang.user = make_user("zhangsan")
    zhang.save(update_fields=["user"])
    body = {"org": tree["branch_a"].pk, **this_month()}
    assert_error(bob.post(f"{D}/reminders", body), 404, "not_found", "org")
    response = alice.post(f"{D}/reminders", body)
    assert response.status_code == 200, response.content
    assert response.json() == {"sent": 1}
    assert alice.post(f"{D}/reminders", body).json() == {"sent": 0}
    assert Notification.objects.filter(user=zhang.user, kind="dues").count() == 1
    assert AuditEvent.objects.filter(action="dues.remind").count() == 2
    bad = alice.post(f"{D}/reminders", {**body, "month": 0})
    assert_error(bad, 422, "invalid", "month")


# Reports ---------------------------------------------------------------------------------------


def test_collection_report_by_organisation_below(alice, oscar, bob, ledgers, tree):
    pay(alice, ledgers["zhang"])
    query = {"org": tree["town"].pk, "year": today().year}
    response = oscar.get(f"{D}/reports/collection", query)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["organization"]["id"] == tree["town"].pk
    assert [m["month"] for m in body["months"]] == list(range(1, 13))
    assert body["total"]["paid"] == "40.00"
    assert body["total"]["due"] == "1328.40"  # (40 + 0.20 + 60 + 10 + 0.50) x 12
    assert body["total"]["lines"] == 60
    children = {c["organization"]["id"]: c for c in body["children"]}
    assert set(children) == {tree["branch_a"].pk, tree["branch_b"].pk}
    a = children[tree["branch_a"].pk]
    assert a["months"][today().month - 1]["paid"] == "40.00"
    assert a["months"][today().month - 1]["paid_lines"] == 1
    assert a["total"]["due"] == "1202.40" and a["own"] is False
    assert children[tree["branch_b"].pk]["total"]["paid"] == "0.00"
    # Year to date: the months owed by today, not the months still to come.
    n = today().month
    assert body["to_date"]["months"] == n
    assert body["to_date"]["due"] == f"{Decimal('110.70') * n:.2f}"
    assert body["to_date"]["paid"] == "40.00"
    assert body["to_date"]["rate"] == round(40 * 100 / (110.70 * n), 1)
    assert a["to_date"]["due"] == f"{Decimal('100.20') * n:.2f}"
    assert_error(alice.get(f"{D}/reports/collection", query), 404, "not_found", "org")
    own = alice.get(f"{D}/reports/collection", {**query, "org": tree["branch_a"].pk})
    assert own.status_code == 200 and own.json()["total"]["paid"] == "40.00"
    b = {**query, "org": tree["branch_a"].pk}
    assert_error(bob.get(f"{D}/reports/collection", b), 404, "not_found", "org")
    assert_error(
        oscar.get(f"{D}/reports/collection", {"org": tree["town"].pk}), 422, "invalid", "year"
    )


def test_remittance_summary_of_a_month(alice, oscar, bob, ledgers, tree):
    pay(alice, ledgers["zhang"])
    alice.post(
        f"{D}/payments/voluntary",
        {
            "member": ledgers["wang"].pk,
            "amount": "1500",
            "paid_on": today().isoformat(),
            "method": "cash",
        },
    )
    query = {"org": tree["town"].pk, **this_month()}
    response = oscar.get(f"{D}/reports/remittance", query)
    assert response.status_code == 200, response.content
    body = response.json()
    rows = {r["organization"]["id"]: r for r in body["rows"]}
    a = rows[tree["branch_a"].pk]
    assert a["dues"] == "40.00" and a["voluntary"] == "1500.00" and a["large_one_off"] == "1500.00"
    assert a["received"] == "1540.00" and a["payments"] == 2
    assert rows[tree["branch_b"].pk]["dues"] == "0.00"
    # Beside what was received: the month's own dues, paid by now, and their rate.
    assert body["total"]["paid"] == "40.00" and body["total"]["due"] == "110.70"
    assert body["total"]["rate"] == round(40 * 100 / 110.70, 1)
    assert body["total"]["received"] == "1540.00" and body["total"]["large_one_off"] == "1500.00"
    assert_error(bob.get(f"{D}/reports/remittance", query), 404, "not_found", "org")
    assert_error(
        oscar.get(f"{D}/reports/remittance", {**query, "month": 13}), 422, "invalid", "month"
    )


# A member's own dues ---------------------------------------------------------------------------


def test_a_member_reads_their_own_dues_and_receipts(alice, ledgers, make_user):
    zhang = ledgers["zhang"]
    zhang.user = make_user("zhangsan")
    zhang.save(update_fields=["user"])
    paid = pay(alice, zhang).json()["id"]
    other = pay(alice, ledgers["wang"]).json()["id"]
    member = ApiClient(zhang.user)
    response = member.get(f"{D}/mine")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["member"] == {"id": zhang.pk, "name": zhang.name}
    assert [r["month"] for r in body["lines"]] == list(range(1, 13))
    assert [p["id"] for p in body["payments"]] == [paid]
    assert member.get(f"{D}/payments/{paid}").status_code == 200
    assert_error(member.get(f"{D}/payments/{other}"), 404, "not_found")
    assert ids(member.get(f"{D}/payments")) == set()
    assert_error(member.get(f"{D}/members/{zhang.pk}/ledger"), 404, "not_found")
    last_year = member.get(f"{D}/mine", {"year": today().year - 1}).json()
    assert len(last_year["lines"]) == 12 and last_year["payments"] == []
    nobody = alice.get(f"{D}/mine")
    assert nobody.json() == {"member": None, "year": today().year, "lines": [], "payments": []}


# Never a 500 -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("get", "/ledgers?year=abc", None),
        ("get", "/ledgers?org=99999999999999999999999", None),
        ("get", "/ledgers?status=gone", None),
        ("get", "/payments?page=-1&page_size=100000", None),
        ("get", "/payments/abc", None),
        ("get", f"/payments/{2**64}", None),
        ("get", "/jobs/not-a-uuid", None),
        ("get", "/members/1/ledger?year=99999", None),
        ("get", "/rules/monthly?category=in_service&base=%00", None),
        ("put", "/bases/1/abc", {"category": "student"}),
        ("put", "/bases/1/2026", "not json"),
        ("post", "/payments", "not json"),
        ("post", "/payments", [1, 2]),
        ("post", "/payments", {"member": "x", "months": "y"}),
        ("post", "/payments/month", {"org": 1, "year": 2026, "month": 1, "members": ["a"]}),
        ("post", "/bases/bulk", {"org": 1, "year": 2026, "rows": [{"member": None}]}),
        ("post", "/reliefs/1/sign", {"approve": "maybe"}),
        ("post", "/arrears/1/decision", {"outcome": None}),
        ("post", "/ledgers/generate", {"org": -1, "year": 2026}),
    ],
)
def test_malformed_requests_never_answer_500(alice, ledgers, method, path, body):
    client = alice.client
    if method == "get":
        response = client.get(D + path)
    else:
        data = body if isinstance(body, str) else json.dumps(body)
        response = getattr(client, method)(D + path, data, content_type="application/json")
    assert response.status_code in (400, 404, 409, 422), (response.status_code, response.content)
    assert response.json()["code"]
