"""The secretary of branch B accepts, in a real browser, a transfer the secretary of A started."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_bob_accepts_an_incoming_transfer(live_server, page, people, tree, roster):
    from dangjian.members.models import Member
    from dangjian.transfers import services
    from dangjian.transfers.models import State, Transfer

    zhang = roster["zhang"]
    transfer = services.start_transfer(
        actor=people["alice"], member=zhang, to_org=tree["branch_b"], reason="工作调动"
    )
    base = live_server.url
    login(page, base, "bob", PASSWORD)

    page.locator("nav a[href='/transfers/']").click()
    page.wait_for_url(f"{base}/transfers/")
    table = page.get_by_test_id("transfer-table")
    expect(table.get_by_role("link", name="张三")).to_be_visible()
    expect(page.get_by_test_id("tab-incoming")).to_contain_text("1")

    table.get_by_role("link", name="张三").click()
    page.wait_for_url(f"{base}/transfers/{transfer.pk}/")
    expect(page.get_by_test_id("transfer-facts")).to_contain_text("东街社区党支部")
    expect(page.locator("[data-testid=state] [data-state]")).to_have_attribute(
        "data-state", "pending"
    )
    # no way to the record before accepting
    assert page.locator(f"a[href='/members/{zhang.pk}/']").count() == 0

    page.get_by_test_id("accept").click()
    page.wait_for_url(f"{base}/transfers/{transfer.pk}/")
    expect(page.locator("[data-testid=state] [data-state]")).to_have_attribute(
        "data-state", "completed"
    )
    expect(page.get_by_test_id("member-link")).to_be_visible()

    assert Transfer.objects.get(pk=transfer.pk).state == State.COMPLETED
    zhang = Member.objects.get(pk=zhang.pk)
    assert zhang.organization_id == tree["branch_b"].pk

    page.get_by_test_id("member-link").click()
    page.wait_for_url(f"{base}/members/{zhang.pk}/")
    expect(page.get_by_role("heading", name="张三")).to_be_visible()
