"""A branch secretary records a month's dues in the grid, in a real browser: picks the month,
ticks the members who paid, clicks Record once; the cells turn paid without leaving the page."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.conftest import PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("dues_clock"),
]


def cell(scope, member, month):
    return scope.locator(f'tr[data-member="{member.pk}"] td[data-month="{month}"]')


def test_alice_records_a_month_in_the_grid(live_server, page, people, tree, roster):
    from dangjian.dues import ledger, services
    from dangjian.dues.models import LedgerLine, Payment

    today = timezone.localdate()
    year, month = today.year, today.month
    a = tree["branch_a"]
    zhang, li, wang = roster["zhang"], roster["li"], roster["wang"]
    for member in (zhang, li, wang):
        services.declare_base(
            actor=people["alice"], member=member, year=year, category="in_service", base="3000"
        )
    ledger.generate(year, a)

    base = live_server.url
    login(page, base, "alice", PASSWORD)
    page.goto(f"{base}/dues/org/{a.pk}/{year}/")
    grid = page.get_by_test_id("dues-grid")
    expect(cell(grid, zhang, month)).to_have_attribute("data-status", "unpaid")

    # keyboard: from a member's tick the arrow keys move into the month cells and down
    page.get_by_test_id(f"tick-{zhang.pk}").focus()
    page.keyboard.press("ArrowRight")
    expect(cell(page, zhang, 1).locator("a")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(cell(page, li, 1).locator("a")).to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect(page.get_by_test_id(f"tick-{li.pk}")).to_be_focused()

    # the month, then everyone unpaid of it, then one member unticked by hand
    page.get_by_test_id(f"month-{month}").check()
    page.get_by_test_id("select-unpaid").check()
    for member in (zhang, li, wang):
        expect(page.get_by_test_id(f"tick-{member.pk}")).to_be_checked()
    page.get_by_test_id(f"tick-{wang.pk}").uncheck()
    expect(page.get_by_test_id("record")).to_contain_text("2")

    page.get_by_test_id("record").click()
    expect(page.get_by_test_id("grid-notice")).to_be_visible()
    expect(page.get_by_test_id("grid-notice")).to_contain_text("2")
    for member, state in ((zhang, "paid"), (li, "paid"), (wang, "unpaid")):
        expect(cell(page, member, month)).to_have_attribute("data-status", state)
    assert page.url == f"{base}/dues/org/{a.pk}/{year}/"  # still on the grid

    statuses = dict(
        LedgerLine.objects.filter(year=year, month=month, organization=a).values_list(
            "member_id", "status"
        )
    )
    assert statuses == {zhang.pk: "paid", li.pk: "paid", wang.pk: "unpaid"}
    assert Payment.objects.filter(member__in=[zhang, li]).count() == 2

    # the last one, with a double click: recorded once
    page.get_by_test_id(f"tick-{wang.pk}").check()
    page.get_by_test_id("record").dblclick()
    expect(cell(page, wang, month)).to_have_attribute("data-status", "paid")
    expect(page.get_by_test_id("grid-notice")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert Payment.objects.filter(member=wang).count() == 1
    assert LedgerLine.objects.get(member=wang, year=year, month=month).status == "paid"
