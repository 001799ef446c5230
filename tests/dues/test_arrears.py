"""Six consecutive unpaid months put a member on the list for the branch meeting (DOMAIN §2):
never anything automatic. The meeting's decision is recorded by a person, audited, and takes the
member off the list for the run it considered; "left" also goes on the timeline."""

import datetime
from decimal import Decimal

import pytest

from dangjian.core.errors import Conflict, ValidationFailed
from dangjian.core.models import AuditEvent
from dangjian.dues import ledger, selectors, services
from dangjian.dues.models import ArrearsDecision, LedgerLine
from dangjian.members.models import Member, StandingEvent
from dangjian.transfers import services as transfers
from dangjian.transfers.models import MobileStay

from .invariants import assert_totals_match

pytestmark = pytest.mark.django_db

D = datetime.date


@pytest.fixture
def behind(roster, admin, tree, people):
    """2025 and 2026 ledgers of branch A; 张三 owes 15.00 a month and pays nothing; 王五 and
    李四 pay every month (so only 张三 can be flagged)."""
    for year in (2025, 2026):
        for name in ("zhang", "wang", "li"):
            services.declare_base(
                actor=admin, member=roster[name], year=year, category="in_service", base="3000"
            )
        ledger.generate(year, tree["branch_a"])
    for name in ("wang", "li"):  # 李四 joined in September 2025: his lines start then
        months = LedgerLine.objects.filter(member=roster[name]).exclude(year=2026, month=12)
        services.record_payment(
            actor=admin,
            member=roster[name],
            months=list(months.values_list("year", "month")),
            paid_on=D(2026, 11, 20),
            method="cash",
            confirm_late=True,
        )
    return roster


def pay(member, year, month, people):
    services.record_payment(
        actor=people["alice"],
        member=member,
        months=[(year, month)],
        paid_on=D(year, month, 20),
        method="cash",
    )


def flagged(people, tree, on) -> dict:
    return {
        row["member"].name: row for row in selectors.arrears(people["alice"], tree["branch_a"], on)
    }


def test_six_unpaid_months_are_flagged(behind, people, tree):
    zhang = behind["zhang"]
    pay(zhang, 2025, 12, people)
    services.record_payment(
        actor=people["alice"],
        member=zhang,
        months=[(2025, 11)],
        paid_on=D(2025, 11, 20),
        method="cash",
        amount="5",
    )
    rows = flagged(people, tree, D(2026, 7, 15))  # the last completed month is June
    assert list(rows) == ["张三"]
    row = rows["张三"]
    assert (row["first"], row["through"], row["months"]) == ((2026, 1), (2026, 6), 6)
    # Owed: everything up to June, not only the run: January to October 2025, the rest of
    # November 2025, January to June 2026.
    assert row["owed"] == Decimal("150.00") + Decimal("10.00") + Decimal("90.00")
    assert selectors.unpaid_run_of(zhang, D(2026, 7, 15)) == ((2026, 1), (2026, 6))


def test_a_run_across_the_year_end_is_flagged(behind, people, tree):
    zhang = behind["zhang"]
    pay(zhang, 2025, 8, people)
    row = flagged(people, tree, D(2026, 3, 10))["张三"]
    assert (row["first"], row["through"], row["months"]) == ((2025, 9), (2026, 2), 6)
    assert row["owed"] == 13 * Decimal("15.00")  # January to July 2025 and the run


def test_a_longer_run_is_counted_whole(behind, people, tree):
    row = flagged(people, tree, D(2026, 3, 10))["张三"]
    assert (row["first"], row["months"]) == ((2025, 1), 14)


def test_five_unpaid_months_are_not_flagged(behind, people, tree):
    zhang = behind["zhang"]
    pay(zhang, 2025, 9, people)
    assert flagged(people, tree, D(2026, 3, 10)) == {}
    assert selectors.unpaid_run_of(zhang, D(2026, 3, 10)) is None


def test_a_paid_month_breaks_the_run(behind, people, tree):
    pay(behind["zhang"], 2025, 11, people)
    assert flagged(people, tree, D(2026, 3, 10)) == {}
    # ...and the next six months make a new run.
    row = flagged(people, tree, D(2026, 6, 1))["张三"]
    assert (row["first"], row["months"]) == ((2025, 12), 6)


def test_a_month_paid_in_part_breaks_the_run(behind, people, tree):
    services.record_payment(
        actor=people["alice"],
        member=behind["zhang"],
        months=[(2025, 11)],
        paid_on=D(2025, 11, 20),
        method="cash",
        amount="5",
    )
    assert flagged(people, tree, D(2026, 3, 10)) == {}


def test_an_exempt_month_breaks_the_run(behind, people, tree):
    relief = services.request_relief(
        actor=people["alice"],
        member=behind["zhang"],
        year=2025,
        from_month=11,
        to_month=11,
        kind="exempt",
        reason="住院",
        branch_decided_on=D(2025, 11, 5),
    )
    assert "张三" in flagged(people, tree, D(2026, 3, 10))  # not yet signed off
    services.sign_relief(actor=people["oscar"], relief=relief, approve=True)
    assert flagged(people, tree, D(2026, 3, 10)) == {}


def test_the_committee_above_sees_the_flag_and_the_sibling_does_not(behind, people, tree):
    assert [
        r["member"].name for r in selectors.arrears(people["oscar"], tree["town"], D(2026, 3, 10))
    ] == ["张三"]
    assert selectors.arrears(people["bob"], tree["branch_a"], D(2026, 3, 10)) == []


# The branch meeting decides ------------------------------------------------------------------


def test_a_decision_takes_the_member_off_the_list_for_that_run(behind, people, tree):
    zhang = behind["zhang"]
    pay(zhang, 2025, 8, people)
    decision = services.decide_arrears(
        actor=people["alice"],
        member=zhang,
        outcome="warned",
        meeting_on=D(2026, 3, 12),
        note="谈话提醒，承诺补交",
        on=D(2026, 3, 12),
    )
    assert (decision.first_year, decision.first_month) == (2025, 9)
    assert (decision.through_year, decision.through_month) == (2026, 2)
    assert decision.decided_by == people["alice"]
    event = AuditEvent.objects.get(action="dues.arrears.decide")
    assert event.after["outcome"] == "warned" and event.after["months"] == "2025-09..2026-02"
    assert event.subject == f"members.member:{zhang.pk}"
    assert flagged(people, tree, D(2026, 3, 12)) == {}
    # The same run, a month longer: still decided.
    assert flagged(people, tree, D(2026, 4, 10)) == {}
    # Paid March, then six more months unpaid: a new run, flagged again.
    pay(zhang, 2026, 3, people)
    row = flagged(people, tree, D(2026, 10, 5))["张三"]
    assert (row["first"], row["months"]) == ((2026, 4), 6)
    assert [d.pk for d in row["decisions"]] == [decision.pk]
    assert list(selectors.arrears_decisions(people["oscar"], tree["town"])) == [decision]
    assert list(selectors.arrears_decisions(people["bob"], tree["branch_a"])) == []


def test_a_member_not_behind_cannot_be_decided_on(behind, people):
    pay(behind["zhang"], 2025, 9, people)
    with pytest.raises(Conflict) as caught:
        services.decide_arrears(
            actor=people["alice"],
            member=behind["zhang"],
            outcome="warned",
            meeting_on=D(2026, 3, 12),
            on=D(2026, 3, 12),
        )
    assert caught.value.code == "not_in_arrears"
    assert not ArrearsDecision.objects.exists()


@pytest.mark.parametrize(
    ("extra", "code", "field"),
    [
        ({"outcome": "expel"}, "invalid_outcome", "outcome"),
        ({"meeting_on": D(2026, 11, 26)}, "invalid_date", "meeting_on"),
        ({"meeting_on": "2026-03-12"}, "invalid_date", "meeting_on"),
        ({"outcome": "left", "reference": ""}, "reference_required", "reference"),
    ],
)
def test_a_decision_needs_its_facts(behind, people, extra, code, field):
    values = {"outcome": "warned", "meeting_on": D(2026, 3, 12), **extra}
    with pytest.raises(ValidationFailed) as caught:
        services.decide_arrears(
            actor=people["alice"], member=behind["zhang"], on=D(2026, 3, 12), **values
        )
    assert (caught.value.code, caught.value.field) == (code, field)
    assert not ArrearsDecision.objects.exists()


def test_left_goes_on_the_timeline_and_the_later_months_are_not_owed(behind, people, tree):
    zhang = behind["zhang"]
    services.decide_arrears(
        actor=people["alice"],
        member=zhang,
        outcome="left",
        meeting_on=D(2026, 3, 12),
        reference="支部党员大会纪要 2026-3",
        on=D(2026, 3, 12),
    )
    event = StandingEvent.objects.get(member=zhang, kind="left")
    assert event.occurred_on == D(2026, 3, 12) and event.reference == "支部党员大会纪要 2026-3"
    assert Member.objects.get(pk=zhang.pk).status == "left"
    # March was owed (a member on its first day); April on is not.
    assert (
        max(LedgerLine.objects.filter(member=zhang, year=2026).values_list("month", flat=True)) == 3
    )
    assert flagged(people, tree, D(2026, 4, 10)) == {}
    assert set(
        AuditEvent.objects.filter(subject=f"members.member:{zhang.pk}").values_list(
            "action", flat=True
        )
    ) >= {
        "dues.arrears.decide",
        "member.event",
    }
    assert_totals_match()


def test_left_ends_a_mobile_stay_too(behind, people, tree):
    zhang = behind["zhang"]
    stay = transfers.register_mobile_out(
        actor=people["alice"], member=zhang, host_org=tree["branch_b"], since=D(2026, 2, 10)
    )
    services.decide_arrears(
        actor=people["alice"],
        member=zhang,
        outcome="left",
        meeting_on=D(2026, 3, 12),
        reference="纪要",
        on=D(2026, 3, 12),
    )
    stay = MobileStay.objects.get(pk=stay.pk)
    assert (stay.state, stay.returned_on) == ("returned", D(2026, 3, 12))
    member = Member.objects.get(pk=zhang.pk)
    assert (member.status, member.mobile) == ("left", False)
    assert_totals_match()


def test_left_waits_for_a_pending_transfer(behind, people, tree):
    zhang = behind["zhang"]
    transfers.start_transfer(actor=people["alice"], member=zhang, to_org=tree["branch_b"])
    with pytest.raises(ValidationFailed) as caught:
        services.decide_arrears(
            actor=people["alice"],
            member=zhang,
            outcome="left",
            meeting_on=D(2026, 3, 12),
            reference="纪要",
            on=D(2026, 3, 12),
        )
    assert caught.value.code == "transfer_pending"
    assert not ArrearsDecision.objects.exists()
    assert Member.objects.get(pk=zhang.pk).status == "active"


def test_nothing_automatic_ever_changes_a_member(behind, people, tree):
    """Flagged for a year and more: generating, reminding and listing leave the member as they
    were. Only the branch meeting's recorded decision does anything."""
    zhang = behind["zhang"]
    events = StandingEvent.objects.count()
    assert "张三" in flagged(people, tree, D(2026, 11, 25))
    ledger.generate(2026)
    ledger.generate(2025)
    services.generate_now(actor=people["alice"], org=tree["branch_a"], year=2026)
    services.remind_behind(actor=people["alice"], org=tree["branch_a"], year=2026, month=10)
    selectors.arrears(people["oscar"], tree["town"], D(2026, 11, 25))
    member = Member.objects.get(pk=zhang.pk)
    assert (member.status, member.organization_id) == ("active", tree["branch_a"].pk)
    assert StandingEvent.objects.count() == events
    assert not ArrearsDecision.objects.exists()
    assert not AuditEvent.objects.filter(action="member.event").exists()


# Members who move: the branch they belong to decides, counting every month wherever owed ----


def test_a_mobile_member_behind_at_the_host_is_flagged_at_home(behind, people, tree):
    zhang = behind["zhang"]
    pay(zhang, 2026, 3, people)
    transfers.register_mobile_out(
        actor=people["alice"], member=zhang, host_org=tree["branch_b"], since=D(2026, 3, 10)
    )
    on = D(2026, 11, 25)  # April to October unpaid, all at the host
    row = flagged(people, tree, on)["张三"]
    assert (row["first"], row["through"], row["months"]) == ((2026, 4), (2026, 10), 7)
    assert selectors.arrears(people["bob"], tree["branch_b"], on) == []  # the host: not theirs
    services.decide_arrears(
        actor=people["alice"], member=zhang, outcome="good_reason", meeting_on=on, on=on
    )
    assert flagged(people, tree, on) == {}


def test_a_member_transferred_mid_run_is_flagged_at_the_new_branch(behind, people, tree):
    zhang = behind["zhang"]
    pay(zhang, 2026, 3, people)
    t = transfers.start_transfer(
        actor=people["alice"], member=zhang, to_org=tree["branch_b"], on=D(2026, 6, 10)
    )
    transfers.accept_transfer(actor=people["bob"], transfer=t, on=D(2026, 6, 10))
    on = D(2026, 10, 5)  # April to June unpaid at A, July to September at B
    rows = selectors.arrears(people["bob"], tree["branch_b"], on)
    assert [(r["member"].name, r["first"], r["months"]) for r in rows] == [("张三", (2026, 4), 6)]
    assert flagged(people, tree, on) == {}  # A is no longer his branch
    services.decide_arrears(
        actor=people["bob"], member=zhang, outcome="warned", meeting_on=on, on=on
    )


def test_the_same_run_is_decided_once_until_six_more_months_go_unpaid(behind, people, tree):
    """The list and the service agree: a member decided on is off the list, and cannot be
    decided on again, until a further six months have gone unpaid since the decision."""
    zhang, alice = behind["zhang"], people["alice"]

    def decide(on, outcome="warned"):
        return services.decide_arrears(
            actor=alice, member=zhang, outcome=outcome, meeting_on=on, on=on
        )

    first = decide(D(2026, 3, 12))  # 2025-01..2026-02
    for on in (D(2026, 3, 20), D(2026, 4, 10), D(2026, 8, 10)):  # through 2026-02 .. 2026-07
        with pytest.raises(Conflict) as caught:
            decide(on, "good_reason")
        assert caught.value.code == "already_decided"
    assert ArrearsDecision.objects.count() == 1
    assert AuditEvent.objects.filter(action="dues.arrears.decide").count() == 1
    # Through August: six more months unpaid since the decision (through February).
    second = decide(D(2026, 9, 5), "good_reason")
    assert (second.first_year, second.first_month) == (first.first_year, first.first_month)
    assert (second.through_year, second.through_month) == (2026, 8)
    assert ArrearsDecision.objects.count() == 2
