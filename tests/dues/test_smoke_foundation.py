import datetime
from decimal import Decimal

import pytest

from dangjian.dues import ledger, selectors, services
from dangjian.dues.models import LedgerLine, MonthTotal

pytestmark = pytest.mark.django_db


def test_generate_declare_pay(roster, people, tree):
    alice = people["alice"]
    zhang = roster["zhang"]
    year = datetime.date.today().year
    services.declare_base(actor=alice, member=zhang, year=year, category="in_service", base="3000")
    result = ledger.generate(year, tree["branch_a"])
    assert LedgerLine.objects.filter(member=zhang, year=year).count() == 12
    assert result["lines"] >= 12
    line = LedgerLine.objects.get(member=zhang, year=year, month=1)
    assert line.due == Decimal("15.00") and line.status == "unpaid"
    p = services.record_payment(
        actor=alice, member=zhang, months=[(year, 1)], paid_on=datetime.date(year, 1, 5),
        method="cash", request_key="k1",
    )
    again = services.record_payment(
        actor=alice, member=zhang, months=[(year, 1)], paid_on=datetime.date(year, 1, 5),
        method="cash", request_key="k1",
    )
    assert p.pk == again.pk
    line.refresh_from_db()
    assert line.status == "paid"
    t = MonthTotal.objects.get(organization=tree["branch_a"], year=year, month=1)
    assert t.paid == Decimal("15.00")
    report = selectors.collection_report(people["oscar"], tree["town"], year)
    assert report["months"][0]["paid"] == Decimal("15.00")
    assert ledger.generate(year, tree["branch_a"])["lines"] == result["lines"]
