"""The collection report in a real browser: both charts draw (by month, and the rate to date of
each organisation below), without a script error, on a desktop and on a phone."""

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.conftest import PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("dues_clock"),
]


@pytest.fixture
def ledgers(people, tree, roster):
    from dangjian.dues import ledger, services

    year = timezone.localdate().year
    for key, actor in (("zhang", "alice"), ("wang", "alice"), ("zhao", "bob")):
        services.declare_base(
            actor=people[actor], member=roster[key], year=year, category="in_service", base="3000"
        )
    ledger.generate(year, tree["town"])
    services.record_payment(
        actor=people["alice"],
        member=roster["zhang"],
        months=[(year, 1)],
        paid_on=timezone.localdate(),
        method="cash",
        confirm_late=True,
    )
    return year


@pytest.mark.parametrize("device", ["page", "phone"])
def test_the_report_draws_its_charts(live_server, request, device, people, tree, ledgers):
    screen = request.getfixturevalue(device)
    errors = []
    screen.on("pageerror", lambda exc: errors.append(str(exc)))
    login(screen, live_server.url, "oscar", PASSWORD)
    screen.goto(f"{live_server.url}{reverse('dues:report', args=[tree['town'].pk, ledgers])}")
    expect(screen.locator("#report-chart canvas")).to_have_count(1)
    expect(screen.locator("#org-chart canvas")).to_have_count(1)
    expect(screen.get_by_test_id("to-date-rate")).to_contain_text("%")
    # The table beside the chart: one row for each branch below.
    for branch in (tree["branch_a"], tree["branch_b"]):
        expect(screen.get_by_test_id(f"child-{branch.pk}")).to_be_visible()
    assert not errors
