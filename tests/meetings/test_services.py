"""Scheduling, leave, sign-in, attendance, votes, minutes, files and appraisal through the
services, tried as the three people."""

import datetime
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from dangjian.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from dangjian.core.models import AuditEvent, Notification
from dangjian.meetings import selectors, services
from dangjian.meetings.models import Attendee, Meeting, MeetingStatus, MonthTally

from .conftest import at


def fails(call) -> tuple[str, str | None]:
    with pytest.raises(ValidationFailed) as caught:
        call()
    return caught.value.code, caught.value.field


def test_a_meeting_expects_the_branchs_members_and_who_votes(meeting, roster):
    people = {a.name: a for a in meeting.attendees.all()}
    assert set(people) == {"张三", "李四", "王五"}
    assert people["李四"].may_vote is False  # probationary
    assert people["张三"].may_vote and people["王五"].may_vote
    assert AuditEvent.objects.filter(action="meeting.schedule").count() == 1


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"topic": ""}, "required", "topic"),
        ({"ends_at": at(3, 8)}, "ends_before", "ends_at"),
        ({"ends_at": at(8, 14)}, "too_long", "ends_at"),
        ({"starts_at": "tomorrow"}, "required", "starts_at"),
        ({"online_link": "javascript:alert(1)"}, "invalid_link", "online_link"),
        ({"class_hours": "25"}, "invalid_hours", "class_hours"),
        ({"class_hours": "1.25"}, "invalid_hours", "class_hours"),
        ({"activity_type": None}, "required", "activity_type"),
    ],
)
def test_bad_input_names_the_field_and_schedules_nothing(people, tree, types, change, code, field):
    values = {
        "activity_type": types["theme_day"],
        "topic": "主题党日",
        "starts_at": at(3, 9),
        "ends_at": at(3, 11),
    } | change
    assert fails(
        lambda: services.schedule(actor=people["alice"], organization=tree["branch_a"], **values)
    ) == (code, field)
    assert Meeting.objects.count() == 0


def test_a_group_meeting_is_for_party_groups(people, tree, types):
    assert fails(
        lambda: services.schedule(
            actor=people["alice"],
            organization=tree["branch_a"],
            activity_type=types["group_meeting"],
            topic="小组学习",
            starts_at=at(1),
        )
    ) == ("wrong_kind", "activity_type")


def test_three_people(meeting, people):
    with pytest.raises(NotFound):
        services.mark_held(actor=people["bob"], meeting=meeting)  # the sibling branch
    with pytest.raises(NotFound):
        selectors.get_meeting(people["bob"], meeting.pk)
    assert selectors.get_meeting(people["oscar"], meeting.pk) == meeting  # the township
    services.send_notice(actor=people["oscar"], meeting=meeting)


def test_an_auditor_sees_but_may_not_record(meeting, tree, make_user, admin):
    from dangjian.core import services as core

    auditor = make_user("audrey")
    core.assign_role(actor=admin, user=auditor, org=tree["county"], role="auditor")
    assert selectors.get_meeting(auditor, meeting.pk) == meeting
    with pytest.raises(Forbidden):
        services.cancel(actor=auditor, meeting=meeting)


def test_a_meeting_in_the_future_cannot_be_held(people, tree, types):
    later = services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=types["theme_day"],
        topic="主题党日",
        starts_at=at(2),
    )
    assert fails(lambda: services.mark_held(actor=people["alice"], meeting=later)) == (
        "future_meeting",
        "starts_at",
    )
    assert Meeting.objects.get(pk=later.pk).status == MeetingStatus.PLANNED


def test_holding_counts_in_the_tally_and_cancelling_takes_it_back(people, tree, types):
    past = services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=types["committee_meeting"],
        topic="支委会",
        starts_at=at(-3),
    )
    services.mark_held(actor=people["alice"], meeting=past)
    tally = MonthTally.objects.get(organization=tree["branch_a"])
    assert tally.held == 1
    services.cancel(actor=people["alice"], meeting=past)
    tally.refresh_from_db()
    assert tally.held == 0


def test_the_notice_reaches_members_with_an_account(meeting, people, accounts):
    told = services.send_notice(actor=people["alice"], meeting=meeting)
    assert told == 3
    assert Notification.objects.filter(user=accounts["zhang"], kind="meeting").count() == 1
    assert services.send_notice(actor=people["alice"], meeting=meeting) == 0  # once


def test_leave_is_asked_and_decided(people, tree, types, accounts):
    later = services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=types["theme_day"],
        topic="主题党日",
        starts_at=at(2),
    )
    asked = services.ask_leave(user=accounts["zhang"], meeting=later, reason="出差")
    assert asked.leave_state == "asked"
    assert Notification.objects.filter(user=people["alice"], key__contains=":leave:").exists()
    decided = services.decide_leave(actor=people["alice"], attendee=asked, approve=True)
    assert (decided.leave_state, decided.state) == ("approved", "leave")
    with pytest.raises(Conflict):
        services.decide_leave(actor=people["alice"], attendee=decided, approve=False)


def test_someone_not_expected_cannot_ask_leave(meeting, make_user):
    stranger = make_user("stranger")
    with pytest.raises(NotFound):
        services.ask_leave(user=stranger, meeting=meeting, reason="x")


def test_signing_in_with_the_code_on_the_screen(meeting, accounts):
    code = services.current_code(meeting)
    attendee = services.sign_in(user=accounts["zhang"], meeting=meeting, code=code)
    assert attendee.state == "present" and attendee.signed_how == "qr"
    again = services.sign_in(user=accounts["zhang"], meeting=meeting, code=code)  # harmless
    assert again.signed_at == attendee.signed_at
    assert AuditEvent.objects.filter(action="meeting.sign_in").count() == 1


def test_an_old_code_or_another_meetings_code_is_refused(meeting, people, tree, types, accounts):
    now = time.time()
    old = services.current_code(meeting, now - 120)
    assert fails(lambda: services.sign_in(user=accounts["zhang"], meeting=meeting, code=old)) == (
        "code_expired",
        "code",
    )
    other = services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=types["theme_day"],
        topic="主题党日",
        starts_at=at(0, 15),
    )
    assert fails(
        lambda: services.sign_in(
            user=accounts["zhang"], meeting=meeting, code=services.current_code(other)
        )
    ) == ("code_other_meeting", "code")
    forged = services.current_code(meeting)[:-4] + "beef"
    assert fails(
        lambda: services.sign_in(user=accounts["zhang"], meeting=meeting, code=forged)
    ) == ("code_forged", "code")
    assert Attendee.objects.get(meeting=meeting, member__user=accounts["zhang"]).state == "expected"


def test_sign_in_closes_after_the_meeting(people, tree, types, accounts):
    yesterday = services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=types["theme_day"],
        topic="主题党日",
        starts_at=at(-1),
    )
    code = services.current_code(yesterday)
    assert fails(
        lambda: services.sign_in(user=accounts["zhang"], meeting=yesterday, code=code)
    ) == ("code_closed", "code")


def test_attendance_by_hand_and_the_summary(meeting, people, roster):
    ids = {a.name: a.pk for a in meeting.attendees.all()}
    services.set_attendance(
        actor=people["alice"],
        meeting=meeting,
        states={ids["张三"]: "present", ids["王五"]: "present", ids["李四"]: "leave"},
    )
    facts = services.summary(meeting)
    assert facts | {} == facts
    assert (facts["expected"], facts["present"], facts["leave"], facts["absent"]) == (3, 2, 1, 0)
    assert facts["voting_members"] == 2 and facts["voting_present"] == 2 and facts["valid"]


def test_attendance_of_someone_else_is_refused_whole(meeting, people, tree, types):
    other = services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=types["theme_day"],
        topic="主题党日",
        starts_at=at(1),
    )
    mine = meeting.attendees.first()
    stranger = other.attendees.first()
    assert fails(
        lambda: services.set_attendance(
            actor=people["alice"],
            meeting=meeting,
            states={mine.pk: "present", stranger.pk: "present"},
        )
    ) == ("not_expected", "attendance")
    assert not Attendee.objects.filter(state="present").exists()


def test_class_hours_go_to_those_present_when_held(people, tree, types, accounts):
    past = services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=types["lecture"],
        topic="党课",
        starts_at=at(-1),
        lecturer="王书记",
        lecture_title="学习新党章",
    )
    ids = {a.name: a.pk for a in past.attendees.all()}
    services.set_attendance(actor=people["alice"], meeting=past, states={ids["张三"]: "present"})
    services.mark_held(actor=people["alice"], meeting=past)
    assert selectors.my_class_hours(accounts["zhang"], past.starts_at.year) == 2.0
    assert selectors.my_class_hours(accounts["wang"], past.starts_at.year) == 0


@pytest.mark.parametrize(
    ("present", "votes", "valid", "passed"),
    [
        (2, (2, 0, 0), True, True),  # 2 of 2 voters present, 2 yes
        (2, (1, 1, 0), True, False),  # 1 yes is not more than half of 2
        (1, (1, 0, 0), False, False),  # 1 of 2 present: not more than half, invalid
    ],
)
def test_votes_by_domain_rules(meeting, people, present, votes, valid, passed):
    voters = [a.pk for a in meeting.attendees.filter(may_vote=True)]
    services.set_attendance(
        actor=people["alice"],
        meeting=meeting,
        states={pk: "present" for pk in voters[:present]},
    )
    yes, no, abstain = votes
    resolution = services.add_resolution(
        actor=people["alice"],
        meeting=meeting,
        title="接收预备党员",
        yes=yes,
        no=no,
        abstain=abstain,
    )
    assert (resolution.voting_members, resolution.present) == (2, present)
    assert (resolution.valid, resolution.passed) == (valid, passed)


def test_more_votes_than_voters_present_is_refused(meeting, people):
    assert fails(
        lambda: services.add_resolution(
            actor=people["alice"], meeting=meeting, title="决议", yes=3, no=0, abstain=0
        )
    ) == ("too_many_votes", "yes")


def test_minutes_are_sanitised(meeting, people):
    saved = services.save_minutes(
        actor=people["alice"],
        meeting=meeting,
        html='<p onclick="x()">会议<strong>决定</strong></p><script>alert(1)</script><a href="javascript:1">链接</a>',
    )
    assert "<script" not in saved.minutes and "onclick" not in saved.minutes
    assert "href" not in saved.minutes
    assert "<strong>决定</strong>" in saved.minutes


def test_files_are_checked_by_their_content(meeting, people):
    fake = SimpleUploadedFile("纪要.pdf", b"MZ not a pdf", content_type="application/pdf")
    assert fails(
        lambda: services.add_file(actor=people["alice"], meeting=meeting, upload=fake)
    ) == (
        "wrong_type",
        "file",
    )
    real = SimpleUploadedFile("纪要.pdf", b"%PDF-1.4 minutes", content_type="application/pdf")
    stored = services.add_file(actor=people["alice"], meeting=meeting, upload=real)
    assert stored.kind == "document" and stored.name == "纪要.pdf"
    exe = SimpleUploadedFile("photo.jpg", b"MZ\x90\x00", content_type="image/jpeg")
    assert fails(lambda: services.add_file(actor=people["alice"], meeting=meeting, upload=exe)) == (
        "wrong_type",
        "file",
    )


def test_appraisal(people, tree, types, roster, accounts):
    appraisal = services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=types["appraisal"],
        topic="2026年度民主评议党员",
        starts_at=at(-1, 9),
    )
    services.self_assess(user=accounts["zhang"], meeting=appraisal, text="认真履行党员义务")
    services.rate_peer(
        user=accounts["wang"], meeting=appraisal, member=roster["zhang"], grade="excellent"
    )
    services.rate_peer(
        user=accounts["li"], meeting=appraisal, member=roster["zhang"], grade="qualified"
    )
    assert fails(
        lambda: services.rate_peer(
            user=accounts["zhang"], meeting=appraisal, member=roster["zhang"], grade="excellent"
        )
    ) == ("self_rating", "member")
    assert fails(
        lambda: services.rate_peer(
            user=accounts["wang"], meeting=appraisal, member=roster["zhao"], grade="excellent"
        )
    ) == ("not_a_member", "member")
    tallied = selectors.appraisal_tally(appraisal)
    zhang = next(row for row in tallied if row["member"].pk == roster["zhang"].pk)
    assert zhang["counts"] is None and zhang["rated"] == 2  # not counted while people rate
    appraisal = services.mark_held(actor=people["alice"], meeting=appraisal)
    with pytest.raises(Conflict):
        services.rate_peer(
            user=accounts["wang"], meeting=appraisal, member=roster["zhang"], grade="basic"
        )
    tallied = selectors.appraisal_tally(appraisal)
    zhang = next(row for row in tallied if row["member"].pk == roster["zhang"].pk)
    assert zhang["counts"] == {"excellent": 1, "qualified": 1, "basic": 0, "unqualified": 0}
    assert zhang["suggested"] == "excellent" and zhang["self"] == "认真履行党员义务"
    services.conclude(
        actor=people["alice"], meeting=appraisal, member=roster["zhang"], grade="excellent"
    )
    zhang = next(
        r for r in selectors.appraisal_tally(appraisal) if r["member"].pk == roster["zhang"].pk
    )
    assert zhang["conclusion"] == "excellent"


def test_plan_the_year_in_one_step(people, tree):
    made = services.plan_year(
        actor=people["alice"], organization=tree["branch_a"], year=timezone.localdate().year + 1
    )
    codes = sorted(m.activity_type.code for m in made)
    # a branch: 4 general meetings, 12 committee meetings, 4 lectures, 12 theme days, and one
    # each of organisational-life meeting, appraisal and talks
    assert len(made) == 4 + 12 + 4 + 12 + 3
    assert codes.count("committee_meeting") == 12 and "group_meeting" not in codes
    again = services.plan_year(
        actor=people["alice"], organization=tree["branch_a"], year=timezone.localdate().year + 1
    )
    assert again == []  # nothing twice


def test_compliance_and_the_heat_map(people, tree, types):
    year = timezone.localdate().year
    jan = timezone.make_aware(datetime.datetime(year, 1, 10, 9))
    held = services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=types["committee_meeting"],
        topic="支委会",
        starts_at=jan,
    )
    services.mark_held(actor=people["alice"], meeting=held)
    rows = selectors.heatmap(people["oscar"], tree["town"], year, today=datetime.date(year, 2, 15))
    by_code = {r.org.code: r for r in rows}
    assert set(by_code) == {"B01", "B02"}
    a_committee = next(s for t, f, s in by_code["B01"].activities if t.code == "committee_meeting")
    assert a_committee[0].state == "done"
    assert by_code["B01"].months[0] == "overdue"  # other January activities (theme day) not held
    assert by_code["B02"].overdue > by_code["B01"].overdue
    # bob sees only his branch
    assert [r.org.code for r in selectors.heatmap(people["bob"], tree["town"], year)] == ["B02"]


def test_a_local_rule_for_a_subtree(people, tree, types, admin):
    services.set_frequency_rule(
        actor=people["oscar"],
        organization=tree["town"],
        activity_type=types["lecture"],
        frequency="month",
        note="某省规定每月一次党课",
    )
    required = dict((t.code, f) for t, f in selectors.required_activities(tree["branch_a"]))
    assert required["lecture"] == "month"
    elsewhere = dict((t.code, f) for t, f in selectors.required_activities(tree["county"]))
    assert "lecture" not in elsewhere  # a committee holds no lectures by default
    with pytest.raises(NotFound):
        services.set_frequency_rule(
            actor=people["bob"],
            organization=tree["branch_a"],
            activity_type=types["lecture"],
            frequency="year",
        )


def test_no_vote_at_a_cancelled_meeting(meeting, people):
    services.cancel(actor=people["alice"], meeting=meeting)
    with pytest.raises(Conflict):
        services.add_resolution(
            actor=people["alice"], meeting=meeting, title="决议", yes=0, no=0, abstain=0
        )


@pytest.mark.parametrize(
    ("day", "hour", "year_offset", "field"),
    [
        ("x", 14, 1, "day"),
        (29, 14, 1, "day"),
        (15, 24, 1, "hour"),
        (15, "x", 1, "hour"),
        (15, 14, 5, "year"),
        (15, 14, -3, "year"),
    ],
)
def test_plan_year_refuses_bad_input_by_field(people, tree, day, hour, year_offset, field):
    year = timezone.localdate().year + year_offset
    assert (
        fails(
            lambda: services.plan_year(
                actor=people["alice"], organization=tree["branch_a"], year=year, day=day, hour=hour
            )
        )[1]
        == field
    )
    assert Meeting.objects.count() == 0


def test_planning_writes_one_audit_event_per_meeting(people, tree):
    made = services.plan_year(
        actor=people["alice"], organization=tree["branch_a"], year=timezone.localdate().year + 1
    )
    events = AuditEvent.objects.filter(action="meeting.schedule")
    assert events.count() == len(made) and len({e.request_id for e in events}) == 1


def test_a_date_far_away_is_refused_not_a_500(people, tree, types):
    far = timezone.make_aware(datetime.datetime(9999, 12, 31, 23))
    assert fails(
        lambda: services.schedule(
            actor=people["alice"],
            organization=tree["branch_a"],
            activity_type=types["theme_day"],
            topic="x",
            starts_at=far,
        )
    ) == ("out_of_range", "starts_at")


def test_the_recorder_must_record_meetings_there(people, tree, types):
    assert fails(
        lambda: services.schedule(
            actor=people["alice"],
            organization=tree["branch_a"],
            activity_type=types["theme_day"],
            topic="主题党日",
            starts_at=at(2),
            recorder=people["bob"],
        )
    ) == ("not_a_recorder", "recorder")


def test_a_stranger_signing_in_or_asking_leave_learns_nothing(meeting, make_user):
    stranger = make_user("stranger2")
    with pytest.raises(NotFound):
        services.sign_in(user=stranger, meeting=meeting, code="garbage")
    with pytest.raises(NotFound):
        services.ask_leave(user=stranger, meeting=meeting, reason="")


def test_a_committee_meeting_expects_the_committee_only(people, tree, types, roster, accounts):
    from dangjian.core import services as core

    # zhang's account becomes a committee member of branch A; the others stay members
    core.assign_role(
        actor=people["alice"], user=accounts["zhang"], org=tree["branch_a"], role="committee_member"
    )
    committee = services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=types["committee_meeting"],
        topic="支委会：研究党员处分",
        starts_at=at(2),
    )
    assert [a.name for a in committee.attendees.all()] == ["张三"]
    with pytest.raises(NotFound):
        selectors.my_meeting(accounts["wang"], committee.pk)  # a member sees nothing of it


def test_who_is_expected_follows_the_membership_until_the_meeting_is_held(
    people, tree, types, roster
):
    later = services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=types["general_meeting"],
        topic="支部党员大会",
        starts_at=at(2),
    )
    wang = roster["wang"]
    wang.party_probation = True  # put under Party probation after the meeting was planned
    wang.save(update_fields=["party_probation"])
    from dangjian.members.models import Member

    Member.objects.filter(pk=roster["zhang"].pk).update(
        organization=tree["branch_b"], org_path=tree["branch_b"].path
    )  # moved to branch B
    services.send_notice(actor=people["alice"], meeting=later)
    expected = {a.name: a.may_vote for a in later.attendees.all()}
    assert expected == {"李四": False, "王五": False}


def test_a_stale_attendance_page_does_not_undo_a_sign_in(meeting, people, accounts):
    rows = {a.name: a for a in meeting.attendees.all()}
    shown = {a.pk: a.state for a in rows.values()}  # the page as drawn: everyone expected
    services.sign_in(user=accounts["zhang"], meeting=meeting, code=services.current_code(meeting))
    services.set_attendance(
        actor=people["alice"],
        meeting=meeting,
        states={rows["张三"].pk: "absent", rows["王五"].pk: "present"},
        shown=shown,
    )
    now = {a.name: a.state for a in meeting.attendees.all()}
    assert now["张三"] == "present" and now["王五"] == "present"


def test_the_heat_map_reads_the_rules_as_specified(people, tree, types):
    """selectors' fast reading of the tallies agrees with rules.compliance, period by period."""
    from dangjian.meetings import rules

    year = timezone.localdate().year
    held_days = []
    for month, code in ((1, "committee_meeting"), (2, "committee_meeting"), (2, "theme_day")):
        when = timezone.make_aware(datetime.datetime(year, month, 10, 9))
        m = services.schedule(
            actor=people["alice"],
            organization=tree["branch_a"],
            activity_type=types[code],
            topic=code,
            starts_at=when,
        )
        if when < timezone.now():
            services.mark_held(actor=people["alice"], meeting=m)
            held_days.append((code, when.date()))
    today = datetime.date(year, 6, 15)
    found = selectors.compliance(tree["branch_a"], year, today)
    for activity_type, frequency, states in found.activities:
        days = [d for code, d in held_days if code == activity_type.code]
        expected = rules.compliance(frequency, year, days, today, tree["branch_a"].established_on)
        assert [s.state for s in states] == [s.state for s in expected], activity_type.code


def test_a_recorder_who_lost_the_role_does_not_block_other_changes(
    people, tree, types, make_user, admin
):
    from dangjian.core import services as core
    from dangjian.core.models import RoleAssignment

    clerk = make_user("clerk")
    core.assign_role(actor=admin, user=clerk, org=tree["branch_a"], role="committee_member")
    later = services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=types["theme_day"],
        topic="主题党日",
        starts_at=at(3),
        recorder=clerk,
    )
    core.revoke_role(actor=admin, assignment=RoleAssignment.objects.get(user=clerk))
    changed = services.update(actor=people["alice"], meeting=later, place="新会议室")
    assert changed.place == "新会议室" and changed.recorder == clerk
    assert fails(
        lambda: services.update(actor=people["alice"], meeting=later, recorder=people["bob"])
    ) == ("not_a_recorder", "recorder")


def test_an_incoming_mobile_member_is_a_guest_who_never_votes(people, tree, types, roster):
    """DOMAIN §7: a mobile member takes part in the host's organisational life, without a vote
    there; at home they stay expected and keep their vote."""
    from dangjian.transfers import services as transfers

    transfers.register_mobile_out(
        actor=people["bob"],
        member=roster["zhao"],
        host_org=tree["branch_a"],
        since=timezone.localdate() - datetime.timedelta(days=10),
        expected_return=timezone.localdate() + datetime.timedelta(days=60),
    )
    at_host = services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=types["general_meeting"],
        topic="支部党员大会",
        starts_at=at(1),
    )
    guest = at_host.attendees.get(member=roster["zhao"])
    assert guest.guest and not guest.may_vote
    assert services.summary(at_host)["voting_members"] == 2  # 张三 and 王五 only
    at_home = services.schedule(
        actor=people["bob"],
        organization=tree["branch_b"],
        activity_type=types["general_meeting"],
        topic="支部党员大会",
        starts_at=at(1),
    )
    home = at_home.attendees.get(member=roster["zhao"])
    assert not home.guest and home.may_vote
