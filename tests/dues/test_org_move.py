"""Moving an organisation carries its dues with it: the copies of its path on ledger lines,
payments and month totals follow, so reports of the new parent include them."""

import datetime
from decimal import Decimal

import pytest

from dangjian.core import services as core_services
from dangjian.dues import ledger, selectors, services
from dangjian.dues.models import LedgerLine, MonthTotal, Payment

pytestmark = pytest.mark.django_db


def test_moving_a_branch_moves_its_dues(roster, people, tree, admin):
    year = datetime.date.today().year
    zhang = roster["zhang"]
    services.declare_base(actor=admin, member=zhang, year=year, category="retired", base="5000")
    ledger.generate(year, tree["county"])
    services.record_payment(
        actor=admin, member=zhang, months=[(year, 1)], paid_on=datetime.date(year, 1, 9),
        method="cash",
    )  # fmt: skip
    before = selectors.collection_report(admin, tree["other_town"], year)
    assert before["total"]["paid"] == 0

    core_services.move_organization(
        actor=admin, org=tree["branch_a"], new_parent=tree["other_town"]
    )
    branch_a = tree["branch_a"]
    branch_a.refresh_from_db()
    assert (
        not LedgerLine.objects.filter(organization=branch_a)
        .exclude(org_path=branch_a.path)
        .exists()
    )
    assert (
        not MonthTotal.objects.filter(organization=branch_a)
        .exclude(org_path=branch_a.path)
        .exists()
    )
    assert Payment.objects.get(member=zhang).org_path == branch_a.path
    after = selectors.collection_report(admin, tree["other_town"], year)
    assert after["total"]["paid"] == Decimal("25.00")
    town = selectors.collection_report(admin, tree["town"], year)
    assert town["total"]["paid"] == 0
