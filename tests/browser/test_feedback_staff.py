"""The staff pages of requests from the public in a real browser: the figures draw both charts
without a script error, and the forward search and the routing "try it" box answer through
htmx."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def requests_made(people, tree, admin):
    from dangjian.feedback import services

    desk = services.save_desk(actor=admin, organization=tree["branch_a"], code="dongjie")
    made = []
    for i, (category, text) in enumerate(
        [
            ("help", "东街小区的路灯坏了好几天，晚上出行很不方便。"),
            ("suggestion", "建议在社区增设一处快递柜，方便老人取件。"),
            ("complaint", "楼下餐馆油烟太大，请协调处理。"),
        ]
    ):
        req, _code = services.submit(desk=desk, category=category, text=text, ip=f"10.9.0.{i}")
        made.append(req)
    services.answer(actor=people["alice"], req=made[0], reply="已修复。")
    return made


@pytest.mark.parametrize("device", ["page", "phone"])
def test_the_figures_draw_their_charts(live_server, request, device, people, tree, requests_made):
    screen = request.getfixturevalue(device)
    errors = []
    screen.on("pageerror", lambda exc: errors.append(str(exc)))
    login(screen, live_server.url, "oscar", PASSWORD)
    screen.goto(f"{live_server.url}{reverse('feedback:figures')}")
    expect(screen.locator("#month-chart canvas")).to_have_count(1)
    expect(screen.locator("#category-chart canvas")).to_have_count(1)
    expect(screen.get_by_test_id("total")).to_have_text("3")
    expect(screen.get_by_test_id(f"child-{tree['branch_a'].pk}")).to_be_visible()
    assert not errors


def test_forward_search_and_routing_try_through_htmx(
    live_server, page, people, tree, requests_made
):
    from dangjian.feedback import services

    services.save_routing_rule(actor=people["alice"], organization=tree["group_a"], keywords="路灯")
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, live_server.url, "alice", PASSWORD)
    page.goto(f"{live_server.url}{reverse('feedback:detail', args=[requests_made[1].pk])}")
    page.click("#forward summary")
    page.fill("#q-forward", "西街")
    expect(page.locator(f"#forward-targets input[value='{tree['branch_b'].pk}']")).to_have_count(1)
    page.goto(f"{live_server.url}{reverse('feedback:settings')}")
    page.fill("#try-text", "东街的路灯不亮了")
    expect(page.get_by_test_id("try-result")).to_contain_text("第一党小组")
    assert not errors
