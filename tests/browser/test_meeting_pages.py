"""The secretary's meeting pages in a real browser: the form shows the lecture fields for a
lecture only and brings the kind's class hours; the minutes editor formats and saves through its
hidden text area; the attendance grid is used by touch on a phone; the sign-in screen draws its
QR code and polls for the next one."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _builtin_types(activity_types):
    return activity_types


@pytest.fixture
def under_way(people, tree, roster):
    from dangjian.meetings import services
    from dangjian.meetings.models import ActivityType

    now = timezone.now().replace(second=0, microsecond=0)
    return services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=ActivityType.objects.get(code="general_meeting"),
        topic="讨论发展党员",
        starts_at=now - datetime.timedelta(minutes=20),
        ends_at=now + datetime.timedelta(minutes=100),
        place="党员活动室",
    )


def test_the_form_follows_the_kind(live_server, page, people, tree):
    from dangjian.meetings.models import ActivityType

    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, live_server.url, "alice", PASSWORD)
    page.goto(f"{live_server.url}{reverse('meetings:new')}?org={tree['branch_a'].pk}")
    theme, lecture = (ActivityType.objects.get(code=c) for c in ("theme_day", "lecture"))
    page.select_option("[name=activity_type]", str(theme.pk))
    expect(page.get_by_test_id("lecture-fields")).to_be_hidden()
    page.select_option("[name=activity_type]", str(lecture.pk))
    expect(page.get_by_test_id("lecture-fields")).to_be_visible()
    expect(page.locator("[name=class_hours]")).to_have_value(str(lecture.class_hours))
    assert not errors


def test_the_minutes_editor_formats_and_saves(live_server, page, people, under_way):
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, live_server.url, "alice", PASSWORD)
    page.goto(f"{live_server.url}{reverse('meetings:detail', args=[under_way.pk])}")
    area = page.locator("[data-area]")
    expect(area).to_be_visible()
    expect(page.locator("textarea[name=minutes]")).to_be_hidden()
    area.click()
    page.keyboard.type("会议决定")
    page.keyboard.press("Shift+Home")
    page.locator("[data-cmd=bold]").click()
    page.get_by_test_id("save-minutes").click()
    expect(page.get_by_test_id("minutes")).to_contain_text("会议决定")
    under_way.refresh_from_db()
    assert (
        "<strong>会议决定</strong>" in under_way.minutes or "<b>会议决定</b>" in under_way.minutes
    )
    assert not errors


def test_attendance_by_touch_on_a_phone(live_server, phone, people, under_way):
    login(phone, live_server.url, "alice", PASSWORD)
    phone.goto(f"{live_server.url}{reverse('meetings:detail', args=[under_way.pk])}")
    first = under_way.attendees.order_by("name").first()
    phone.locator(f"label[for='state-{first.pk}-present']").tap()
    phone.get_by_test_id("save-attendance").tap()
    expect(phone.get_by_test_id("present")).to_have_text("1")
    first.refresh_from_db()
    assert first.state == "present" and first.signed_how == "manual"
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_the_screen_draws_and_polls(live_server, page, people, under_way):
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, live_server.url, "alice", PASSWORD)
    page.clock.install()  # the page's timers run when told: no waiting 30 s for the poll
    page.goto(f"{live_server.url}{reverse('meetings:screen', args=[under_way.pk])}")
    expect(page.locator("[data-testid=qr] svg")).to_be_visible()
    box = page.locator("[data-testid=qr] svg").bounding_box()
    assert box["width"] >= 400  # readable from the back of the room
    expect(page.get_by_test_id("expected")).to_have_text("3")
    with page.expect_response(lambda r: "/screen/code/" in r.url):
        page.clock.run_for(31_000)
    assert not errors
