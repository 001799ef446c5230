"""A branch secretary adds a Party group in a real browser and finds it in the tree and the log."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_secretary_adds_a_party_group(live_server, page, people, tree):
    from dangjian.core.models import AuditEvent, Organization

    base = live_server.url
    login(page, base, "alice", PASSWORD)

    page.goto(f"{base}/orgs/")
    tree_el = page.get_by_test_id("org-tree")
    assert tree_el.get_by_text("东街社区党支部").is_visible()
    assert tree_el.get_by_text("西街社区党支部").count() == 0  # sibling branch B is out of scope

    # Open branch A lazily: its existing group appears.
    node = tree_el.locator("li[data-code=B01]")
    node.locator("button.dj-toggle").first.click()
    expect(node.get_by_text("第一党小组")).to_be_visible()

    page.get_by_role("link", name="东街社区党支部").first.click()
    page.locator("a[href$='/new/']").click()
    page.fill("#id_code", "G02")
    page.fill("#id_name", "第二党小组")
    page.select_option("#id_kind", "group")
    page.locator("main form button[type=submit]").click()
    expect(page.get_by_role("heading", name="第二党小组")).to_be_visible()
    assert "/new/" not in page.url

    page.goto(f"{base}/orgs/")
    node = page.get_by_test_id("org-tree").locator("li[data-code=B01]")
    node.locator("button.dj-toggle").first.click()
    expect(node.get_by_text("第二党小组")).to_be_visible()

    page.goto(f"{base}/audit/")
    table = page.get_by_test_id("audit-table")
    assert table.get_by_text("第二党小组").first.is_visible()
    assert table.get_by_text("org.create").first.is_visible()

    group = Organization.objects.get(code="G02")
    assert group.kind == "group" and Organization.objects.get(path=group.parent_path).code == "B01"
    assert AuditEvent.objects.filter(
        action="org.create", object_id=str(group.pk), user_label="alice"
    ).exists()
