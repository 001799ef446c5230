"""The API of organisational life at /api/v1/meetings: the whole path of a meeting through the
API; every staff operation tried by the three people (alice inside, oscar above, bob beside: 404
and nothing changed) and by an auditor (seen, not allowed: 403); members with their own token on
their own meetings only; bad input answering a code and the field; the OpenAPI guard; query
counts of the lists."""

import datetime
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dangjian.core import services as core_services
from dangjian.core.models import AuditEvent, Notification
from dangjian.meetings import services
from dangjian.meetings.models import Assessment, Attendee, Meeting, MonthTally, Resolution
from tests.members.test_api import ApiClient, assert_error

from .conftest import at

pytestmark = pytest.mark.django_db

M = "/api/v1/meetings"


class Api(ApiClient):
    def put(self, path, data=None):
        return self.client.put(path, data or {}, content_type="application/json")

    def call(self, method, path, data=None):
        if method == "get":
            return self.get(path, data)
        return getattr(self, method)(path, data)


@pytest.fixture
def alice(people):
    return Api(people["alice"])


@pytest.fixture
def oscar(people):
    return Api(people["oscar"])


@pytest.fixture
def bob(people):
    return Api(people["bob"])


@pytest.fixture
def auditor(make_user, admin, tree):
    user = make_user("audrey")
    core_services.assign_role(actor=admin, user=user, org=tree["county"], role="auditor")
    return Api(user)


@pytest.fixture
def zhang(accounts):
    """张三 of branch A: a member with an account and no role."""
    return Api(accounts["zhang"])


@pytest.fixture
def later(people, tree, types, accounts):
    """Branch A's theme day in two days, 张三 has asked for leave from it."""
    found = services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=types["theme_day"],
        topic="主题党日",
        starts_at=at(2, 9),
    )
    services.ask_leave(user=accounts["zhang"], meeting=found, reason="出差")
    return found


def iso(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).isoformat()


def ids(meeting) -> dict[str, int]:
    return {a.name: a.pk for a in meeting.attendees.all()}


def everything():
    """All that an operation could change."""
    return (
        list(Meeting.objects.order_by("pk").values()),
        list(Attendee.objects.order_by("pk").values()),
        list(Resolution.objects.order_by("pk").values()),
        list(MonthTally.objects.order_by("pk").values()),
        Notification.objects.count(),
        AuditEvent.objects.count(),
    )


# The whole path --------------------------------------------------------------------------------


def test_schedule_notice_sign_in_attend_hold_vote_and_minute_through_the_api(
    alice, zhang, tree, accounts
):
    now = timezone.now().replace(second=0, microsecond=0)
    response = alice.post(
        M,
        {
            "org": tree["branch_a"].pk,
            "type": "general_meeting",
            "topic": "讨论接收预备党员",
            "starts_at": iso(now - datetime.timedelta(minutes=10)),
            "ends_at": iso(now + datetime.timedelta(minutes=110)),
            "place": "党员活动室",
        },
    )
    assert response.status_code == 201, response.content
    made = response.json()
    meeting = Meeting.objects.get(pk=made["id"])
    assert made["type"] == "general_meeting" and made["status"] == "planned"
    assert made["starts_at"].endswith(("Z", "+00:00", "+08:00"))
    assert {a["name"] for a in made["attendees"]} == {"张三", "李四", "王五"}
    assert made["summary"]["expected"] == 3 and made["may_manage"] is True

    told = alice.post(f"{M}/{meeting.pk}/notice").json()
    assert told["told"] == 3
    assert Notification.objects.filter(user=accounts["zhang"], kind="meeting").count() == 1

    mine = zhang.get(f"{M}/mine").json()
    assert [m["id"] for m in mine["upcoming"]] == [meeting.pk]
    assert mine["upcoming"][0]["state"] == "expected"

    signed = zhang.post(f"{M}/{meeting.pk}/sign-in", {"code": services.current_code(meeting)})
    assert signed.status_code == 200, signed.content
    assert signed.json()["state"] == "present" and signed.json()["signed_how"] == "qr"

    people = ids(meeting)
    marked = alice.post(
        f"{M}/{meeting.pk}/attendance",
        {str(people["王五"]): "present", str(people["李四"]): "leave"},
    ).json()
    assert marked["summary"] | {"valid": marked["summary"]["valid"]} == {
        "expected": 3,
        "present": 2,
        "leave": 1,
        "absent": 0,
        "unmarked": 0,
        "voting_members": 2,
        "voting_present": 2,
        "valid": True,
    }

    held = alice.post(f"{M}/{meeting.pk}/held").json()
    assert held["status"] == "held" and held["held_at"]
    hours = {a["name"]: a["class_hours"] for a in held["attendees"]}
    assert hours == {"张三": 1.0, "王五": 1.0, "李四": None}
    assert MonthTally.objects.get(organization=tree["branch_a"]).held == 1

    voted = alice.post(
        f"{M}/{meeting.pk}/resolutions",
        {"title": "接收李四为预备党员", "yes": 2, "no": 0, "abstain": 0},
    )
    assert voted.status_code == 201, voted.content
    assert voted.json() | {"id": 0, "created_at": ""} == {
        "id": 0,
        "title": "接收李四为预备党员",
        "voting_members": 2,
        "present": 2,
        "yes": 2,
        "no": 0,
        "abstain": 0,
        "written": 0,
        "valid": True,
        "passed": True,
        "secret_ballot": False,
        "created_at": "",
    }

    minuted = alice.put(
        f"{M}/{meeting.pk}/minutes",
        {"minutes": "<p onclick='x()'>会议<strong>同意</strong></p><script>alert(1)</script>"},
    ).json()
    assert minuted["minutes"] == "<p>会议<strong>同意</strong></p>"
    assert [r["title"] for r in minuted["resolutions"]] == ["接收李四为预备党员"]

    mine = zhang.get(f"{M}/mine").json()
    assert mine["class_hours"] == 1.0
    assert mine["upcoming"][0]["state"] == "present" and mine["upcoming"][0]["class_hours"] == 1.0
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "meeting.schedule",
        "meeting.notice",
        "meeting.sign_in",
        "meeting.attendance",
        "meeting.held",
        "meeting.resolution",
        "meeting.minutes",
    } <= actions


# Three people on every staff operation ---------------------------------------------------------


class Case:
    """What a staff operation works on: `meeting` is under way, `later` is in two days with
    张三's leave asked."""

    def __init__(self, meeting, later, tree):
        self.meeting, self.later, self.tree = meeting, later, tree

    @property
    def url(self):
        return f"{M}/{self.meeting.pk}"

    @property
    def branch(self):
        return {"org": self.tree["branch_a"].pk}


# name -> case -> (method, path, body or query)
STAFF = {
    "list": lambda c: ("get", M, c.branch),
    "schedule": lambda c: (
        "post",
        M,
        c.branch | {"type": "theme_day", "topic": "主题党日", "starts_at": iso(at(3, 9))},
    ),
    "detail": lambda c: ("get", c.url, None),
    "update": lambda c: ("patch", c.url, {"topic": "改了"}),
    "cancel": lambda c: ("post", f"{c.url}/cancel", {"reason": "改期"}),
    "notice": lambda c: ("post", f"{c.url}/notice", None),
    "held": lambda c: ("post", f"{c.url}/held", None),
    "attendance": lambda c: (
        "post",
        f"{c.url}/attendance",
        {str(ids(c.meeting)["张三"]): "present"},
    ),
    "leave": lambda c: (
        "post",
        f"{M}/{c.later.pk}/leave/{ids(c.later)['张三']}",
        {"decision": "approve"},
    ),
    "minutes": lambda c: ("put", f"{c.url}/minutes", {"minutes": "纪要"}),
    "resolution": lambda c: (
        "post",
        f"{c.url}/resolutions",
        {"title": "决议", "yes": 0, "no": 0, "abstain": 0},
    ),
    "signin_code": lambda c: ("get", f"{c.url}/signin-code", None),
    "compliance": lambda c: ("get", f"{M}/compliance", c.branch),
    "heatmap": lambda c: ("get", f"{M}/heatmap", c.branch),
    "plan": lambda c: ("post", f"{M}/plan", c.branch | {"year": timezone.localdate().year + 1}),
}
CHANGES = ["schedule", "update", "cancel", "notice", "held", "attendance", "leave", "minutes"]
CHANGES += ["resolution", "plan"]


def _request(client, name, meeting, later, tree):
    method, path, data = STAFF[name](Case(meeting, later, tree))
    return client.call(method, path, data)


@pytest.mark.parametrize("who", ["alice", "oscar"])
@pytest.mark.parametrize("name", list(STAFF))
def test_alice_and_oscar_may(request, who, name, meeting, later, tree):
    response = _request(request.getfixturevalue(who), name, meeting, later, tree)
    assert response.status_code in (200, 201), (name, response.status_code, response.content)


@pytest.mark.parametrize("name", list(STAFF))
def test_bob_of_the_sibling_branch_finds_nothing_and_changes_nothing(
    bob, name, meeting, later, tree
):
    before = everything()
    response = _request(bob, name, meeting, later, tree)
    assert_error(response, 404, "not_found")
    assert everything() == before


@pytest.mark.parametrize("name", CHANGES + ["signin_code"])
def test_an_auditor_sees_but_may_not_change(auditor, name, meeting, later, tree):
    before = everything()
    response = _request(auditor, name, meeting, later, tree)
    assert_error(response, 403, "forbidden")
    assert everything() == before


def test_an_auditor_reads_the_meeting(auditor, meeting):
    body = auditor.get(f"{M}/{meeting.pk}").json()
    assert body["id"] == meeting.pk and body["may_manage"] is False


def test_bob_lists_only_his_branch(bob, alice, meeting):
    assert bob.get(M).json()["count"] == 0
    assert [m["id"] for m in alice.get(M).json()["items"]] == [meeting.pk]


def test_a_meeting_that_does_not_exist_answers_404(alice):
    assert_error(alice.get(f"{M}/999999"), 404, "not_found")
    assert_error(alice.post(f"{M}/999999/held"), 404, "not_found")


def test_ids_beyond_64_bits_are_refused_before_the_database(alice):
    assert alice.get(f"{M}/{2**64}").status_code in (404, 422)
    assert_error(alice.get(M, {"org": 2**64}), 422, "invalid", "org")


# Members ---------------------------------------------------------------------------------------


MEMBER = {
    "detail": ("get", "mine/{id}", None),
    "sign_in": ("post", "{id}/sign-in", {"code": "x"}),
    "leave": ("post", "{id}/leave", {"reason": "出差"}),
    "self": ("post", "{id}/self-assessment", {"text": "自评"}),
    "peer": ("post", "{id}/peer-ratings", {"member": 1, "grade": "excellent"}),
}


@pytest.mark.parametrize("name", list(MEMBER))
def test_a_member_finds_nothing_of_meetings_they_are_not_expected_at(
    name, meeting, roster, make_user
):
    zhao = make_user("zhao_user")  # 赵六 of branch B
    roster["zhao"].user = zhao
    roster["zhao"].save(update_fields=["user"])
    method, path, body = MEMBER[name]
    client = Api(zhao)
    before = everything()
    response = client.call(method, f"{M}/" + path.format(id=meeting.pk), body)
    assert_error(response, 404, "not_found")
    assert everything() == before


def test_a_member_without_a_role_sees_no_staff_operation(zhang, meeting, tree):
    assert_error(zhang.get(f"{M}/{meeting.pk}"), 404, "not_found")
    assert_error(zhang.post(f"{M}/{meeting.pk}/held"), 404, "not_found")
    assert_error(zhang.get(f"{M}/{meeting.pk}/signin-code"), 404, "not_found")
    assert zhang.get(M).json()["count"] == 0


def test_leave_asked_by_the_member_and_decided_by_the_secretary(zhang, alice, people, tree, types):
    planned = services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=types["lecture"],
        topic="党课",
        starts_at=at(3),
    )
    asked = zhang.post(f"{M}/{planned.pk}/leave", {"reason": "  出差  "})
    assert asked.status_code == 200, asked.content
    assert (asked.json()["leave_state"], asked.json()["leave_reason"]) == ("asked", "出差")
    mine = zhang.get(f"{M}/mine").json()["upcoming"][0]
    assert mine["leave_state"] == "asked" and mine["may_ask_leave"] is True
    decided = alice.post(f"{M}/{planned.pk}/leave/{asked.json()['id']}", {"decision": "refuse"})
    assert decided.json()["leave_state"] == "refused" and decided.json()["state"] == "expected"
    again = alice.post(f"{M}/{planned.pk}/leave/{asked.json()['id']}", {"decision": "approve"})
    assert_error(again, 409, "no_leave")


def test_appraisal_by_members(people, tree, types, accounts, roster, zhang):
    appraisal = services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=types["appraisal"],
        topic="民主评议党员",
        starts_at=at(0, 9),
    )
    wrote = zhang.post(f"{M}/{appraisal.pk}/self-assessment", {"text": "认真履行党员义务"})
    assert wrote.json() == {"meeting_id": appraisal.pk, "text": "认真履行党员义务"}
    rated = zhang.post(
        f"{M}/{appraisal.pk}/peer-ratings", {"member": roster["wang"].pk, "grade": "excellent"}
    )
    assert rated.json() == {
        "meeting_id": appraisal.pk,
        "member": roster["wang"].pk,
        "grade": "excellent",
    }
    detail = zhang.get(f"{M}/mine/{appraisal.pk}").json()
    assert detail["appraisal"] is True and detail["self_assessment"] == "认真履行党员义务"
    assert {p["name"]: p["my_grade"] for p in detail["peers"]} == {
        "李四": None,
        "王五": "excellent",
    }
    assert Assessment.objects.filter(meeting=appraisal).count() == 2


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"member": "self", "grade": "excellent"}, "self_rating"),
        ({"member": "zhao", "grade": "excellent"}, "not_a_member"),  # branch B's
        ({"member": 987654, "grade": "excellent"}, "not_a_member"),  # nobody
    ],
)
def test_peer_ratings_refused(people, tree, types, roster, zhang, body, code):
    appraisal = services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=types["appraisal"],
        topic="民主评议党员",
        starts_at=at(0, 9),
    )
    member = {"self": roster["zhang"].pk, "zhao": roster["zhao"].pk}.get(body["member"])
    body = body | {"member": member or body["member"]}
    assert_error(zhang.post(f"{M}/{appraisal.pk}/peer-ratings", body), 400, code, "member")
    assert not Assessment.objects.exists()


def test_no_appraisal_at_a_general_meeting(zhang, meeting, roster):
    response = zhang.post(
        f"{M}/{meeting.pk}/peer-ratings", {"member": roster["wang"].pk, "grade": "excellent"}
    )
    assert_error(response, 400, "no_appraisal")


# Sign-in codes ---------------------------------------------------------------------------------


def test_the_recorders_screen_shows_the_code_that_signs_in(alice, zhang, meeting):
    shown = alice.get(f"{M}/{meeting.pk}/signin-code").json()
    assert shown["open"] is True
    expires = datetime.datetime.fromisoformat(shown["expires_at"])
    assert 0 < (expires - timezone.now()).total_seconds() <= 30
    signed = zhang.post(f"{M}/{meeting.pk}/sign-in", {"code": shown["code"]})
    assert signed.json()["state"] == "present"


@pytest.mark.parametrize("kind", ["expired", "forged", "other_meeting", "malformed"])
def test_bad_codes_are_refused(kind, zhang, meeting, people, tree, types):
    other = services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=types["theme_day"],
        topic="主题党日",
        starts_at=at(0, 15),
    )
    code = {
        "expired": services.current_code(meeting, time.time() - 120),
        "forged": services.current_code(meeting)[:-4] + "beef",
        "other_meeting": services.current_code(other),
        "malformed": "not-a-code",
    }[kind]
    response = zhang.post(f"{M}/{meeting.pk}/sign-in", {"code": code})
    assert_error(response, 400, f"code_{kind}", "code")
    assert not Attendee.objects.filter(state="present").exists()


def test_no_code_for_a_cancelled_meeting(alice, meeting):
    alice.post(f"{M}/{meeting.pk}/cancel")
    assert_error(alice.get(f"{M}/{meeting.pk}/signin-code"), 409, "cancelled")


# Bad input -------------------------------------------------------------------------------------


def schedule_body(tree, **change):
    return {
        "org": tree["branch_a"].pk,
        "type": "theme_day",
        "topic": "主题党日",
        "starts_at": iso(at(3, 9)),
        "ends_at": iso(at(3, 11)),
    } | change


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [
        ({"ends_at": iso(at(3, 8))}, 400, "ends_before", "ends_at"),
        ({"ends_at": iso(at(8, 8))}, 400, "too_long", "ends_at"),
        ({"topic": " "}, 400, "required", "topic"),
        ({"type": "no_such"}, 400, "no_such_type", "type"),
        ({"type": "group_meeting"}, 400, "wrong_kind", "type"),
        ({"online_link": "javascript:alert(1)"}, 400, "invalid_link", "online_link"),
        ({"class_hours": 1.25}, 400, "invalid_hours", "class_hours"),
        ({"class_hours": 25}, 422, "invalid", "class_hours"),
        ({"starts_at": "2026-05-01T09:00:00"}, 422, "invalid", "starts_at"),  # no time zone
        ({"starts_at": "9999-12-31T23:30:00+08:00"}, 422, "invalid", "starts_at"),
        ({"starts_at": "1900-01-01T09:00:00+08:00"}, 422, "invalid", "starts_at"),
        ({"org": 999999}, 404, "not_found", "org"),
        ({"recorder": 999999}, 400, "not_a_recorder", "recorder"),
    ],
)
def test_scheduling_refuses_bad_input_naming_the_field(
    alice, tree, people, change, status, code, field
):
    assert_error(alice.post(M, schedule_body(tree, **change)), status, code, field)
    assert not Meeting.objects.exists()


def test_the_recorder_records_meetings_there(alice, tree, people):
    response = alice.post(M, schedule_body(tree, recorder=people["bob"].pk))
    assert_error(response, 400, "not_a_recorder", "recorder")
    made = alice.post(M, schedule_body(tree, recorder=people["oscar"].pk)).json()
    assert made["recorder"] == {"id": people["oscar"].pk, "name": "欧阳明"}


def test_a_change_keeps_the_length_and_clears_with_null(alice, tree):
    made = alice.post(M, schedule_body(tree, place="党员活动室")).json()
    moved = alice.patch(
        f"{M}/{made['id']}", {"starts_at": iso(at(4, 14)), "place": None, "topic": None}
    )
    assert moved.status_code == 200, moved.content
    body = moved.json()
    assert datetime.datetime.fromisoformat(body["ends_at"]) == at(4, 16)
    assert body["place"] == "" and body["topic"] == "主题党日"


def test_a_future_meeting_cannot_be_held(alice, later):
    assert_error(alice.post(f"{M}/{later.pk}/held"), 400, "future_meeting", "starts_at")
    assert Meeting.objects.get(pk=later.pk).status == "planned"


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"yes": 3, "no": 0, "abstain": 0}, 400, "too_many_votes", "yes"),
        ({"yes": 0, "no": 0, "abstain": 0, "written": 5}, 400, "too_many_written", "written"),
        ({"yes": -1, "no": 0, "abstain": 0}, 422, "invalid", "yes"),
        ({"yes": 10**30, "no": 0, "abstain": 0}, 422, "invalid", "yes"),
        ({"yes": 0, "no": 0, "abstain": 0, "title": ""}, 400, "required", "title"),
    ],
)
def test_votes_beyond_the_voters_present_are_refused(alice, meeting, body, status, code, field):
    voters = [a.pk for a in meeting.attendees.filter(may_vote=True)]
    services.set_attendance(
        actor=meeting.created_by, meeting=meeting, states={voters[0]: "present"}
    )
    body = {"title": "决议"} | body
    response = alice.post(f"{M}/{meeting.pk}/resolutions", body)
    assert_error(response, status, code, field)
    assert not Resolution.objects.exists()


def test_a_theme_day_does_not_vote(alice, later):
    response = alice.post(
        f"{M}/{later.pk}/resolutions", {"title": "决议", "yes": 0, "no": 0, "abstain": 0}
    )
    assert_error(response, 400, "no_votes")


def test_attendance_of_another_meetings_attendee_is_refused_whole(alice, meeting, later):
    before = everything()
    mine, stranger = ids(meeting)["王五"], ids(later)["王五"]
    response = alice.post(
        f"{M}/{meeting.pk}/attendance", {str(mine): "present", str(stranger): "present"}
    )
    assert_error(response, 400, "not_expected", "attendance")
    assert everything() == before


@pytest.mark.parametrize(
    "body", [{"x": "present"}, {"1": "asleep"}, {"0": "present"}, {str(2**64): "present"}]
)
def test_attendance_that_is_not_a_map_of_ids_to_states(alice, meeting, body):
    assert alice.post(f"{M}/{meeting.pk}/attendance", body).status_code == 422


def test_a_leave_decision_for_another_meetings_attendee_is_not_found(alice, meeting, later):
    response = alice.post(f"{M}/{meeting.pk}/leave/{ids(later)['张三']}", {"decision": "approve"})
    assert_error(response, 404, "not_found")


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("held", None, "wrong_status"),
        ("notice", None, "wrong_status"),
    ],
)
def test_a_held_meeting_is_not_held_or_announced_again(alice, meeting, path, body, code):
    alice.post(f"{M}/{meeting.pk}/held")
    before = everything()
    assert_error(alice.post(f"{M}/{meeting.pk}/{path}", body), 409, code)
    assert everything() == before


def test_a_cancelled_meeting_changes_no_more(alice, meeting):
    alice.post(f"{M}/{meeting.pk}/cancel", {"reason": "改期"})
    before = everything()
    assert_error(alice.patch(f"{M}/{meeting.pk}", {"topic": "x"}), 409, "cancelled")
    assert_error(alice.post(f"{M}/{meeting.pk}/attendance", {}), 409, "cancelled")
    vote = {"title": "决议", "yes": 0, "no": 0, "abstain": 0}
    assert_error(alice.post(f"{M}/{meeting.pk}/resolutions", vote), 409, "cancelled")
    assert everything() == before


def test_leave_once_the_meeting_has_begun_is_too_late(zhang, meeting):
    assert_error(zhang.post(f"{M}/{meeting.pk}/leave", {"reason": "有事"}), 409, "too_late")
    assert_error(zhang.post(f"{M}/{meeting.pk}/leave", {"reason": " "}), 400, "required", "reason")


def test_minutes_too_long(alice, meeting):
    response = alice.put(f"{M}/{meeting.pk}/minutes", {"minutes": "长" * 100_001})
    assert_error(response, 400, "too_long", "minutes")


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("", {"since": "9999-01-01"}, "since"),
        ("", {"until": "0001-01-01"}, "until"),
        ("", {"status": "asleep"}, "status"),
        ("/compliance", {"year": 99999}, "year"),
        ("/heatmap", {"year": 1800}, "year"),
        ("/mine", {"year": 10**20}, "year"),
    ],
)
def test_dates_and_years_out_of_range(alice, path, query, field):
    assert_error(alice.get(f"{M}{path}", query), 422, "invalid", field)


@pytest.mark.parametrize(
    ("change", "field"), [({"day": 29}, "day"), ({"hour": 24}, "hour"), ({"year": 99999}, "year")]
)
def test_planning_bounds(alice, tree, change, field):
    body = {"org": tree["branch_a"].pk, "year": timezone.localdate().year + 1} | change
    assert_error(alice.post(f"{M}/plan", body), 422, "invalid", field)
    assert not Meeting.objects.exists()


def test_an_unknown_type_filter(alice):
    assert_error(alice.get(M, {"type": "nope"}), 400, "no_such_type", "type")


# Compliance, heat map, planning ----------------------------------------------------------------


def test_plan_compliance_and_the_heat_map(oscar, alice, tree):
    year = timezone.localdate().year + 1
    planned = alice.post(f"{M}/plan", {"org": tree["branch_a"].pk, "year": year, "day": 10})
    assert planned.status_code == 201, planned.content
    assert planned.json()["planned"] == 4 + 12 + 4 + 12 + 3
    first = planned.json()["meetings"][0]
    assert timezone.localtime(datetime.datetime.fromisoformat(first["starts_at"])).day == 10

    found = oscar.get(f"{M}/compliance", {"org": tree["branch_a"].pk, "year": year}).json()
    assert found["organization"]["code"] == "B01" and len(found["months"]) == 12
    committee = next(a for a in found["activities"] if a["type"] == "committee_meeting")
    assert committee["frequency"] == "month" and len(committee["periods"]) == 12
    assert {p["state"] for p in committee["periods"]} == {"upcoming"}

    rows = oscar.get(f"{M}/heatmap", {"org": tree["town"].pk, "year": year}).json()
    assert [r["organization"]["code"] for r in rows["items"]] == ["B01", "B02"]
    assert all(len(r["months"]) == 12 for r in rows["items"])
    overdue = oscar.get(
        f"{M}/heatmap", {"org": tree["town"].pk, "year": year, "only_overdue": True}
    ).json()
    assert overdue["items"] == []  # nothing of next year has ended


def test_the_heat_map_opens_at_the_top_of_the_scope(bob, tree):
    rows = bob.get(f"{M}/heatmap").json()["items"]
    assert [r["organization"]["code"] for r in rows] == ["B02"]


def test_types(zhang):
    types = {t["code"]: t for t in zhang.get(f"{M}/types").json()}
    assert types["general_meeting"]["votes"] is True
    assert types["committee_meeting"]["frequency"] == "month"
    assert types["appraisal"]["appraisal"] is True


# The OpenAPI guard -----------------------------------------------------------------------------


def test_the_openapi_guard_knows_every_meetings_operation():
    from tests.core.test_openapi import CALLS, operations, spec_document
    from tests.meetings.calls_meetings import MEETING_CALLS

    documented = {(method, path) for method, path, _op in operations(spec_document())}
    ours = {(method, path) for method, path in documented if path.startswith(M)}
    assert ours == set(MEETING_CALLS)
    assert set(MEETING_CALLS) <= set(CALLS)
    assert len(ours) == 22
    schemas = spec_document()["components"]["schemas"]
    assert "MeetingDetail" in schemas and "MeetingsMineOut" in schemas


# Query counts ----------------------------------------------------------------------------------


def _queries(client, path, params=None) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, params)
    assert response.status_code == 200, response.content
    return len(captured)


def _more(people, tree, types, n):
    for i in range(n):
        services.schedule(
            actor=people["alice"],
            organization=tree["branch_a"],
            activity_type=types["theme_day" if i % 2 else "lecture"],
            topic=f"第{i}次",
            starts_at=at(i + 1),
        )


def test_the_list_costs_the_same_whatever_the_rows(alice, people, tree, types, roster):
    _more(people, tree, types, 2)
    _queries(alice, M)  # warm
    few = _queries(alice, M)
    _more(people, tree, types, 6)
    assert alice.get(M).json()["count"] == 8
    assert _queries(alice, M) == few


def test_my_meetings_cost_the_same_whatever_the_rows(zhang, people, tree, types):
    _more(people, tree, types, 2)
    _queries(zhang, f"{M}/mine")
    few = _queries(zhang, f"{M}/mine")
    _more(people, tree, types, 6)
    assert len(zhang.get(f"{M}/mine").json()["upcoming"]) == 8
    assert _queries(zhang, f"{M}/mine") == few


def test_the_heat_map_costs_the_same_whatever_the_branches(oscar, admin, tree):
    _queries(oscar, f"{M}/heatmap", {"org": tree["town"].pk})
    few = _queries(oscar, f"{M}/heatmap", {"org": tree["town"].pk})
    for i in range(4):
        core_services.create_organization(
            actor=admin, parent=tree["town"], code=f"B9{i}", name=f"新党支部{i}", kind="branch"
        )
    rows = oscar.get(f"{M}/heatmap", {"org": tree["town"].pk}).json()
    assert rows["count"] == 6
    assert _queries(oscar, f"{M}/heatmap", {"org": tree["town"].pk}) == few
