"""Generating the ledger: one line per member and month, at the organisation collecting it, from
the member's timeline (transfers, admission, death) and mobile stays; the fast SQL path and the
member-by-member path agree; lines follow timelines, bases and relief after generation; the
month totals always equal the sums over the lines.

Dates are fixed in 2025 and 2026 (the tests were written on 2026-11-25: every date used is in
the past, and December 2026 is the only month still to come)."""

import datetime
from decimal import Decimal

import pytest

from dangjian.core.errors import NotFound
from dangjian.dues import ledger, services
from dangjian.dues.models import Allocation, LedgerLine, MonthTotal, Payment
from dangjian.members import services as member_services
from dangjian.transfers import services as transfers

from .invariants import assert_totals_match, lines_of, snapshot, where

pytestmark = pytest.mark.django_db

YEAR = 2026
D = datetime.date


@pytest.fixture
def bases(roster, admin):
    """2026 bases: 张三 in service 3000 (15.00), 李四 student (0.20), 王五 retired 5000 (25.00),
    赵六 in service 8000 (120.00), 钱七 farmer 0.50."""
    for name, category, base in [
        ("zhang", "in_service", "3000"),
        ("li", "student", None),
        ("wang", "retired", "5000"),
        ("zhao", "in_service", "8000"),
        ("qian", "farmer", "0.50"),
    ]:
        services.declare_base(
            actor=admin, member=roster[name], year=YEAR, category=category, base=base
        )
    return roster


def transfer(people, tree, member, *, started, accepted):
    t = transfers.start_transfer(
        actor=people["alice"], member=member, to_org=tree["branch_b"], on=started
    )
    return transfers.accept_transfer(actor=people["bob"], transfer=t, on=accepted)


def pay(actor, member, year, month, paid_on, **extra):
    return services.record_payment(
        actor=actor,
        member=member,
        months=[(year, month)],
        paid_on=paid_on,
        method="cash",
        **extra,
    )


def months_at(member, year, org) -> list[int]:
    return sorted(m for m, o in where(member, year).items() if o == org.pk)


# A plain year --------------------------------------------------------------------------------


def test_a_plain_year_has_twelve_lines_at_the_branch(bases, tree):
    result = ledger.generate(YEAR)
    zhang = bases["zhang"]
    assert lines_of(zhang, YEAR) == [
        (YEAR, m, tree["branch_a"].pk, False, Decimal("15.00"), Decimal("0.00"), "unpaid")
        for m in range(1, 13)
    ]
    assert LedgerLine.objects.filter(member=zhang).values("org_path").distinct().count() == 1
    assert LedgerLine.objects.get(member=zhang, year=YEAR, month=1).org_path == (
        tree["branch_a"].path
    )
    assert result["plain_lines"] == 5 * 12  # nobody moved: every line by the fast path
    assert result["moving_members"] == 0
    assert result["lines"] == 60
    assert_totals_match()
    total = MonthTotal.objects.get(organization=tree["branch_a"], year=YEAR, month=3)
    assert (total.lines, total.due) == (3, Decimal("15.00") + Decimal("0.20") + Decimal("25.00"))


def test_a_member_without_a_base_gets_lines_marked_no_base(roster, tree):
    ledger.generate(YEAR, tree["branch_a"])
    line = LedgerLine.objects.get(member=roster["zhang"], year=YEAR, month=1)
    assert (line.due, line.status) == (None, "nobase")
    assert not LedgerLine.objects.filter(member=roster["zhao"]).exists()  # B not generated
    assert_totals_match()


def test_a_zero_amount_is_paid_without_money(roster, tree, admin):
    services.declare_base(
        actor=admin, member=roster["zhang"], year=YEAR, category="in_service", base="0"
    )
    ledger.generate(YEAR, tree["branch_a"])
    line = LedgerLine.objects.get(member=roster["zhang"], year=YEAR, month=1)
    assert (line.due, line.paid, line.status) == (Decimal("0.00"), Decimal("0.00"), "paid")


# Transfers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accepted", "last_at_a"),
    [(D(2026, 6, 10), 6), (D(2026, 6, 1), 5), (D(2026, 1, 1), 0)],
    ids=["mid-june", "first-of-june", "new-year"],
)
def test_a_transfer_mid_year_splits_the_year(bases, people, tree, accepted, last_at_a):
    zhang = bases["zhang"]
    transfer(people, tree, zhang, started=accepted, accepted=accepted)
    ledger.generate(YEAR)
    a, b = tree["branch_a"], tree["branch_b"]
    assert months_at(zhang, YEAR, a) == list(range(1, last_at_a + 1))
    assert months_at(zhang, YEAR, b) == list(range(last_at_a + 1, 13))
    for line in LedgerLine.objects.filter(member=zhang, year=YEAR):
        assert line.org_path == (a.path if line.month <= last_at_a else b.path)
        assert line.hosted is False
        assert line.due == Decimal("15.00")  # the base is the member's, wherever they are
    assert_totals_match()


def test_generating_only_the_receiving_branch_keeps_the_sending_branchs_totals(bases, people, tree):
    zhang = bases["zhang"]
    transfer(people, tree, zhang, started=D(2026, 6, 1), accepted=D(2026, 6, 10))
    ledger.generate(YEAR, tree["branch_b"])
    assert months_at(zhang, YEAR, tree["branch_a"]) == [1, 2, 3, 4, 5, 6]
    assert months_at(zhang, YEAR, tree["branch_b"]) == [7, 8, 9, 10, 11, 12]
    assert_totals_match()


def test_generating_only_the_sending_branch_finds_the_member_who_left_it(bases, people, tree):
    zhang = bases["zhang"]
    transfer(people, tree, zhang, started=D(2026, 6, 1), accepted=D(2026, 6, 10))
    ledger.generate(YEAR, tree["branch_a"])
    assert months_at(zhang, YEAR, tree["branch_a"]) == [1, 2, 3, 4, 5, 6]
    assert_totals_match()


def test_a_past_year_generated_after_the_member_moved_on(bases, people, tree, admin):
    """2025 generated for branch A after 张三 left A in 2026: he was A's all of 2025."""
    zhang = bases["zhang"]
    transfer(people, tree, zhang, started=D(2026, 6, 1), accepted=D(2026, 6, 10))
    ledger.generate(2025, tree["branch_a"])
    assert months_at(zhang, 2025, tree["branch_a"]) == list(range(1, 13))
    assert not LedgerLine.objects.filter(member=zhang, year=YEAR).exists()
    assert_totals_match()


def test_a_transfer_recorded_after_generation_moves_the_months_not_yet_paid(bases, people, tree):
    zhang, a, b = bases["zhang"], tree["branch_a"], tree["branch_b"]
    ledger.generate(YEAR)
    pay(people["alice"], zhang, YEAR, 7, D(2026, 7, 5))
    pay(people["alice"], zhang, YEAR, 2, D(2026, 2, 5))
    assert_totals_match()
    # The transfer is recorded in November, dated June (the letter came late).
    transfer(people, tree, zhang, started=D(2026, 6, 1), accepted=D(2026, 6, 10))
    assert months_at(zhang, YEAR, a) == [1, 2, 3, 4, 5, 6, 7]  # July was paid at A: stays
    assert months_at(zhang, YEAR, b) == [8, 9, 10, 11, 12]
    july = LedgerLine.objects.get(member=zhang, year=YEAR, month=7)
    assert (july.paid, july.status, july.org_path) == (Decimal("15.00"), "paid", a.path)
    assert LedgerLine.objects.filter(member=zhang, year=YEAR).count() == 12
    assert_totals_match()
    # Generating again changes nothing: the timeline and the lines already agree.
    before = snapshot()
    ledger.generate(YEAR)
    assert snapshot() == before


# Probationary start, death -------------------------------------------------------------------


def test_a_probationary_member_pays_from_the_month_of_admission(tree, make_member, admin, people):
    sun = make_member(tree["branch_a"], "孙八", joined_on="2026-04-15", full_on=None)
    services.declare_base(actor=admin, member=sun, year=YEAR, category="in_service", base="4000")
    ledger.generate(YEAR)
    assert [(m, due) for _y, m, _o, _h, due, _p, _s in lines_of(sun)] == [
        (m, Decimal("40.00")) for m in range(4, 13)
    ]
    assert_totals_match()


def test_a_death_mid_year_owes_up_to_its_month(bases, people):
    wang = bases["wang"]
    member_services.record_event(
        actor=people["alice"], member=wang, kind="deceased", on=D(2026, 5, 15)
    )
    ledger.generate(YEAR)
    assert sorted(where(wang, YEAR)) == [1, 2, 3, 4, 5]
    assert_totals_match()


def test_a_death_recorded_after_generation_removes_the_later_months_but_not_money(bases, people):
    wang, alice = bases["wang"], people["alice"]
    ledger.generate(YEAR)
    pay(alice, wang, YEAR, 7, D(2026, 7, 3))
    wrong = pay(alice, wang, YEAR, 8, D(2026, 8, 3))
    services.reverse_payment(actor=alice, payment=wrong, reason="记错人")
    member_services.record_event(actor=alice, member=wang, kind="deceased", on=D(2026, 5, 15))
    # July was paid: the money stays on its line. August's payment was reversed: nothing holds
    # the line, it goes with the other months after May.
    assert sorted(where(wang, YEAR)) == [1, 2, 3, 4, 5, 7]
    assert Payment.objects.get(pk=wrong.pk).reversed
    assert not Allocation.objects.filter(payment=wrong).exists()
    assert_totals_match()


# Mobile members ------------------------------------------------------------------------------


MARCH_10, JULY_20 = D(2026, 3, 10), D(2026, 7, 20)


def away(people, tree, member, *, host="branch_b", since=MARCH_10, back=JULY_20):
    stay = transfers.register_mobile_out(
        actor=people["alice"],
        member=member,
        host_org=tree[host] if host else None,
        destination="" if host else "深圳市某公司",
        since=since,
        expected_return=D(2026, 8, 1),
    )
    if back:
        transfers.end_mobile(actor=people["alice"], stay=stay, on=back)
    return stay


def test_a_mobile_member_pays_the_host_for_the_months_away(bases, people, tree):
    zhang = bases["zhang"]
    away(people, tree, zhang)
    ledger.generate(YEAR)
    lines = LedgerLine.objects.filter(member=zhang, year=YEAR).order_by("month")
    assert [(x.month, x.organization_id, x.hosted) for x in lines] == [
        (m, tree["branch_b"].pk, True) if 4 <= m <= 7 else (m, tree["branch_a"].pk, False)
        for m in range(1, 13)
    ]
    assert_totals_match()
    # The host records April; the home branch cannot (the host collects it), and a month at
    # home is not the host's to record.
    p = pay(people["bob"], zhang, YEAR, 4, D(2026, 4, 20))
    assert p.organization_id == tree["branch_b"].pk
    with pytest.raises(NotFound):
        pay(people["bob"], zhang, YEAR, 9, D(2026, 9, 20))
    pay(people["alice"], zhang, YEAR, 9, D(2026, 9, 20))
    assert_totals_match()
    # No double counting: each member-month is one line, due once, across both branches.
    total_due = sum(t.due for t in MonthTotal.objects.filter(year=YEAR, month=4))
    assert total_due == Decimal("15.00") + Decimal("0.20") + Decimal("25.00") + Decimal(
        "120.00"
    ) + Decimal("0.50")


def test_a_stay_recorded_after_generation_moves_the_months_to_the_host_and_back(
    bases, people, tree
):
    zhang = bases["zhang"]
    ledger.generate(YEAR)
    stay = away(people, tree, zhang, back=None)
    # Away since 10 March, not yet back: April to December are the host's.
    assert months_at(zhang, YEAR, tree["branch_b"]) == list(range(4, 13))
    assert_totals_match()
    transfers.end_mobile(actor=people["alice"], stay=stay, on=D(2026, 7, 20))
    assert months_at(zhang, YEAR, tree["branch_b"]) == [4, 5, 6, 7]
    assert months_at(zhang, YEAR, tree["branch_a"]) == [1, 2, 3, 8, 9, 10, 11, 12]
    assert_totals_match()


def test_a_stay_outside_the_platform_leaves_the_lines_at_home(bases, people, tree):
    zhang = bases["zhang"]
    away(people, tree, zhang, host=None)
    ledger.generate(YEAR)
    assert months_at(zhang, YEAR, tree["branch_a"]) == list(range(1, 13))


def test_generating_the_host_alone_writes_its_guests_lines(bases, people, tree):
    zhang = bases["zhang"]
    away(people, tree, zhang)
    ledger.generate(YEAR, tree["branch_b"])
    assert months_at(zhang, YEAR, tree["branch_b"]) == [4, 5, 6, 7]
    assert_totals_match()


# Both paths agree ----------------------------------------------------------------------------


def everybody_expected(year) -> dict:
    """(member, month) -> (organisation, hosted, due, status), from the timeline and the rules
    of the per-member path, read independently of the lines."""
    from dangjian.dues.models import DuesBase, Relief
    from dangjian.members.models import Member

    ids = list(Member.objects.values_list("pk", flat=True))
    found = {}
    bases = {b.member_id: b for b in DuesBase.objects.filter(year=year)}
    for pk, months in ledger.expected(ids, year).items():
        reliefs = list(Relief.objects.filter(member_id=pk, year=year))
        for d in months:
            due, exempt = ledger.due_of(bases.get(pk), reliefs, year, d.month)
            found[(pk, d.month)] = (
                d.organization_id,
                d.hosted,
                due,
                ledger.status_of(due, 0, exempt),
            )
    return found


def ledger_now(year) -> dict:
    return {
        (line.member_id, line.month): (line.organization_id, line.hosted, line.due, line.status)
        for line in LedgerLine.objects.filter(year=year)
    }


def test_the_fast_path_and_the_per_member_path_give_the_same_lines(
    bases, people, tree, make_member, admin
):
    a = tree["branch_a"]
    alice = people["alice"]
    # Moving members: a transfer, a probationary start, a death, a stay, an exemption.
    transfer(people, tree, bases["zhang"], started=D(2026, 6, 1), accepted=D(2026, 6, 10))
    sun = make_member(a, "孙八", joined_on="2026-04-15", full_on=None)
    services.declare_base(actor=admin, member=sun, year=YEAR, category="retired", base="6000")
    member_services.record_event(
        actor=alice, member=bases["wang"], kind="deceased", on=D(2026, 9, 2)
    )
    zhou = make_member(a, "周九")
    away(people, tree, zhou)
    services.declare_base(actor=admin, member=zhou, year=YEAR, category="farmer", base="1")
    relief = services.request_relief(
        actor=alice,
        member=bases["li"],
        year=YEAR,
        from_month=2,
        to_month=4,
        kind="exempt",
        reason="大病住院",
        branch_decided_on=D(2026, 1, 20),
    )
    services.sign_relief(actor=people["oscar"], relief=relief, approve=True)
    # Plain members: one with a base, one without.
    make_member(tree["branch_b"], "吴十")
    plain = make_member(tree["branch_b"], "郑十一")
    services.declare_base(actor=admin, member=plain, year=YEAR, category="retired", base="5000.01")

    result = ledger.generate(YEAR)
    assert result["plain_lines"] == 4 * 12  # 钱七, 赵六, 吴十, 郑十一
    assert result["moving_members"] == 5  # 张三, 孙八, 王五, 周九, 李四
    fast = ledger_now(YEAR)
    assert fast == everybody_expected(YEAR)
    assert_totals_match()

    # Now every member by the per-member path, from nothing.
    from dangjian.members.models import Member

    LedgerLine.objects.all().delete()
    MonthTotal.objects.all().delete()
    ledger.sync(Member.objects.values_list("pk", flat=True), [YEAR])
    assert ledger_now(YEAR) == fast
    ledger.refresh_subtree_totals(YEAR, None)
    assert_totals_match()


def test_generating_twice_changes_nothing(bases, people, tree):
    transfer(people, tree, bases["zhang"], started=D(2026, 6, 1), accepted=D(2026, 6, 10))
    away(people, tree, bases["wang"])
    first = ledger.generate(YEAR)
    pay(people["alice"], bases["zhang"], YEAR, 3, D(2026, 3, 3))
    before = snapshot()
    second = ledger.generate(YEAR)
    assert snapshot() == before
    assert second["lines"] == first["lines"]
    assert second["plain_lines"] == 0
    ledger.generate(YEAR, tree["branch_a"])
    assert snapshot() == before


def test_generate_refuses_an_absurd_year():
    with pytest.raises(ValueError):
        ledger.generate(1999)


# Bases and relief after generation ----------------------------------------------------------


def test_a_base_change_updates_the_lines_and_keeps_the_money(bases, people, tree):
    zhang, alice = bases["zhang"], people["alice"]
    ledger.generate(YEAR)
    pay(alice, zhang, YEAR, 1, D(2026, 1, 8))
    pay(alice, zhang, YEAR, 2, D(2026, 2, 8), amount="10.00")
    services.declare_base(actor=alice, member=zhang, year=YEAR, category="in_service", base="5000")
    lines = {x.month: x for x in LedgerLine.objects.filter(member=zhang, year=YEAR)}
    # The money received stays where it was; every month owes the amount now declared.
    assert (lines[1].paid, lines[1].paid_on, lines[1].due) == (
        Decimal("15.00"),
        D(2026, 1, 8),
        Decimal("50.00"),
    )
    assert lines[1].status == "partial"
    assert (lines[2].paid, lines[2].status) == (Decimal("10.00"), "partial")
    assert all(
        lines[m].due == Decimal("50.00") and lines[m].status == "unpaid" for m in range(3, 13)
    )
    assert_totals_match()
    # Lower again: the months paid at the old amount are paid.
    services.declare_base(actor=alice, member=zhang, year=YEAR, category="in_service", base="1000")
    lines = {x.month: x for x in LedgerLine.objects.filter(member=zhang, year=YEAR)}
    assert (lines[1].due, lines[1].paid, lines[1].status) == (
        Decimal("5.00"),
        Decimal("15.00"),
        "paid",
    )
    assert lines[2].status == "paid"
    assert lines[3].due == Decimal("5.00") and lines[3].status == "unpaid"
    assert_totals_match()


def test_an_amount_set_by_hand_is_what_the_lines_owe(bases, people):
    zhang, alice = bases["zhang"], people["alice"]
    ledger.generate(YEAR)
    services.declare_base(
        actor=alice,
        member=zhang,
        year=YEAR,
        category="in_service",
        base="3000",
        override="12.00",
        override_reason="支部大会决定",
    )
    assert {x.due for x in LedgerLine.objects.filter(member=zhang, year=YEAR)} == {Decimal("12.00")}
    assert_totals_match()


def test_declaring_bases_in_a_grid_updates_generated_lines(bases, people, tree):
    ledger.generate(YEAR)
    services.declare_bases(
        actor=people["alice"],
        org=tree["branch_a"],
        year=YEAR,
        rows=[
            {"member": bases["zhang"], "category": "in_service", "base": "10000.01"},
            {"member": bases["wang"].pk, "category": "retired", "base": "5000"},
        ],
    )
    assert LedgerLine.objects.get(member=bases["zhang"], year=YEAR, month=6).due == Decimal(
        "200.00"
    )
    assert_totals_match()


@pytest.mark.parametrize(
    ("kind", "amount", "due", "status"),
    [
        ("exempt", None, Decimal("0.00"), "exempt"),
        ("reduce", "5.00", Decimal("5.00"), "unpaid"),
    ],
)
def test_approved_relief_changes_its_months(bases, people, kind, amount, due, status):
    zhang = bases["zhang"]
    ledger.generate(YEAR)
    relief = services.request_relief(
        actor=people["alice"],
        member=zhang,
        year=YEAR,
        from_month=3,
        to_month=5,
        kind=kind,
        amount=amount,
        reason="家庭困难",
        branch_decided_on=D(2026, 2, 20),
    )
    # Requested by the branch: nothing changes until the committee above signs.
    assert {x.status for x in LedgerLine.objects.filter(member=zhang, year=YEAR)} == {"unpaid"}
    services.sign_relief(actor=people["oscar"], relief=relief, approve=True)
    lines = {x.month: x for x in LedgerLine.objects.filter(member=zhang, year=YEAR)}
    for month in (3, 4, 5):
        assert (lines[month].due, lines[month].status) == (due, status)
    for month in (2, 6):
        assert (lines[month].due, lines[month].status) == (Decimal("15.00"), "unpaid")
    assert_totals_match()
    if kind == "exempt":
        total = MonthTotal.objects.get(organization=zhang.organization, year=YEAR, month=4)
        assert total.exempt_lines == 1
        before = snapshot()
        ledger.generate(YEAR)  # the per-member path gives the same exempt lines
        assert snapshot() == before


def test_relief_signed_before_generation_is_in_the_generated_lines(bases, people):
    zhang = bases["zhang"]
    relief = services.request_relief(
        actor=people["alice"],
        member=zhang,
        year=YEAR,
        from_month=1,
        to_month=12,
        kind="exempt",
        reason="低保",
        branch_decided_on=D(2026, 1, 5),
    )
    services.sign_relief(actor=people["oscar"], relief=relief, approve=True)
    ledger.generate(YEAR)
    assert {x.status for x in LedgerLine.objects.filter(member=zhang, year=YEAR)} == {"exempt"}
    assert_totals_match()


def test_generation_as_a_background_job(bases, people, tree):
    import json

    from dangjian.core import jobs
    from dangjian.core.models import AuditEvent

    job = services.start_generation(actor=people["alice"], org=tree["branch_a"], year=YEAR)
    assert AuditEvent.objects.filter(
        action="dues.ledger.generate", object_id=str(tree["branch_a"].pk)
    ).exists()
    assert not LedgerLine.objects.exists()  # nothing until a worker runs it
    assert jobs.execute(str(job.pk))
    job.refresh_from_db()
    assert job.status == "done", job.message
    with job.result.open("rb") as handle:
        body = json.loads(handle.read())
    assert body["organization"] == tree["branch_a"].code and body["year"] == YEAR
    assert (
        body["lines"]
        == LedgerLine.objects.filter(org_path__startswith=tree["branch_a"].path).count()
        == 36
    )
    assert not jobs.execute(str(job.pk))  # claimed once
    assert_totals_match()


def test_a_member_recorded_after_generation_gets_lines_from_admission(
    roster, tree, make_member, admin
):
    ledger.generate(YEAR, tree["branch_a"])  # the branch's year has lines (of its members)
    sun = make_member(tree["branch_a"], "孙八", joined_on="2026-04-15", full_on=None)
    assert sorted(where(sun, YEAR)) == list(range(4, 13))
    assert {s for *_r, s in lines_of(sun)} == {"nobase"}
    services.declare_base(actor=admin, member=sun, year=YEAR, category="student")
    assert {(due, s) for *_r, due, _p, s in lines_of(sun)} == {(Decimal("0.20"), "unpaid")}
    assert_totals_match()


# Review fixes: admission dates corrected, bulk changes in batches, subtree counts -------------


def test_correcting_the_admission_date_moves_the_first_month_owed(roster, tree, admin):
    """The date is corrected on the record (update_member moves the admission event without
    post_save): the ledger follows, both ways, and the totals with it."""
    li = roster["li"]  # admitted 2025-09-01, probationary
    services.declare_base(actor=admin, member=li, year=2025, category="student")
    ledger.generate(2025, tree["branch_a"])
    assert sorted(where(li, 2025)) == [9, 10, 11, 12]
    member_services.update_member(actor=admin, member=li, data={"joined_on": D(2025, 6, 10)})
    assert sorted(where(li, 2025)) == [6, 7, 8, 9, 10, 11, 12]
    assert_totals_match()
    member_services.update_member(actor=admin, member=li, data={"joined_on": D(2025, 11, 3)})
    assert sorted(where(li, 2025)) == [11, 12]
    assert_totals_match()


def test_members_changed_in_bulk_are_brought_in_step_in_batches(roster, tree, monkeypatch):
    from dangjian.dues import signals
    from dangjian.members.signals import timelines_changed

    ledger.generate(YEAR, tree["town"])
    ids = sorted(m.pk for m in roster.values())
    calls = []
    sync = ledger.sync
    monkeypatch.setattr(signals, "BATCH", 2)
    monkeypatch.setattr(
        ledger, "sync", lambda members, years: (calls.append(list(members)), sync(members, years))
    )
    timelines_changed.send(sender=None, member_ids=ids, since=D(YEAR, 1, 1))
    assert calls == [ids[0:2], ids[2:4], ids[4:]]
    assert_totals_match()


def test_a_subtree_has_its_own_index_of_lines():
    from django.db import connection

    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, LedgerLine._meta.db_table)
    assert found["dues_line_path_month"]["columns"] == ["org_path", "year", "month"]
    assert found["dues_line_path_month"]["index"]


def test_generating_counts_its_lines_from_the_month_totals(bases, tree):
    """The count in the report comes from the few totals rows just written, not a scan of a
    subtree's millions of lines."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        result = ledger.generate(YEAR, tree["branch_a"])
    assert result["lines"] == LedgerLine.objects.filter(organization=tree["branch_a"]).count() == 36
    counts = [
        q["sql"]
        for q in queries
        if "COUNT(*)" in q["sql"].upper() and "dues_ledgerline" in q["sql"]
    ]
    # Only the totals' own grouping counts lines (INSERT … SELECT … GROUP BY).
    assert all(sql.lstrip().upper().startswith("INSERT") for sql in counts), counts
