"""A secretary holds a meeting; a member scans the code on the recorder's screen with a phone,
presses the one big button and is signed in; the secretary sees the member present."""

import datetime
import re

import pytest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TOPIC = "学习党章 讨论发展党员"


def _schedule_on_the_page(page, base, branch, activity_type, starts, ends) -> bool:
    """Schedule through the secretary's page when it exists (False when it does not yet)."""
    try:
        url = reverse("meetings:new")
    except NoReverseMatch:
        return False
    page.goto(f"{base}{url}?org={branch.pk}")
    form = page.locator("form:has([name=topic])")
    if form.locator("[name=organization]").count():
        form.locator("[name=organization]").select_option(str(branch.pk))
    form.locator("[name=activity_type]").select_option(str(activity_type.pk))
    form.locator("[name=topic]").fill(TOPIC)
    for name, moment in (("starts_at", starts), ("ends_at", ends)):
        local = timezone.localtime(moment)
        if form.locator(f"[name={name}]").count():
            form.locator(f"[name={name}]").fill(local.strftime("%Y-%m-%dT%H:%M"))
        else:  # a date and a time field
            form.locator(f"[name={name}_0]").fill(local.strftime("%Y-%m-%d"))
            form.locator(f"[name={name}_1]").fill(local.strftime("%H:%M"))
    form.locator("[name=place]").fill("党员活动室")
    form.locator("button[type=submit]").last.click()
    page.wait_for_load_state()
    return True


def _code_on_the_screen(page, base, meeting) -> str | None:
    """The code the recorder's sign-in screen shows (None when that screen is not there yet)."""
    try:
        url = reverse("meetings:screen", args=[meeting.pk])
    except NoReverseMatch:
        return None
    page.goto(f"{base}{url}")
    qr = page.get_by_test_id("qr")
    expect(qr).to_be_visible()
    return qr.get_attribute("data-code")


def test_a_member_signs_in_on_a_phone(
    live_server, page, phone, tree, people, roster, make_user, activity_types
):
    from dangjian.meetings import services
    from dangjian.meetings.models import ActivityType, Attendee, Meeting

    zhang = make_user("zhang_user")
    roster["zhang"].user = zhang
    roster["zhang"].save(update_fields=["user"])
    general = ActivityType.objects.get(code="general_meeting")
    base = live_server.url
    now = timezone.now().replace(second=0, microsecond=0)
    starts, ends = now - datetime.timedelta(minutes=10), now + datetime.timedelta(minutes=110)

    # The secretary schedules the meeting that is starting now.
    login(page, base, "alice", PASSWORD)
    if not _schedule_on_the_page(page, base, tree["branch_a"], general, starts, ends):
        services.schedule(
            actor=people["alice"],
            organization=tree["branch_a"],
            activity_type=general,
            topic=TOPIC,
            starts_at=starts,
            ends_at=ends,
            place="党员活动室",
        )
    meeting = Meeting.objects.get(topic=TOPIC)
    assert meeting.attendees.filter(member=roster["zhang"]).exists()

    # The member, logged in on the phone, scans the QR code on the recorder's screen.
    errors = []
    phone.on("pageerror", lambda exc: errors.append(str(exc)))
    login(phone, base, "zhang_user", PASSWORD)
    code = _code_on_the_screen(page, base, meeting) or services.current_code(meeting)
    phone.goto(f"{base}{reverse('meetings:sign_in', args=[meeting.pk])}?code={code}")
    button = phone.get_by_test_id("sign-in-button")
    expect(button).to_be_visible()
    expect(phone.get_by_test_id("topic")).to_have_text(TOPIC)
    box = button.bounding_box()
    assert box["height"] >= 60 and box["width"] >= 300  # a thumb finds it
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    attendee = Attendee.objects.get(meeting=meeting, member=roster["zhang"])
    assert attendee.state == "expected"  # opening the page signs nobody in

    button.tap()
    phone.wait_for_url(re.compile(r"/meetings/sign-in/\d+/\?done=new$"))
    signed = phone.get_by_test_id("signed-in")
    expect(signed).to_be_visible()
    expect(signed).to_have_attribute("data-fresh", "1")
    attendee.refresh_from_db()
    assert (attendee.state, attendee.signed_how) == ("present", "qr")
    expect(signed).to_contain_text(timezone.localtime(attendee.signed_at).strftime("%H:%M"))
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    # The member's own list shows the meeting with the attendance.
    phone.goto(f"{base}{reverse('meetings:mine')}")
    expect(phone.locator(f"[data-meeting='{meeting.pk}']").first).to_be_visible()

    # The secretary sees the member present.
    response = page.goto(f"{base}{reverse('meetings:detail', args=[meeting.pk])}")
    if response.status == 200:  # the secretary's meeting page exists
        expect(page.get_by_test_id("summary").get_by_test_id("present")).to_have_text("1")
        row = page.get_by_test_id(f"attendee-{attendee.pk}")
        expect(row).to_contain_text(roster["zhang"].name)
        expect(row).to_contain_text(timezone.localtime(attendee.signed_at).strftime("%H:%M"))
    facts = services.summary(meeting)
    assert (facts["present"], facts["expected"]) == (1, 3)
    assert not errors
