"""Timeline events written in bulk (a new record, restructuring) keep the dues ledger in step,
through `members.signals.timelines_changed`."""

import datetime

import pytest

from dangjian.committees import restructure
from dangjian.dues import ledger, services
from dangjian.dues.models import LedgerLine
from tests.dues.invariants import assert_totals_match

pytestmark = pytest.mark.django_db


def test_a_member_recorded_after_generation_gets_their_lines(roster, tree, admin, make_member):
    year = datetime.date.today().year
    ledger.generate(year, tree["county"])
    newcomer = make_member(tree["branch_b"], "孙八", joined_on=f"{year}-03-10", full_on=None)
    months = set(
        LedgerLine.objects.filter(member=newcomer, year=year).values_list("month", flat=True)
    )
    assert months == set(range(3, 13))  # from the month the branch meeting accepted them
    assert set(
        LedgerLine.objects.filter(member=newcomer).values_list("organization", flat=True)
    ) == {tree["branch_b"].pk}
    assert_totals_match()


def test_a_merge_moves_the_unpaid_months_and_keeps_the_paid(roster, tree, admin):
    today = datetime.date.today()
    year = today.year
    zhao = roster["zhao"]
    services.declare_base(actor=admin, member=zhao, year=year, category="student")
    ledger.generate(year, tree["county"])
    services.record_payment(
        actor=admin, member=zhao, months=[(year, 1)], paid_on=datetime.date(year, 1, 10),
        method="cash",
    )  # fmt: skip
    restructure.merge(actor=admin, source=tree["branch_b"], target=tree["branch_a"], on=today)
    lines = {
        line.month: line.organization_id
        for line in LedgerLine.objects.filter(member=zhao, year=year)
    }
    assert lines[1] == tree["branch_b"].pk  # paid where it was paid
    after = [m for m in range(1, 13) if datetime.date(year, m, 1) > today]
    assert after, "the test needs a month after today in this year"
    for month in after:
        assert lines[month] == tree["branch_a"].pk
    assert_totals_match()
