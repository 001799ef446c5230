"""The secretary's pages of organisational life (list, calendar, form, meeting, sign-in screen,
local rules) as alice (secretary of branch A, where the meeting is), oscar (organisation
administrator of the township above A and B), bob (secretary of the sibling branch B), an
auditor of the county (sees, never changes) and someone not logged in."""

import datetime
import io

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, reverse
from django.utils import timezone

from dangjian.core import services as core_services
from dangjian.core.models import AuditEvent, Notification
from dangjian.meetings import services, urls_pages
from dangjian.meetings.models import (
    Attendee,
    FrequencyRule,
    Meeting,
    MeetingFile,
    MonthTally,
    Resolution,
)

from .conftest import at

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4 minutes of the meeting"


@pytest.fixture
def en(client_for):
    """A logged-in client that reads the pages in English (messages asserted as msgids)."""

    def login(user):
        c = client_for(user)
        c.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
        return c

    return login


@pytest.fixture
def auditor(make_user, admin, tree):
    user = make_user("audrey")
    core_services.assign_role(actor=admin, user=user, org=tree["county"], role="auditor")
    return user


@pytest.fixture
def stored(meeting, people):
    """A PDF of the meeting."""
    upload = SimpleUploadedFile("会议记录.pdf", PDF, content_type="application/pdf")
    return services.add_file(actor=people["alice"], meeting=meeting, upload=upload)


def body(response) -> str:
    return response.content.decode()


def state():
    """Everything a refused or failed action must leave as it was."""
    return (
        list(
            Meeting.objects.order_by("pk").values_list(
                "pk",
                "status",
                "topic",
                "starts_at",
                "ends_at",
                "minutes",
                "notice_sent_at",
                "class_hours",
            )
        ),
        list(
            Attendee.objects.order_by("pk").values_list("pk", "state", "leave_state", "signed_at")
        ),
        Resolution.objects.count(),
        MeetingFile.objects.count(),
        list(FrequencyRule.objects.values_list("organization_id", "activity_type_id", "frequency")),
        list(MonthTally.objects.values_list("held")),
        Notification.objects.count(),
        AuditEvent.objects.count(),
    )


def page_names() -> list[str]:
    return [f"meetings:{p.name}" for p in urls_pages.urlpatterns if isinstance(p, URLPattern)]


ACTION_NAMES = [
    "cancel",
    "notice",
    "attendance",
    "leave",
    "held",
    "minutes",
    "file_add",
    "resolution",
]


def url_for(name, meeting, stored=None) -> str:
    short = name.split(":")[1]
    if short in ("list", "calendar", "new", "rules"):
        return reverse(name) + f"?org={meeting.organization_id}"
    if short == "file":
        return reverse(name, args=[meeting.pk, stored.pk])
    return reverse(name, args=[meeting.pk])


def action_data(meeting, name) -> dict:
    """Valid data for every action of the meeting's page."""
    first = meeting.attendees.order_by("pk").first()
    return {
        "cancel": {"reason": "改期"},
        "notice": {},
        "attendance": {f"state-{first.pk}": "present"},
        "leave": {"attendee": first.pk, "decision": "approve"},
        "held": {},
        "minutes": {"minutes": "<p>会议决定</p>"},
        "file_add": {"file": SimpleUploadedFile("纪要.pdf", PDF, content_type="application/pdf")},
        "resolution": {"title": "决议", "yes": 0, "no": 0, "abstain": 0},
    }[name]


def test_every_page_of_this_group_is_tried_here():
    assert set(page_names()) == {
        "meetings:list",
        "meetings:calendar",
        "meetings:new",
        "meetings:rules",
        "meetings:detail",
        "meetings:edit",
        "meetings:screen",
        "meetings:screen_code",
        "meetings:file",
        *(f"meetings:{n}" for n in ACTION_NAMES),
    }


# Who may come in ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", page_names())
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_is_sent_to_log_in(client, meeting, stored, name, method):
    before = state()
    response = getattr(client, method)(url_for(name, meeting, stored))
    assert response.status_code == 302
    assert response.url.startswith(reverse("core:login") + "?next=")
    assert state() == before


@pytest.mark.parametrize("who", ["alice", "oscar"])
@pytest.mark.parametrize("name", [n for n in page_names() if n.split(":")[1] not in ACTION_NAMES])
def test_inside_and_above_every_page_opens(en, people, meeting, stored, who, name):
    response = en(people[who]).get(url_for(name, meeting, stored))
    assert response.status_code == 200


@pytest.mark.parametrize(
    "name", ["meetings:detail", "meetings:edit", "meetings:screen", "meetings:screen_code"]
)
def test_the_sibling_finds_nothing_of_alices_meeting(en, people, meeting, name):
    assert en(people["bob"]).get(url_for(name, meeting)).status_code == 404


def test_the_sibling_finds_no_file(en, people, meeting, stored):
    bob = en(people["bob"])
    assert bob.get(reverse("meetings:file", args=[meeting.pk, stored.pk])).status_code == 404


@pytest.mark.parametrize("name", ["list", "calendar", "new", "rules"])
def test_the_sibling_cannot_name_alices_branch(en, people, meeting, name):
    response = en(people["bob"]).get(url_for(f"meetings:{name}", meeting))
    assert response.status_code == 404


def test_the_siblings_list_holds_only_his_own(en, people, meeting):
    response = en(people["bob"]).get(reverse("meetings:list"))
    assert response.status_code == 200
    assert list(response.context["page"].object_list) == []
    assert meeting.topic not in body(response)


@pytest.mark.parametrize("name", ACTION_NAMES)
def test_every_action_of_the_sibling_answers_404_and_changes_nothing(en, people, meeting, name):
    before = state()
    response = en(people["bob"]).post(
        url_for(f"meetings:{name}", meeting), action_data(meeting, name)
    )
    assert response.status_code == 404
    assert state() == before


@pytest.mark.parametrize("name", ["new", "rules"])
def test_the_sibling_cannot_post_at_alices_branch(en, people, meeting, types, name):
    before = state()
    data = {
        "activity_type": types["lecture"].pk,
        "topic": "x",
        "starts_at": "2030-01-01T09:00",
        "frequency": "month",
    }
    response = en(people["bob"]).post(url_for(f"meetings:{name}", meeting), data)
    assert response.status_code == 404
    assert state() == before


@pytest.mark.parametrize("name", ["list", "calendar", "rules", "detail", "file"])
def test_an_auditor_sees(en, auditor, meeting, stored, name):
    response = en(auditor).get(url_for(f"meetings:{name}", meeting, stored))
    assert response.status_code == 200


def test_an_auditor_sees_no_tools(en, auditor, meeting):
    page = body(en(auditor).get(url_for("meetings:detail", meeting)))
    for tool in ("attendance-form", "minutes-form", "file-form", "resolution-form", "send-notice"):
        assert f'data-testid="{tool}"' not in page


@pytest.mark.parametrize("name", ["edit", "new", "screen", "screen_code"])
def test_an_auditor_may_not_open_the_pages_that_change(en, auditor, meeting, name):
    assert en(auditor).get(url_for(f"meetings:{name}", meeting)).status_code == 403


@pytest.mark.parametrize("name", [*ACTION_NAMES, "edit", "new", "rules"])
def test_an_auditor_may_not_change(en, auditor, meeting, types, name):
    before = state()
    data = (
        action_data(meeting, name)
        if name in ACTION_NAMES
        else {
            "activity_type": types["lecture"].pk,
            "topic": "x",
            "starts_at": "2030-01-01T09:00",
            "frequency": "month",
        }
    )
    response = en(auditor).post(url_for(f"meetings:{name}", meeting), data)
    assert response.status_code == 403
    assert state() == before


def test_logged_in_without_a_role_is_404(client_for, make_user, meeting):
    nobody = client_for(make_user("nobody"))
    assert nobody.get(reverse("meetings:list")).status_code == 404
    assert nobody.get(reverse("meetings:calendar")).status_code == 404
    assert nobody.get(reverse("meetings:detail", args=[meeting.pk])).status_code == 404


# The path of a meeting through the pages ---------------------------------------------------------


def _local(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def test_schedule_notice_attendance_held_minutes_file_resolution(
    en, people, tree, types, roster, accounts
):
    alice = en(people["alice"])
    start = timezone.now().replace(second=0, microsecond=0) - datetime.timedelta(minutes=20)
    new = alice.get(reverse("meetings:new") + f"?org={tree['branch_a'].pk}")
    assert 'data-testid="meeting-form"' in body(new)
    response = alice.post(
        reverse("meetings:new") + f"?org={tree['branch_a'].pk}",
        {
            "activity_type": types["general_meeting"].pk,
            "topic": "接收预备党员",
            "starts_at": _local(start),
            "ends_at": _local(start + datetime.timedelta(hours=2)),
            "place": "党员活动室",
            "host": "张丽",
            "recorder": people["alice"].pk,
            "agenda": "一、讨论\n二、表决",
            "class_hours": "",
        },
    )
    assert response.status_code == 302
    meeting = Meeting.objects.get()
    assert response.url == reverse("meetings:detail", args=[meeting.pk])
    assert (meeting.organization, meeting.recorder, meeting.class_hours) == (
        tree["branch_a"],
        people["alice"],
        types["general_meeting"].class_hours,  # blank: the kind's own
    )
    assert meeting.attendees.count() == 3

    assert alice.post(reverse("meetings:notice", args=[meeting.pk])).status_code == 302
    assert Notification.objects.filter(user=accounts["zhang"], kind="meeting").exists()

    ids = {a.name: a.pk for a in meeting.attendees.all()}
    response = alice.post(
        reverse("meetings:attendance", args=[meeting.pk]),
        {
            f"state-{ids['张三']}": "present",
            f"state-{ids['王五']}": "present",
            f"state-{ids['李四']}": "leave",
        },
    )
    assert response.status_code == 302
    assert response.url.endswith("#attendance")

    assert alice.post(reverse("meetings:held", args=[meeting.pk])).status_code == 302
    meeting.refresh_from_db()
    assert meeting.status == "held"
    assert MonthTally.objects.get(organization=tree["branch_a"]).held == 1

    minutes = "<h3>议程</h3><p>会议<strong>一致同意</strong></p><ul><li>接收李四</li></ul>"
    response = alice.post(reverse("meetings:minutes", args=[meeting.pk]), {"minutes": minutes})
    assert response.status_code == 302
    meeting.refresh_from_db()
    assert meeting.minutes == minutes

    upload = SimpleUploadedFile("会议记录.pdf", PDF, content_type="application/pdf")
    response = alice.post(reverse("meetings:file_add", args=[meeting.pk]), {"file": upload})
    assert response.status_code == 302
    stored = MeetingFile.objects.get()

    response = alice.post(
        reverse("meetings:resolution", args=[meeting.pk]),
        {"title": "接收李四为预备党员", "yes": 2, "no": 0, "abstain": 0, "secret_ballot": "on"},
    )
    assert response.status_code == 302
    resolution = Resolution.objects.get()
    assert (resolution.valid, resolution.passed, resolution.secret_ballot) == (True, True, True)

    page = alice.get(reverse("meetings:detail", args=[meeting.pk]))
    text = body(page)
    facts = page.context["summary"]
    assert (facts["expected"], facts["present"], facts["leave"], facts["absent"]) == (3, 2, 1, 0)
    assert facts["valid"] is True
    assert "<strong>一致同意</strong>" in text  # the stored (clean) minutes, as HTML
    assert reverse("meetings:file", args=[meeting.pk, stored.pk]) in text
    assert stored.file.url not in text  # never the public media address
    assert 'data-testid="passed"' in text
    assert "more than half of the voting members expected" in text  # the rule explained


def test_leave_is_decided_on_the_page(en, people, tree, types, accounts):
    later = services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=types["theme_day"],
        topic="主题党日",
        starts_at=at(2),
    )
    asked = services.ask_leave(user=accounts["zhang"], meeting=later, reason="出差")
    alice = en(people["alice"])
    page = body(alice.get(reverse("meetings:detail", args=[later.pk])))
    assert f'data-testid="approve-{asked.pk}"' in page and "出差" in page
    response = alice.post(
        reverse("meetings:leave", args=[later.pk]), {"attendee": asked.pk, "decision": "approve"}
    )
    assert response.status_code == 302
    asked.refresh_from_db()
    assert (asked.leave_state, asked.state) == ("approved", "leave")
    before = state()
    again = alice.post(
        reverse("meetings:leave", args=[later.pk]), {"attendee": asked.pk, "decision": "refuse"}
    )
    assert again.status_code == 409
    assert "No leave is waiting for a decision." in body(again)
    assert state() == before


def test_leave_of_another_meetings_attendee_is_refused(en, people, meeting, tree, types):
    other = services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=types["theme_day"],
        topic="主题党日",
        starts_at=at(2),
    )
    before = state()
    response = en(people["alice"]).post(
        reverse("meetings:leave", args=[meeting.pk]),
        {"attendee": other.attendees.first().pk, "decision": "approve"},
    )
    assert response.status_code == 400
    assert "Nobody of this meeting asked for this leave." in body(response)
    assert state() == before


def test_cancel_with_a_reason_and_not_twice(en, people, meeting):
    alice = en(people["alice"])
    url = reverse("meetings:cancel", args=[meeting.pk])
    response = alice.post(url, {"reason": ""})
    assert response.status_code == 400
    assert 'data-testid="error-reason"' in body(response)
    assert alice.post(url, {"reason": "改期"}).status_code == 302
    meeting.refresh_from_db()
    assert meeting.status == "cancelled"
    event = AuditEvent.objects.filter(action="meeting.cancel").get()
    assert event.after["reason"] == "改期"
    before = state()
    again = alice.post(url, {"reason": "改期"})
    assert again.status_code == 409
    assert "The meeting is cancelled." in body(again)
    assert state() == before


def test_a_cancelled_meeting_is_not_edited(en, people, meeting, types):
    services.cancel(actor=people["alice"], meeting=meeting, reason="改期")
    before = state()
    response = en(people["alice"]).post(
        reverse("meetings:edit", args=[meeting.pk]),
        {
            "activity_type": types["general_meeting"].pk,
            "topic": "新题目",
            "starts_at": _local(meeting.starts_at),
        },
    )
    assert response.status_code == 409
    assert "The meeting is cancelled." in body(response)
    assert state() == before


def test_editing_keeps_what_was_not_changed(en, people, meeting, types):
    alice = en(people["alice"])
    page = alice.get(reverse("meetings:edit", args=[meeting.pk]))
    form = page.context["form"]
    assert form["topic"].value() == meeting.topic
    assert _local(meeting.starts_at) in body(page)  # the datetime-local value, local time
    response = alice.post(
        reverse("meetings:edit", args=[meeting.pk]),
        {
            "activity_type": types["general_meeting"].pk,
            "topic": "讨论发展党员（改）",
            "starts_at": _local(meeting.starts_at),
            "ends_at": _local(meeting.ends_at),
            "place": meeting.place,
            "class_hours": "1.5",
        },
    )
    assert response.status_code == 302
    meeting.refresh_from_db()
    assert (meeting.topic, str(meeting.class_hours), meeting.place) == (
        "讨论发展党员（改）",
        "1.5",
        "党员活动室",
    )


# The form ------------------------------------------------------------------------------------------


def test_the_form_offers_the_kinds_the_organisation_holds(en, people, tree, types):
    alice = en(people["alice"])
    branch = alice.get(reverse("meetings:new") + f"?org={tree['branch_a'].pk}")
    offered = {t.code for t in branch.context["types"]}
    assert "general_meeting" in offered and "lecture" in offered
    assert "group_meeting" not in offered
    group = alice.get(reverse("meetings:new") + f"?org={tree['group_a'].pk}")
    assert {t.code for t in group.context["types"]} == {"group_meeting"}
    lecture = alice.get(
        reverse("meetings:new") + f"?org={tree['branch_a'].pk}&type=lecture&date=2030-03-05"
    )
    form = lecture.context["form"]
    assert form["activity_type"].value() == types["lecture"].pk
    assert str(form["class_hours"].value()) == str(types["lecture"].class_hours)
    assert 'data-testid="lecture-fields"' in body(lecture)
    assert 'value="2030-03-05T14:00"' in body(lecture)


def test_a_kind_the_organisation_does_not_hold_is_refused(en, people, tree, types):
    response = en(people["alice"]).post(
        reverse("meetings:new") + f"?org={tree['branch_a'].pk}",
        {
            "activity_type": types["group_meeting"].pk,
            "topic": "小组会",
            "starts_at": "2030-01-01T09:00",
        },
    )
    assert response.status_code == 400
    assert Meeting.objects.count() == 0


def test_without_an_organisation_the_form_asks_for_one(en, people):
    page = en(people["oscar"]).get(reverse("meetings:new"))
    assert page.status_code == 200
    assert 'data-testid="choose-org"' in body(page)
    own = en(people["alice"]).get(reverse("meetings:new"))  # alice manages branch A and group A
    assert 'data-testid="choose-org"' in body(own)


def test_the_recorder_is_someone_with_a_role_there(en, people, tree, types, make_user):
    outsider = make_user("outsider")
    response = en(people["alice"]).post(
        reverse("meetings:new") + f"?org={tree['branch_a'].pk}",
        {
            "activity_type": types["theme_day"].pk,
            "topic": "主题党日",
            "starts_at": "2030-01-01T09:00",
            "recorder": outsider.pk,
        },
    )
    assert response.status_code == 400
    assert 'data-testid="error-recorder"' in body(response)
    assert Meeting.objects.count() == 0


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"ends_at": "2030-01-01T08:00"}, "ends_at", "The meeting cannot end before it starts."),
        ({"starts_at": "tomorrow"}, "starts_at", "Enter a date and time."),
        ({"topic": ""}, "topic", "This field is required."),
        ({"online_link": "javascript:alert(1)"}, "online_link", "An online link starts with"),
        ({"class_hours": "1.25"}, "class_hours", "Class hours from 0 to 24, in tenths."),
    ],
)
def test_bad_input_comes_back_on_its_field_with_what_was_typed(
    en, people, tree, types, change, field, message
):
    data = {
        "activity_type": types["theme_day"].pk,
        "topic": "主题党日：重温入党誓词",
        "starts_at": "2030-01-01T09:00",
        "ends_at": "2030-01-01T11:00",
        "place": "村委会二楼",
    } | change
    before = state()
    response = en(people["alice"]).post(
        reverse("meetings:new") + f"?org={tree['branch_a'].pk}", data
    )
    assert response.status_code == 400
    text = body(response)
    assert f'data-testid="error-{field}"' in text
    assert message in text
    assert "村委会二楼" in text  # what was typed stays
    assert state() == before


# A meeting's page: bad input --------------------------------------------------------------------------


def test_a_future_meeting_is_not_recorded_as_held(en, people, tree, types):
    later = services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=types["theme_day"],
        topic="主题党日",
        starts_at=at(2),
    )
    before = state()
    response = en(people["alice"]).post(reverse("meetings:held", args=[later.pk]))
    assert response.status_code == 400
    assert "A meeting that has not started yet cannot be recorded as held." in body(response)
    assert 'data-testid="held-errors"' in body(response)
    assert state() == before


def test_attendance_of_someone_of_another_meeting_is_refused_whole(
    en, people, meeting, tree, types
):
    other = services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=types["theme_day"],
        topic="主题党日",
        starts_at=at(1),
    )
    rows = {f"state-{a.pk}": "present" for a in meeting.attendees.all()}
    rows[f"state-{other.attendees.first().pk}"] = "present"
    before = state()
    response = en(people["alice"]).post(reverse("meetings:attendance", args=[meeting.pk]), rows)
    assert response.status_code == 400
    text = body(response)
    assert "Attendance of someone not expected at this meeting." in text
    assert 'data-testid="attendance-errors"' in text
    # what was typed is checked again on the page
    assert all(r.chosen == "present" for r in response.context["rows"])
    assert state() == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Mark the attendance of at least one person."),
        ({"state-x": "present"}, "Attendance of someone not expected at this meeting."),
        (None, "Choose present, on leave or absent."),
    ],
)
def test_attendance_that_makes_no_sense_is_refused(en, people, meeting, data, message):
    if data is None:
        data = {f"state-{meeting.attendees.first().pk}": "asleep"}
    before = state()
    response = en(people["alice"]).post(reverse("meetings:attendance", args=[meeting.pk]), data)
    assert response.status_code == 400
    assert message in body(response)
    assert state() == before


def test_more_votes_than_voters_present_is_refused_on_its_field(en, people, meeting):
    voters = meeting.attendees.filter(may_vote=True)
    services.set_attendance(
        actor=people["alice"], meeting=meeting, states={voters[0].pk: "present"}
    )
    before = state()
    response = en(people["alice"]).post(
        reverse("meetings:resolution", args=[meeting.pk]),
        {"title": "接收预备党员", "yes": 2, "no": 1, "abstain": 0},
    )
    assert response.status_code == 400
    text = body(response)
    assert 'data-testid="error-yes"' in text
    assert "3 votes, but only 1 voting members are present." in text
    assert "接收预备党员" in text
    assert state() == before


def test_a_meeting_that_does_not_vote_takes_no_resolution(en, people, tree, types):
    theme = services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=types["theme_day"],
        topic="主题党日",
        starts_at=at(-1),
    )
    before = state()
    response = en(people["alice"]).post(
        reverse("meetings:resolution", args=[theme.pk]),
        {"title": "决议", "yes": 0, "no": 0, "abstain": 0},
    )
    assert response.status_code == 400
    assert "This kind of meeting does not vote." in body(response)
    assert state() == before


def test_written_opinions_count_among_the_yes_votes(en, people, tree, make_member, types, roster):
    make_member(tree["branch_a"], "赵八", birth="1970-02-02")  # a third voter, absent
    meeting = services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=types["general_meeting"],
        topic="接收预备党员",
        starts_at=at(0, 0),
    )
    voters = [a.pk for a in meeting.attendees.filter(may_vote=True).order_by("pk")]
    assert len(voters) == 3
    services.set_attendance(
        actor=people["alice"], meeting=meeting, states={pk: "present" for pk in voters[:2]}
    )
    alice = en(people["alice"])
    url = reverse("meetings:resolution", args=[meeting.pk])
    # 1 yes at the meeting + 1 written = 2 of 3 expected: more than half
    assert (
        alice.post(url, {"title": "甲", "yes": 1, "no": 1, "abstain": 0, "written": 1}).status_code
        == 302
    )
    # only a written yes: not more than half, and no error either
    assert (
        alice.post(url, {"title": "乙", "yes": 0, "no": 2, "abstain": 0, "written": 1}).status_code
        == 302
    )
    assert list(Resolution.objects.order_by("pk").values_list("title", "valid", "passed")) == [
        ("甲", True, True),
        ("乙", True, False),
    ]


def test_minutes_with_a_script_come_back_without_it(en, people, meeting):
    alice = en(people["alice"])
    dirty = '<p onclick="steal()">决定<script>alert(1)</script></p><img src=x onerror=alert(2)>'
    response = alice.post(reverse("meetings:minutes", args=[meeting.pk]), {"minutes": dirty})
    assert response.status_code == 302
    meeting.refresh_from_db()
    assert meeting.minutes == "<p>决定</p>"
    page = body(alice.get(reverse("meetings:detail", args=[meeting.pk])))
    assert "<script>alert" not in page and "onerror" not in page and "onclick" not in page


def test_minutes_typed_without_javascript_keep_their_lines(en, people, meeting):
    alice = en(people["alice"])
    alice.post(
        reverse("meetings:minutes", args=[meeting.pk]), {"minutes": "一、学习\n\n二、讨论 & 表决"}
    )
    meeting.refresh_from_db()
    assert meeting.minutes == "<p>一、学习</p><p>二、讨论 &amp; 表决</p>"


def test_minutes_too_long_come_back_cleaned(en, people, meeting):
    before = state()
    typed = "<p>很长</p><script>alert(1)</script>" + "x" * 100_001
    response = en(people["alice"]).post(
        reverse("meetings:minutes", args=[meeting.pk]), {"minutes": typed}
    )
    assert response.status_code == 400
    assert "The minutes are too long." in body(response)
    assert "<script>alert" not in response.context["minutes_value"]
    assert state() == before


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("纪要.pdf", b"MZ\x90\x00 not a pdf", "is not what its name says"),
        ("tool.exe", b"MZ\x90\x00", "Send photos (JPEG, PNG, WebP) or PDF, Word and Excel"),
        ("photo.jpg", b"MZ\x90\x00", "Send photos (JPEG, PNG, WebP) or PDF, Word and Excel"),
    ],
)
def test_a_file_of_the_wrong_type_is_refused(en, people, meeting, name, content, message):
    before = state()
    upload = SimpleUploadedFile(name, content)
    response = en(people["alice"]).post(
        reverse("meetings:file_add", args=[meeting.pk]), {"file": upload}
    )
    assert response.status_code == 400
    text = body(response)
    assert 'data-testid="error-file"' in text and message in text
    assert state() == before


def test_a_file_too_large_is_refused(en, people, meeting, monkeypatch):
    monkeypatch.setattr(services, "MAX_FILE", 1024 * 1024)
    before = state()
    upload = SimpleUploadedFile("大文件.pdf", b"%PDF" + b"0" * (1024 * 1024 + 1))
    response = en(people["alice"]).post(
        reverse("meetings:file_add", args=[meeting.pk]), {"file": upload}
    )
    assert response.status_code == 400
    assert "A file may be at most 1 MB." in body(response)
    assert state() == before


def test_a_photo_too_large_is_said_so(en, people, meeting, monkeypatch):
    from dangjian.feedback import photos

    monkeypatch.setattr(photos, "MAX_BYTES", 100)
    upload = SimpleUploadedFile("合影.jpg", _jpeg())
    response = en(people["alice"]).post(
        reverse("meetings:file_add", args=[meeting.pk]), {"file": upload}
    )
    assert response.status_code == 400
    assert "A photo may be at most" in body(response)


def _jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (180, 20, 20)).save(out, format="JPEG")
    return out.getvalue()


# Files -------------------------------------------------------------------------------------------


def test_files_are_served_after_the_scope_check(en, people, meeting, stored, tree, types):
    alice = en(people["alice"])
    response = alice.get(reverse("meetings:file", args=[meeting.pk, stored.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    assert "private" in response["Cache-Control"]
    other = services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=types["theme_day"],
        topic="主题党日",
        starts_at=at(1),
    )
    # a file answers only under its own meeting
    assert alice.get(reverse("meetings:file", args=[other.pk, stored.pk])).status_code == 404


def test_a_photo_is_shown_inline(en, people, meeting):
    upload = SimpleUploadedFile("合影.jpg", _jpeg(), content_type="image/jpeg")
    photo = services.add_file(actor=people["alice"], meeting=meeting, upload=upload)
    response = en(people["alice"]).get(reverse("meetings:file", args=[meeting.pk, photo.pk]))
    assert response["Content-Type"] == "image/jpeg"
    assert "attachment" not in response.get("Content-Disposition", "")


# The sign-in screen ------------------------------------------------------------------------------


def test_the_screen_shows_a_qr_code_of_the_sign_in_address(en, people, meeting):
    response = en(people["alice"]).get(reverse("meetings:screen", args=[meeting.pk]))
    assert response.status_code == 200
    text = body(response)
    assert "<svg" in text
    assert f'hx-get="{reverse("meetings:screen_code", args=[meeting.pk])}"' in text
    assert 'hx-trigger="every 30s"' in text
    url = response.context["url"]
    assert url.startswith("http://testserver/meetings/")
    assert f"/{meeting.pk}/?code={response.context['code']}" in url
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_the_screen_code_changes_every_30_seconds(en, people, meeting, accounts):
    alice = en(people["alice"])
    url = reverse("meetings:screen_code", args=[meeting.pk])
    moment = timezone.now().replace(microsecond=0)
    with time_machine.travel(moment, tick=False):
        first = alice.get(url)
    with time_machine.travel(moment + datetime.timedelta(seconds=30), tick=False):
        services.sign_in(
            user=accounts["zhang"], meeting=meeting, code=services.current_code(meeting)
        )
        second = alice.get(url)
    assert first.status_code == second.status_code == 200
    assert "<svg" in body(first) and "<svg" in body(second)
    assert first.context["code"] != second.context["code"]
    assert body(first) != body(second)
    assert (first.context["summary"]["present"], second.context["summary"]["present"]) == (0, 1)
    assert 'data-testid="present">1</span> / <span data-testid="expected">3</span>' in body(second)


def test_the_screen_says_when_sign_in_is_closed(en, people, tree, types):
    later = services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=types["theme_day"],
        topic="主题党日",
        starts_at=at(3),
    )
    response = en(people["alice"]).get(reverse("meetings:screen_code", args=[later.pk]))
    assert 'data-testid="closed"' in body(response)
    assert "Sign-in opens at" in body(response)


# The list and the calendar -----------------------------------------------------------------------


def _schedule_many(people, tree, types, count, offset=0):
    for i in range(count):
        services.schedule(
            actor=people["alice" if i % 2 == 0 else "bob"],
            organization=tree["branch_a" if i % 2 == 0 else "branch_b"],
            activity_type=types["theme_day"],
            topic=f"主题党日 {offset + i}",
            starts_at=at(-(offset + i)),
        )


def _queries(client, url) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries), response


def test_the_list_costs_the_same_for_2_and_12_rows(en, people, tree, types, roster):
    oscar = en(people["oscar"])
    url = reverse("meetings:list")
    _schedule_many(people, tree, types, 2)
    _queries(oscar, url)  # warm
    few, response = _queries(oscar, url)
    assert len(response.context["rows"]) == 2
    _schedule_many(people, tree, types, 10, offset=2)
    many, response = _queries(oscar, url)
    assert len(response.context["rows"]) == 12
    assert many == few
    row = response.context["rows"][0]
    assert (row.expected, row.present) in ((3, 0), (2, 0))


def test_the_list_filters(en, people, tree, types, roster, meeting):
    _schedule_many(people, tree, types, 4)
    oscar = en(people["oscar"])
    url = reverse("meetings:list")

    def listed(**params):
        response = oscar.get(url, params)
        assert response.status_code == 200
        return {m.topic for m in response.context["page"].object_list}

    assert listed(org=tree["branch_b"].pk) == {"主题党日 1", "主题党日 3"}
    assert listed(type=types["general_meeting"].pk) == {"讨论发展党员"}
    assert listed(q="发展") == {"讨论发展党员"}
    assert listed(status="held") == set()
    day = (timezone.localdate() - datetime.timedelta(days=2)).isoformat()
    assert listed(since=day, until=day) == {"主题党日 2"}
    assert len(listed(since="not a date", status="nonsense")) == 5  # bad filters are dropped
    assert 'data-testid="new-meeting"' in body(oscar.get(url))


def test_the_list_pages_on_the_server(en, people, tree, types, settings):
    settings.PAGE_SIZE = 10
    _schedule_many(people, tree, types, 12)
    oscar = en(people["oscar"])
    first = oscar.get(reverse("meetings:list"))
    assert len(first.context["rows"]) == 10 and first.context["page"].has_next()
    second = oscar.get(reverse("meetings:list"), {"page": 2})
    assert len(second.context["rows"]) == 2


def test_the_detail_costs_the_same_whatever_the_number_of_people(
    en, people, tree, types, make_member, roster
):
    def meeting_with_files_and_votes(topic):
        made = services.schedule(
            actor=people["alice"],
            organization=tree["branch_a"],
            activity_type=types["general_meeting"],
            topic=topic,
            starts_at=at(0, 0),
        )
        for name in ("a.pdf", "b.pdf"):
            services.add_file(
                actor=people["alice"], meeting=made, upload=SimpleUploadedFile(name, PDF)
            )
        services.add_resolution(
            actor=people["alice"], meeting=made, title="决议", yes=0, no=0, abstain=0
        )
        return made

    alice = en(people["alice"])
    small = meeting_with_files_and_votes("三人")
    _queries(alice, reverse("meetings:detail", args=[small.pk]))  # warm
    few, response = _queries(alice, reverse("meetings:detail", args=[small.pk]))
    assert len(response.context["rows"]) == 3
    for i in range(8):
        make_member(tree["branch_a"], f"党员{i}", birth=f"19{70 + i}-01-01")
    large = meeting_with_files_and_votes("十一人")
    services.add_file(actor=people["alice"], meeting=large, upload=SimpleUploadedFile("c.pdf", PDF))
    many, response = _queries(alice, reverse("meetings:detail", args=[large.pk]))
    assert len(response.context["rows"]) == 11
    assert many == few


def test_the_calendar_shows_a_month_with_previous_and_next(en, people, tree, types):
    held = services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=types["committee_meeting"],
        topic="三月支委会",
        starts_at=timezone.make_aware(datetime.datetime(2026, 3, 31, 23, 30)),  # Beijing time
    )
    alice = en(people["alice"])
    response = alice.get(
        reverse("meetings:calendar"), {"org": tree["branch_a"].pk, "month": "2026-03"}
    )
    assert response.status_code == 200
    assert (response.context["previous"], response.context["next"]) == ("2026-02", "2026-04")
    text = body(response)
    assert f'data-testid="item-{held.pk}"' in text and "23:30 三月支委会" in text
    cell = next(
        c
        for week in response.context["weeks"]
        for c in week
        if c["day"].isoformat() == "2026-03-31"
    )
    assert [m.pk for m in cell["meetings"]] == [held.pk]
    april = alice.get(
        reverse("meetings:calendar"), {"org": tree["branch_a"].pk, "month": "2026-04"}
    )
    assert f'data-testid="item-{held.pk}"' not in body(april)
    december = alice.get(
        reverse("meetings:calendar"), {"org": tree["branch_a"].pk, "month": "2026-12"}
    )
    assert december.context["next"] == "2027-01"
    bad = alice.get(reverse("meetings:calendar"), {"month": "2026-13"})
    assert bad.status_code == 200  # this month instead


# Local frequency rules ---------------------------------------------------------------------------


def test_a_local_rule_is_set_shown_below_and_removed(en, people, tree, types):
    oscar = en(people["oscar"])
    url = reverse("meetings:rules") + f"?org={tree['town'].pk}"
    response = oscar.post(
        url, {"activity_type": types["lecture"].pk, "frequency": "month", "note": "某省规定"}
    )
    assert response.status_code == 302
    rule = FrequencyRule.objects.get()
    assert (rule.organization, rule.frequency, rule.note) == (tree["town"], "month", "某省规定")

    page = en(people["alice"]).get(reverse("meetings:rules") + f"?org={tree['branch_a'].pk}")
    row = next(r for r in page.context["rows"] if r["type"].code == "lecture")
    assert (row["frequency"], row["required"], row["rule"], row["here"]) == (
        "month",
        True,
        rule,
        False,
    )
    assert "a local rule of 城关镇党委" in body(page) and "某省规定" in body(page)
    theme = next(r for r in page.context["rows"] if r["type"].code == "theme_day")
    assert (theme["frequency"], theme["rule"]) == ("month", None)
    assert "national default" in body(page)

    assert 'data-testid="remove-lecture"' in body(oscar.get(url))
    assert (
        oscar.post(url, {"activity_type": types["lecture"].pk, "frequency": ""}).status_code == 302
    )
    assert FrequencyRule.objects.count() == 0


def test_a_bad_frequency_is_refused_on_its_field(en, people, tree, types):
    before = state()
    response = en(people["oscar"]).post(
        reverse("meetings:rules") + f"?org={tree['town'].pk}",
        {"activity_type": types["lecture"].pk, "frequency": "weekly"},
    )
    assert response.status_code == 400
    assert 'data-testid="error-frequency"' in body(response)
    assert state() == before


def test_a_stale_attendance_page_leaves_a_qr_sign_in_alone(client_for, people, meeting, accounts):
    from dangjian.meetings import services as meeting_services

    rows = {a.name: a for a in meeting.attendees.all()}
    meeting_services.sign_in(
        user=accounts["zhang"], meeting=meeting, code=meeting_services.current_code(meeting)
    )
    url = reverse("meetings:attendance", args=[meeting.pk])
    posted = {f"state-{a.pk}": "absent" for a in rows.values()}
    posted |= {f"was-{a.pk}": "expected" for a in rows.values()}  # as the page was drawn
    response = client_for(people["alice"]).post(url, posted)
    assert response.status_code in (200, 302)
    now = {a.name: a.state for a in meeting.attendees.all()}
    assert now == {"张三": "present", "李四": "absent", "王五": "absent"}
