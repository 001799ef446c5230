"""A member's own pages: my meetings and class hours, one meeting with leave and appraisal, and
the sign-in page the QR code on the recorder's screen opens. Members need no role; a meeting
they are not expected at answers 404."""

import datetime
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from dangjian.core import services as core_services
from dangjian.core.models import AuditEvent
from dangjian.meetings import services
from dangjian.meetings.models import Assessment, Attendee

from .conftest import at

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"  # tests/conftest.py make_user


def mine_url(meeting, name="mine_detail"):
    return reverse(f"meetings:{name}", args=[meeting.pk])


def sign_in_url(meeting, code=None):
    url = reverse("meetings:sign_in", args=[meeting.pk])
    return f"{url}?code={code}" if code is not None else url


def attendee(meeting, user) -> Attendee:
    return Attendee.objects.get(meeting=meeting, member__user=user)


def data_ids(html: str, testid: str) -> set[int]:
    """The meetings listed in a section of my meetings."""
    section = re.search(rf'<section data-testid="{testid}-section">(.*?)</section>', html, re.S)
    return {int(x) for x in re.findall(r'data-meeting="(\d+)"', section.group(1))}


@pytest.fixture
def schedule(people, tree, types):
    def make(code="theme_day", org="branch_a", **values):
        values.setdefault("topic", code)
        values.setdefault("starts_at", at(3))
        return services.schedule(
            actor=people["bob" if org == "branch_b" else "alice"],
            organization=tree[org],
            activity_type=types[code],
            **values,
        )

    return make


@pytest.fixture
def zhao(roster, make_user):
    """A member of branch B with a login."""
    user = make_user("zhao_user")
    roster["zhao"].user = user
    roster["zhao"].save(update_fields=["user"])
    return user


# My meetings -------------------------------------------------------------------------------------


@pytest.fixture
def mid_june():
    """A day well inside a year, so a meeting two days back counts in this year's hours."""
    moment = datetime.datetime(2026, 6, 15, 10, tzinfo=timezone.get_current_timezone())
    with time_machine.travel(moment, tick=True):
        yield


def test_a_member_sees_their_meetings_and_class_hours(
    mid_june, client_for, accounts, people, schedule, meeting
):
    later = schedule(starts_at=at(5), place="党员活动室", online_link="https://meet.example.cn/1")
    lecture = schedule("lecture", starts_at=at(-2), lecturer="王书记")
    ids = {a.name: a.pk for a in lecture.attendees.all()}
    services.set_attendance(actor=people["alice"], meeting=lecture, states={ids["张三"]: "present"})
    services.mark_held(actor=people["alice"], meeting=lecture)
    elsewhere = schedule(org="branch_b", starts_at=at(4))

    response = client_for(accounts["zhang"]).get(reverse("meetings:mine"))

    assert response.status_code == 200
    html = response.content.decode()
    assert data_ids(html, "upcoming") == {meeting.pk, later.pk}  # under way, then later
    assert 'data-testid="under-way"' in html
    assert "https://meet.example.cn/1" in html and "党员活动室" in html
    assert data_ids(html, "past") == {lecture.pk}
    assert re.search(rf'data-meeting="{lecture.pk}" data-state="present"', html)
    assert elsewhere.pk not in data_ids(html, "upcoming") | data_ids(html, "past")
    hours = re.search(
        r'data-testid="class-hours" data-hours="([\d.]+)" data-required="(\d+)"', html
    )
    assert hours.groups() == ("2", "32")
    assert 'style="width: 6%"' in html  # 2 of 32
    assert f'href="{reverse("meetings:mine")}"' in html  # "My meetings" in the navigation

    wang = client_for(accounts["wang"]).get(reverse("meetings:mine")).content.decode()
    assert re.search(rf'data-meeting="{lecture.pk}" data-state="expected"', wang)  # not recorded


def test_the_leave_state_shows_on_my_upcoming_meetings(client_for, accounts, schedule):
    later = schedule(starts_at=at(5))
    services.ask_leave(user=accounts["zhang"], meeting=later, reason="出差")
    html = client_for(accounts["zhang"]).get(reverse("meetings:mine")).content.decode()
    assert 'data-leave="asked"' in html


def test_secretaries_and_committee_members_study_56_hours(client_for, accounts, admin, tree):
    core_services.assign_role(
        actor=admin, user=accounts["zhang"], org=tree["group_a"], role="committee_member"
    )
    html = client_for(accounts["zhang"]).get(reverse("meetings:mine")).content.decode()
    assert 'data-required="56"' in html


def test_without_a_member_record_there_is_nothing_to_show(client_for, people):
    response = client_for(people["alice"]).get(reverse("meetings:mine"))
    assert response.status_code == 200
    assert 'data-testid="class-hours"' not in response.content.decode()
    assert f'href="{reverse("meetings:mine")}"' not in response.content.decode()  # nor in the menu


def test_my_meetings_cost_the_same_for_few_and_many(
    client_for, accounts, people, schedule, django_assert_max_num_queries
):
    client = client_for(accounts["zhang"])

    def grow(n):
        for i in range(n):
            upcoming = schedule(starts_at=at(3 + i), place=f"会议室{i}")
            services.ask_leave(user=accounts["zhang"], meeting=upcoming, reason="出差")
            past = schedule("lecture", starts_at=at(-3 - i, 9))
            ids = {a.name: a.pk for a in past.attendees.all()}
            services.set_attendance(
                actor=people["alice"], meeting=past, states={ids["张三"]: "present"}
            )
            services.mark_held(actor=people["alice"], meeting=past)

    def count():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("meetings:mine")).status_code == 200
        return len(captured.captured_queries)

    grow(2)
    client.get(reverse("meetings:mine"))  # warm up
    few = count()
    grow(10)
    assert count() == few


# Scope -------------------------------------------------------------------------------------------


def test_a_member_of_another_branch_gets_404(client_for, zhao, meeting, people):
    code = services.current_code(meeting)
    c = client_for(zhao)
    assert c.get(mine_url(meeting)).status_code == 404
    assert c.post(mine_url(meeting, "mine_leave"), {"reason": "出差"}).status_code == 404
    assert c.get(sign_in_url(meeting, code)).status_code == 404
    assert c.post(sign_in_url(meeting), {"code": code}).status_code == 404
    assert c.post(mine_url(meeting, "mine_self_assess"), {"text": "x"}).status_code == 404
    # A secretary sees the meeting on her pages, but is not expected at it: not here.
    assert client_for(people["alice"]).get(mine_url(meeting)).status_code == 404
    assert not Attendee.objects.filter(meeting=meeting).exclude(state="expected").exists()


def test_a_meeting_that_does_not_exist_is_404(client_for, accounts):
    assert client_for(accounts["zhang"]).get("/meetings/mine/999999/").status_code == 404
    assert client_for(accounts["zhang"]).get("/meetings/sign-in/999999/").status_code == 404


def test_my_meeting(client_for, accounts, schedule):
    later = schedule("lecture", starts_at=at(2), lecturer="王书记", agenda="一、学习\n二、讨论")
    response = client_for(accounts["zhang"]).get(mine_url(later))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="my-state" data-state="expected" data-leave=""' in html
    assert "王书记" in html and "一、学习<br>二、讨论" in html
    assert 'data-testid="ask-leave"' in html
    assert 'data-testid="appraisal"' not in html  # a lecture appraises nobody


# Leave -------------------------------------------------------------------------------------------


def test_leave_before_the_start(client_for, accounts, schedule):
    later = schedule(starts_at=at(2))
    c = client_for(accounts["zhang"])
    response = c.post(mine_url(later, "mine_leave"), {"reason": "出差"})
    assert response.status_code == 302
    assert response["Location"] == mine_url(later)
    mine = attendee(later, accounts["zhang"])
    assert (mine.leave_state, mine.leave_reason) == ("asked", "出差")
    assert 'data-leave="asked"' in c.get(mine_url(later)).content.decode()


def test_leave_needs_a_reason(client_for, accounts, schedule):
    later = schedule(starts_at=at(2))
    response = client_for(accounts["zhang"]).post(mine_url(later, "mine_leave"), {"reason": " "})
    assert response.status_code == 400
    assert "is-invalid" in response.content.decode()
    assert attendee(later, accounts["zhang"]).leave_state == ""


def test_leave_after_the_start_is_refused_with_why(client_for, accounts, meeting):
    c = client_for(accounts["zhang"])
    assert 'data-testid="ask-leave"' not in c.get(mine_url(meeting)).content.decode()
    response = c.post(mine_url(meeting, "mine_leave"), {"reason": "临时有事"})
    assert response.status_code == 409
    html = response.content.decode()
    assert 'data-testid="leave-error"' in html
    assert "Leave is asked before the meeting starts." in html or "请假" in html
    assert attendee(meeting, accounts["zhang"]).leave_state == ""


# Sign-in -----------------------------------------------------------------------------------------


def test_sign_in_with_the_current_code(client_for, accounts, meeting):
    c = client_for(accounts["zhang"])
    response = c.post(sign_in_url(meeting), {"code": services.current_code(meeting)})
    assert response.status_code == 302
    assert response["Location"] == sign_in_url(meeting) + "?done=new"
    mine = attendee(meeting, accounts["zhang"])
    assert (mine.state, mine.signed_how) == ("present", "qr")
    page = c.get(response["Location"]).content.decode()
    assert 'data-testid="signed-in" data-fresh="1"' in page
    assert timezone.localtime(mine.signed_at).strftime("%H:%M") in page
    assert 'data-testid="sign-in-button"' not in page


def test_signing_in_twice_is_harmless(client_for, accounts, meeting):
    c = client_for(accounts["zhang"])
    code = services.current_code(meeting)
    c.post(sign_in_url(meeting), {"code": code})
    first = attendee(meeting, accounts["zhang"]).signed_at
    response = c.post(sign_in_url(meeting), {"code": code})
    assert response.status_code == 302 and response["Location"].endswith("?done=again")
    page = c.get(response["Location"]).content.decode()
    assert 'data-testid="signed-in" data-fresh="0"' in page  # "already signed in"
    assert attendee(meeting, accounts["zhang"]).signed_at == first
    assert AuditEvent.objects.filter(action="meeting.sign_in").count() == 1


def test_an_expired_code_is_refused_with_a_hint_to_scan_again(client_for, accounts, meeting):
    c = client_for(accounts["zhang"])
    code = services.current_code(meeting)
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=2)):
        response = c.post(sign_in_url(meeting), {"code": code})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-code="code_expired"' in html
    assert 'data-testid="rescan-hint"' in html
    assert attendee(meeting, accounts["zhang"]).state == "expected"


def test_another_meetings_code_is_refused(client_for, accounts, meeting, schedule):
    other = schedule(starts_at=at(0, 15))
    response = client_for(accounts["zhang"]).post(
        sign_in_url(meeting), {"code": services.current_code(other)}
    )
    assert response.status_code == 400
    assert 'data-code="code_other_meeting"' in response.content.decode()
    assert attendee(meeting, accounts["zhang"]).state == "expected"
    assert attendee(other, accounts["zhang"]).state == "expected"


@pytest.mark.parametrize("forge", ["mac", "window", "garbage", "empty"])
def test_a_forged_code_is_refused(client_for, accounts, meeting, forge):
    code = services.current_code(meeting)
    mid, window, mac = code.split(".")
    forged = {
        "mac": f"{mid}.{window}.{'0' * len(mac)}",
        "window": f"{mid}.{int(window) + 1}.{mac}",
        "garbage": "<script>alert(1)</script>",
        "empty": "",
    }[forge]
    response = client_for(accounts["zhang"]).post(sign_in_url(meeting), {"code": forged})
    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(r'data-code="code_(forged|malformed)"', html)
    assert "<script>alert(1)" not in html
    assert attendee(meeting, accounts["zhang"]).state == "expected"


def test_get_never_signs_in(client_for, accounts, meeting):
    code = services.current_code(meeting)
    response = client_for(accounts["zhang"]).get(sign_in_url(meeting, code))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="sign-in-button"' in html
    assert f'name="code" value="{code}"' in html
    assert "csrfmiddlewaretoken" in html
    assert response["Cache-Control"].startswith("max-age=0")
    assert attendee(meeting, accounts["zhang"]).state == "expected"
    assert not AuditEvent.objects.filter(action="meeting.sign_in").exists()


def test_signing_in_needs_the_csrf_token(accounts, meeting):
    c = Client(enforce_csrf_checks=True)
    c.force_login(accounts["zhang"])
    response = c.post(sign_in_url(meeting), {"code": services.current_code(meeting)})
    assert response.status_code == 403
    assert attendee(meeting, accounts["zhang"]).state == "expected"


def test_sign_in_of_a_meeting_long_past_says_it_is_closed(client_for, accounts, schedule):
    yesterday = schedule(starts_at=at(-1))
    code = services.current_code(yesterday)
    c = client_for(accounts["zhang"])
    html = c.get(sign_in_url(yesterday, code)).content.decode()
    assert 'data-code="code_closed"' in html and 'data-testid="sign-in-button"' not in html
    response = c.post(sign_in_url(yesterday), {"code": code})
    assert response.status_code == 400
    assert 'data-code="code_closed"' in response.content.decode()


def test_anonymous_is_sent_to_log_in_and_back_with_the_code(client, accounts, meeting):
    code = services.current_code(meeting)
    target = sign_in_url(meeting, code)
    response = client.get(target)
    assert response.status_code == 302
    login = urlsplit(response["Location"])
    assert login.path == reverse("core:login")
    assert parse_qs(login.query)["next"] == [target]

    page = client.get(response["Location"]).content.decode()
    assert f'name="next" value="{target}"' in page
    back = client.post(
        reverse("core:login"), {"username": "zhang_user", "password": PASSWORD, "next": target}
    )
    assert back.status_code == 302 and back["Location"] == target
    assert 'data-testid="sign-in-button"' in client.get(back["Location"]).content.decode()
    assert attendee(meeting, accounts["zhang"]).state == "expected"


# Appraisal ---------------------------------------------------------------------------------------


@pytest.fixture
def appraisal(schedule):
    return schedule("appraisal", topic="年度民主评议党员", starts_at=at(0, 9))


def selected_grade(html: str, member) -> str:
    select = re.search(rf'<select[^>]*name="grade-{member.pk}".*?</select>', html, re.S).group(0)
    found = re.search(r'<option value="(\w*)" selected>', select)
    return found.group(1) if found else ""


def test_self_assessment(client_for, accounts, appraisal, roster):
    c = client_for(accounts["zhang"])
    response = c.post(mine_url(appraisal, "mine_self_assess"), {"text": "认真履行党员义务"})
    assert response.status_code == 302
    own = Assessment.objects.get(meeting=appraisal, member=roster["zhang"], rater=None)
    assert own.text == "认真履行党员义务"
    c.post(mine_url(appraisal, "mine_self_assess"), {"text": "改过的自评"})  # changed, not doubled
    assert Assessment.objects.get(meeting=appraisal, rater=None).text == "改过的自评"
    assert "改过的自评" in c.get(mine_url(appraisal)).content.decode()
    assert c.post(mine_url(appraisal, "mine_self_assess"), {"text": ""}).status_code == 400


def test_peer_rating_shows_what_i_gave_never_what_others_gave(
    client_for, accounts, appraisal, roster
):
    c = client_for(accounts["zhang"])
    html = c.get(mine_url(appraisal)).content.decode()
    listed = {
        int(x) for x in re.findall(r'<li class="list-group-item py-2" data-member="(\d+)"', html)
    }
    assert listed == {roster["wang"].pk, roster["li"].pk}  # the others, not me
    response = c.post(
        mine_url(appraisal, "mine_rate"),
        {f"grade-{roster['wang'].pk}": "excellent", f"grade-{roster['li'].pk}": ""},
    )
    assert response.status_code == 302
    given = Assessment.objects.filter(meeting=appraisal, rater=roster["zhang"])
    assert {(a.member_id, a.grade) for a in given} == {(roster["wang"].pk, "excellent")}

    services.rate_peer(user=accounts["li"], meeting=appraisal, member=roster["wang"], grade="basic")
    html = c.get(mine_url(appraisal)).content.decode()
    assert selected_grade(html, roster["wang"]) == "excellent"  # mine, not li's
    assert selected_grade(html, roster["li"]) == ""
    assert "basic" not in re.sub(r"<option [^>]*>.*?</option>", "", html)  # no tally shown


def test_a_member_cannot_rate_themselves(client_for, accounts, appraisal, roster):
    response = client_for(accounts["zhang"]).post(
        mine_url(appraisal, "mine_rate"),
        {f"grade-{roster['wang'].pk}": "excellent", f"grade-{roster['zhang'].pk}": "excellent"},
    )
    assert response.status_code == 400
    assert 'data-testid="rating-error"' in response.content.decode()
    assert not Assessment.objects.exists()  # all the grades sent, or none


@pytest.mark.parametrize(
    "post",
    [
        {"grade-{wang}": "splendid"},
        {"grade-{zhao}": "excellent"},  # branch B's member is not appraised here
        {"grade-999999999": "excellent"},
        {"grade-99999999999999999999999": "excellent"},
        {},
    ],
)
def test_bad_ratings_are_refused_whole(client_for, accounts, appraisal, roster, post):
    ids = {"wang": roster["wang"].pk, "zhao": roster["zhao"].pk}
    data = {key.format(**ids): value for key, value in post.items()}
    response = client_for(accounts["zhang"]).post(mine_url(appraisal, "mine_rate"), data)
    assert response.status_code == 400
    assert not Assessment.objects.exists()


def test_meetings_that_appraise_nobody_take_no_ratings(client_for, accounts, meeting, roster):
    response = client_for(accounts["zhang"]).post(
        mine_url(meeting, "mine_rate"), {f"grade-{roster['wang'].pk}": "excellent"}
    )
    assert response.status_code == 400
    assert not Assessment.objects.exists()


def test_leave_once_decided_is_not_asked_again(client_for, accounts, people, schedule):
    later = schedule(starts_at=at(2))
    c = client_for(accounts["zhang"])
    c.post(mine_url(later, "mine_leave"), {"reason": "出差"})
    services.decide_leave(
        actor=people["alice"], attendee=attendee(later, accounts["zhang"]), approve=True
    )
    assert 'data-testid="ask-leave"' not in c.get(mine_url(later)).content.decode()
    response = c.post(mine_url(later, "mine_leave"), {"reason": "又出差"})
    assert response.status_code == 409
    mine = attendee(later, accounts["zhang"])
    assert (mine.state, mine.leave_state, mine.leave_reason) == ("leave", "approved", "出差")


def test_a_guest_neither_appraises_nor_is_appraised(client_for, accounts, appraisal, roster):
    Attendee.objects.filter(meeting=appraisal, member=roster["li"]).update(guest=True)
    c = client_for(accounts["li"])
    html = c.get(mine_url(appraisal)).content.decode()
    assert 'data-testid="save-ratings"' not in html and 'data-testid="save-self"' not in html
    assert c.post(mine_url(appraisal, "mine_self_assess"), {"text": "自评"}).status_code == 400
    rate = c.post(mine_url(appraisal, "mine_rate"), {f"grade-{roster['wang'].pk}": "basic"})
    assert rate.status_code == 400
    assert not Assessment.objects.exists()
    zhang = client_for(accounts["zhang"]).get(mine_url(appraisal)).content.decode()
    assert f'data-member="{roster["li"].pk}"' not in zhang  # not among those to rate


def test_a_code_scanned_before_logging_in_stays_good_a_few_minutes(accounts, meeting):
    from tests.conftest import PASSWORD

    c = Client()
    code = services.current_code(meeting)
    scanned = c.get(sign_in_url(meeting, code))
    assert scanned.status_code == 302 and reverse("core:login") in scanned["Location"]
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=2)):
        # the code on the screen changed meanwhile; this browser saw this one while it was good
        logged_in = c.post(scanned["Location"], {"username": "zhang_user", "password": PASSWORD})
        assert logged_in.status_code == 302 and "code=" in logged_in["Location"]
        response = c.post(sign_in_url(meeting), {"code": code})
    assert response.status_code == 302, response.content.decode()[:300]
    assert attendee(meeting, accounts["zhang"]).state == "present"


def test_a_code_seen_long_ago_has_expired(client_for, accounts, meeting):
    c = client_for(accounts["zhang"])
    code = services.current_code(meeting)
    c.get(sign_in_url(meeting, code))
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=6)):
        response = c.post(sign_in_url(meeting), {"code": code})
    assert response.status_code == 400
    assert attendee(meeting, accounts["zhang"]).state == "expected"


def test_an_expired_code_seen_by_this_browser_does_not_count(client_for, accounts, meeting):
    c = client_for(accounts["zhang"])
    old = services.current_code(meeting, timezone.now().timestamp() - 120)
    c.get(sign_in_url(meeting, old))  # already expired when opened: nothing remembered
    response = c.post(sign_in_url(meeting), {"code": old})
    assert response.status_code == 400
