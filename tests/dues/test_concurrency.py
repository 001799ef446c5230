"""Payments racing on PostgreSQL, with real connections in threads: two requests for the same
member-month record one payment; the same request sent twice gives both callers that payment;
two grids recording overlapping members pay each line once.

The threads wait at a threading.Barrier, then run into ledger lines the main connection holds
locked; only when PostgreSQL shows every thread waiting does the main connection let go, so they
really meet at the lock instead of running one after the other by chance."""

import datetime
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, connections

from dangjian.core.errors import Conflict
from dangjian.core.models import AuditEvent
from dangjian.dues import ledger, services
from dangjian.dues.models import Allocation, LedgerLine, Payment
from tests.races import race

from .invariants import assert_totals_match

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

YEAR = 2026
PAID_ON = datetime.date(2026, 10, 28)


@pytest.fixture
def ready(roster, admin, tree):
    for name, base in [("zhang", "3000"), ("wang", "5000"), ("li", "2000")]:
        services.declare_base(
            actor=admin, member=roster[name], year=YEAR, category="in_service", base=base
        )
    ledger.generate(YEAR, tree["branch_a"])
    return roster


def october(member) -> LedgerLine:
    return LedgerLine.objects.get(member=member, year=YEAR, month=10)


def paying(actor, member, key, **extra):
    return lambda: services.record_payment(
        actor=actor,
        member=member,
        months=[(YEAR, 10)],
        paid_on=PAID_ON,
        method="cash",
        request_key=key,
        **extra,
    )


def test_two_requests_for_one_member_month_record_one_payment(ready, people):
    zhang = ready["zhang"]
    results = race(
        [october(zhang)],
        paying(people["alice"], zhang, "form-a"),
        paying(people["oscar"], zhang, "form-b"),
    )
    oks = [r for kind, r in results if kind == "ok"]
    errors = [r for kind, r in results if kind == "error"]
    assert len(oks) == 1 and len(errors) == 1, results
    assert isinstance(errors[0], Conflict), repr(errors[0])
    assert errors[0].code == "already_paid"
    assert Payment.objects.count() == 1
    line = october(zhang)
    assert (line.paid, line.status) == (Decimal("15.00"), "paid")
    assert Allocation.objects.get().payment_id == oks[0].pk
    assert AuditEvent.objects.filter(action="dues.payment.record").count() == 1
    assert_totals_match()


def test_the_same_request_twice_at_once_gives_both_callers_the_payment(ready, people):
    zhang = ready["zhang"]
    results = race(
        [october(zhang)],
        paying(people["alice"], zhang, "double-click"),
        paying(people["alice"], zhang, "double-click"),
    )
    assert [kind for kind, _r in results] == ["ok", "ok"], results
    assert results[0][1].pk == results[1][1].pk
    assert Payment.objects.count() == 1
    assert october(zhang).paid == Decimal("15.00")
    assert AuditEvent.objects.filter(action="dues.payment.record").count() == 1
    assert_totals_match()


def test_the_same_bank_reference_twice_at_once_records_once(ready, people):
    zhang = ready["zhang"]

    def by_bank(actor):
        return lambda: services.record_payment(
            actor=actor,
            member=zhang,
            months=[(YEAR, 10)],
            paid_on=PAID_ON,
            method="bank",
            reference="ICBC-1",
        )

    results = race([october(zhang)], by_bank(people["alice"]), by_bank(people["oscar"]))
    assert [kind for kind, _r in results] == ["ok", "ok"], results
    assert results[0][1].pk == results[1][1].pk
    assert Payment.objects.count() == 1
    assert_totals_match()


@pytest.mark.parametrize(
    "keys", [("grid-1", "grid-2"), ("grid-1", "grid-1")], ids=["two-forms", "one-form-twice"]
)
def test_two_grids_recording_overlapping_members_pay_each_line_once(ready, people, tree, keys):
    zhang, li, wang = ready["zhang"], ready["li"], ready["wang"]

    def grid(actor, members, key):
        return lambda: services.record_month(
            actor=actor,
            org=tree["branch_a"],
            year=YEAR,
            month=10,
            member_ids=[m.pk for m in members],
            paid_on=PAID_ON,
            request_key=key,
        )

    results = race(
        [october(li)],  # the member both grids hold in common
        grid(people["alice"], [zhang, li], keys[0]),
        grid(people["oscar"], [li, wang], keys[1]),
    )
    assert [kind for kind, _r in results] == ["ok", "ok"], results
    counts = [r for _kind, r in results]
    assert sorted(c["recorded"] for c in counts) == [1, 2]
    assert sum(c["skipped"] for c in counts) == 1
    for member in (zhang, li, wang):
        line = october(member)
        assert line.status == "paid" and line.paid == line.due
        assert Payment.objects.filter(member=member).count() == 1
        assert Allocation.objects.filter(line=line).count() == 1
    assert AuditEvent.objects.filter(action="dues.payment.record").count() == 3
    assert_totals_match()


def test_a_voluntary_payment_clicked_twice_at_once_gives_both_the_receipt(ready, people):
    """Both requests insert; the second meets the first's key at the unique index, loses when
    it commits, and then answers with the winner's payment (not "recorded already")."""
    zhang, alice = ready["zhang"], people["alice"]

    def volunteer():
        return services.record_voluntary(
            actor=alice,
            member=zhang,
            amount="200",
            paid_on=PAID_ON,
            method="cash",
            request_key="vol-double",
        )

    # Held here, the member stops the first at its commit (the foreign key is checked then,
    # KEY SHARE); the second waits behind the first's key at the unique index.
    results = race([zhang], volunteer, volunteer)
    assert [kind for kind, _r in results] == ["ok", "ok"], results
    assert results[0][1].pk == results[1][1].pk
    assert Payment.objects.count() == 1
    assert AuditEvent.objects.filter(action="dues.payment.voluntary").count() == 1
    assert_totals_match()


def test_one_bank_reference_for_two_members_at_once_records_one(ready, people):
    """The same serial sent for two members at once: no ledger line in common, so both reach
    the insert; the loser meets the winner's reference at the unique index, tries again, and is
    told the reference is recorded (not a bare "recorded already"). Nothing of it is written."""
    alice = people["alice"]

    def by_bank(member):
        return lambda: services.record_payment(
            actor=alice,
            member=member,
            months=[(YEAR, 10)],
            paid_on=PAID_ON,
            method="bank",
            reference="ICBC-9",
        )

    # Held here, the user who records stops the first at its commit (the payment's recorded_by
    # is checked then): both have looked the reference up and found nothing; the second waits
    # behind the first's reference at the unique index.
    results = race([alice], by_bank(ready["zhang"]), by_bank(ready["wang"]))
    assert sorted(kind for kind, _r in results) == ["error", "ok"], results
    error = next(r for kind, r in results if kind == "error")
    assert isinstance(error, Conflict) and error.code == "duplicate_reference", repr(error)
    assert Payment.objects.count() == 1
    assert LedgerLine.objects.filter(status="paid").count() == 1
    assert_totals_match()


# Lock order ---------------------------------------------------------------------------------


def blockers(pid) -> set:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_blocking_pids(%s)", [pid])
        return set(cursor.fetchone()[0])


def in_thread(call) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def run():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                out["pid"] = cursor.fetchone()[0]
            out["result"] = ("ok", call())
        except Exception as exc:
            out["result"] = ("error", exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


@pytest.mark.parametrize(
    "service",
    ["record_payment", "record_month", "declare_base", "reverse_payment", "decide_arrears"],
)
@pytest.mark.parametrize("held", ["member", "branch"])
def test_a_payment_waits_for_a_transfer_before_it_locks_any_line(
    ready, people, tree, service, held
):
    """A transfer (staged here by a raw connection) holds the member's row, then wants the
    member's ledger lines to move them. A dues service meeting it must wait at the member's row
    holding no line: had it locked the lines first and then waited for the member (as inserting
    a payment referring to the member does), the two would deadlock and one would end in a
    500. Organisations, then members, then lines: the house order."""
    zhang, alice = ready["zhang"], people["alice"]
    # A voluntary payment in the month: its totals are in the rows the services rewrite.
    services.record_voluntary(
        actor=alice, member=zhang, amount="1000", paid_on=PAID_ON, method="cash"
    )
    earlier = None
    if service == "reverse_payment":
        earlier = services.record_payment(
            actor=alice, member=zhang, months=[(YEAR, 9)], paid_on=PAID_ON, method="cash"
        )
    call = {
        "record_payment": lambda: services.record_payment(
            actor=alice, member=zhang, months=[(YEAR, 10)], paid_on=PAID_ON, method="cash"
        ),
        "record_month": lambda: services.record_month(
            actor=alice,
            org=tree["branch_a"],
            year=YEAR,
            month=10,
            member_ids=[zhang.pk],
            paid_on=PAID_ON,
        ),
        "declare_base": lambda: services.declare_base(
            actor=alice, member=zhang, year=YEAR, category="in_service", base="5000"
        ),
        "reverse_payment": lambda: services.reverse_payment(
            actor=alice, payment=earlier, reason="记错"
        ),
        "decide_arrears": lambda: services.decide_arrears(
            actor=alice,
            member=zhang,
            outcome="left",
            meeting_on=PAID_ON,
            reference="纪要",
            on=PAID_ON,
        ),
    }[service]
    transfer = connection.get_new_connection(connection.get_connection_params())
    member_sql = "SELECT 1 FROM members_member WHERE id = %s FOR UPDATE"
    with transfer.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        transfer_pid = cursor.fetchone()[0]
        if held == "branch":  # a transfer starting: the branch first, the member next
            cursor.execute(
                "SELECT 1 FROM core_organization WHERE id = %s FOR UPDATE", [tree["branch_a"].pk]
            )
        else:  # a transfer being accepted: the member
            cursor.execute(member_sql, [zhang.pk])
    try:
        thread, out = in_thread(call)
        deadline = time.monotonic() + 30
        # The service waits for the transfer (or, needing nothing of it, is done already).
        while "result" not in out and (
            "pid" not in out or transfer_pid not in blockers(out["pid"])
        ):
            assert time.monotonic() < deadline, f"the service never waited: {out}"
            time.sleep(0.01)
        # Now the transfer wants the member and the lines: they must be free.
        with transfer.cursor() as cursor:
            cursor.execute("SET lock_timeout = '5s'")
            cursor.execute(member_sql, [zhang.pk])
            cursor.execute(
                "SELECT id FROM dues_ledgerline WHERE member_id = %s FOR UPDATE", [zhang.pk]
            )
            assert len(cursor.fetchall()) == 12
    finally:
        transfer.rollback()
        transfer.close()
    thread.join(60)
    assert not thread.is_alive()
    assert out["result"][0] == "ok", out
    assert_totals_match()
