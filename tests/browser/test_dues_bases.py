"""The bases grid in a real browser: worked from the keyboard, amounts computed as one types."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from playwright.sync_api import expect

from dangjian.dues.models import DuesBase
from tests.browser.conftest import login
from tests.conftest import PASSWORD


def this_year() -> int:
    return timezone.localdate().year


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_grid_from_the_keyboard(live_server, page, people, tree, roster):
    """The amount follows what is typed, a fixed category greys out the base, Enter goes down a
    column instead of saving, and the save button saves every row."""
    year = this_year()
    login(page, live_server.url, "alice", PASSWORD)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}{reverse('dues:bases', args=[tree['branch_a'].pk, year])}")
    members = page.locator("#bases-grid tbody tr")
    order = [int(members.nth(i).get_attribute("data-member")) for i in range(members.count())]
    first, second = members.nth(0), members.nth(1)

    first.locator("[data-col=category]").select_option("in_service")
    first.locator("[data-col=base]").fill("3000.01")
    expect(first.locator(".dj-amount")).to_have_text("30.00")
    first.locator("[data-col=base]").press("Enter")
    focused = page.evaluate("document.activeElement.name")
    assert focused == "rows-1-base"
    assert DuesBase.objects.count() == 0  # Enter did not submit the grid

    second.locator("[data-col=category]").select_option("student")
    expect(second.locator("[data-col=base]")).to_be_disabled()
    expect(second.locator(".dj-amount")).to_have_text("0.20")
    second.locator("[data-col=category]").select_option("farmer")
    second.locator("[data-col=base]").fill("1.5")
    with translation.override("zh-hans"):  # the browser reads the pages in Chinese
        out_of_range = gettext("A farmer pays between %(low)s and %(high)s yuan a month.") % {
            "low": "0.20",
            "high": "1.00",
        }
    expect(second.locator(".dj-amount")).to_have_text(out_of_range)
    second.locator("[data-col=base]").fill("1")
    expect(second.locator(".dj-amount")).to_have_text("1.00")

    page.get_by_test_id("save-bases").click()
    page.wait_for_load_state()
    expect(page.locator(".alert-success")).to_be_visible()
    saved = {b.member_id: b.amount for b in DuesBase.objects.filter(year=year)}
    assert saved == {order[0]: Decimal("30.00"), order[1]: Decimal("1.00")}
    assert not errors
