"""The working-day calendar (工作日历), read as a specification: the pure counting rules, the
calendar read from the database through the cache, the services that change it and its page."""

import datetime
import re
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dangjian.core import services, workdays
from dangjian.core.errors import Forbidden, NotFound, ValidationFailed
from dangjian.core.models import AuditEvent, CalendarDay
from dangjian.core.workdays import CHINA_2026, WorkCalendar, calendar_of, expand

D = datetime.date
SHANGHAI = ZoneInfo("Asia/Shanghai")
CHINA = calendar_of(expand(CHINA_2026))


def brute_force_between(cal: WorkCalendar, a: datetime.date, b: datetime.date) -> int:
    """Working days after a up to b, counted one by one."""
    sign, (low, high) = (1, (a, b)) if a <= b else (-1, (b, a))
    days = (low + datetime.timedelta(days=i) for i in range(1, (high - low).days + 1))
    return sign * sum(1 for d in days if cal.is_working_day(d))


# The pure rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working", "why"),
    [
        (D(2026, 3, 2), True, "an ordinary Monday"),
        (D(2026, 3, 6), True, "an ordinary Friday"),
        (D(2026, 3, 7), False, "an ordinary Saturday"),
        (D(2026, 3, 8), False, "an ordinary Sunday"),
        (D(2026, 10, 1), False, "National Day, a Thursday"),
        (D(2026, 2, 23), False, "the last day of the Spring Festival, a Monday"),
        (D(2026, 1, 3), False, "a holiday on a Saturday"),
        (D(2026, 10, 10), True, "a make-up Saturday"),
        (D(2026, 9, 20), True, "a make-up Sunday"),
        (D(2026, 2, 14), True, "a make-up Saturday before the Spring Festival"),
        (D(2026, 10, 8), True, "the Thursday after the National Day week"),
    ],
)
def test_is_working_day(day, working, why):
    assert CHINA.is_working_day(day) is working, why


@pytest.mark.parametrize(
    ("start", "n", "expected", "why"),
    [
        (D(2026, 3, 2), 1, D(2026, 3, 3), "Monday + 1 is Tuesday"),
        (D(2026, 3, 6), 1, D(2026, 3, 9), "Friday + 1 skips the weekend"),
        (D(2026, 3, 7), 1, D(2026, 3, 9), "from a Saturday, Monday is the first"),
        (D(2026, 3, 2), 5, D(2026, 3, 9), "a week is five working days"),
        (D(2026, 9, 30), 1, D(2026, 10, 8), "across the National Day week"),
        (D(2026, 9, 30), 3, D(2026, 10, 10), "the make-up Saturday counts"),
        (D(2026, 9, 30), 5, D(2026, 10, 13), "five working days across National Day"),
        (D(2026, 9, 18), 1, D(2026, 9, 20), "Friday + 1 is the make-up Sunday"),
        (D(2026, 4, 30), 1, D(2026, 5, 6), "across Labour Day"),
        (D(2026, 2, 13), 1, D(2026, 2, 14), "the make-up Saturday before Spring Festival"),
        (D(2026, 2, 14), 1, D(2026, 2, 24), "across the Spring Festival"),
        (D(2025, 12, 31), 1, D(2026, 1, 4), "across New Year, to the make-up Sunday"),
        (D(2026, 3, 2), 0, D(2026, 3, 2), "n = 0 on a working day: that day"),
        (D(2026, 3, 7), 0, D(2026, 3, 9), "n = 0 on a Saturday: the next Monday"),
        (D(2026, 10, 1), 0, D(2026, 10, 8), "n = 0 on a holiday: the next working day"),
        (D(2026, 10, 10), 0, D(2026, 10, 10), "n = 0 on a make-up Saturday: that day"),
    ],
)
def test_add_working_days(start, n, expected, why):
    assert CHINA.add_working_days(start, n) == expected, why


def test_without_entries_only_weekends_are_off():
    plain = WorkCalendar()
    assert plain.is_working_day(D(2026, 10, 1))
    assert plain.add_working_days(D(2026, 9, 30), 5) == D(2026, 10, 7)
    assert plain.working_days_between(D(2026, 9, 30), D(2026, 10, 7)) == 5


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (D(2026, 3, 2), D(2026, 3, 2), 0),
        (D(2026, 3, 6), D(2026, 3, 8), 0),  # Friday to Sunday: only the weekend after Friday
        (D(2026, 3, 6), D(2026, 3, 9), 1),
        (D(2026, 9, 30), D(2026, 10, 13), 5),
        (D(2026, 10, 13), D(2026, 9, 30), -5),
        (D(2026, 9, 30), D(2026, 10, 7), 0),  # the whole National Day week is off
        # After Friday the 13th: the make-up Saturday the 14th, nine days off (15th to 23rd),
        # Tuesday the 24th to Friday the 27th, and the make-up Saturday the 28th.
        (D(2026, 2, 13), D(2026, 2, 28), 1 + 4 + 1),
    ],
)
def test_working_days_between(a, b, expected):
    assert CHINA.working_days_between(a, b) == expected
    assert brute_force_between(CHINA, a, b) == expected


def test_counting_and_adding_agree_over_the_whole_year():
    day = D(2025, 12, 20)
    while day <= D(2027, 1, 10):
        for n in (0, 1, 2, 5, 15, 20):
            end = CHINA.add_working_days(day, n)
            assert CHINA.is_working_day(end)
            # n = 0 moves a day off to the next working day, which then counts as one.
            counted = n if n or end == day else 1
            assert CHINA.working_days_between(day, end) == counted
            assert brute_force_between(CHINA, day, end) == CHINA.working_days_between(day, end)
        day += datetime.timedelta(days=1)


def test_nonsense_is_refused():
    with pytest.raises(ValueError):
        CHINA.add_working_days(D(2026, 3, 2), -1)
    with pytest.raises(ValueError):
        WorkCalendar(holidays=frozenset({D(2026, 3, 7)}), workdays=frozenset({D(2026, 3, 7)}))


def test_the_2026_schedule():
    days = expand(CHINA_2026)
    holidays = [d for d, kind, _name in days if kind == workdays.HOLIDAY]
    made_up = [d for d, kind, _name in days if kind == workdays.WORKDAY]
    assert len(holidays) == 3 + 9 + 3 + 5 + 3 + 3 + 7
    assert made_up == [D(2026, 1, 4), D(2026, 2, 14), D(2026, 2, 28), D(2026, 5, 9)] + [
        D(2026, 9, 20),
        D(2026, 10, 10),
    ]
    assert all(d.weekday() >= 5 for d in made_up)
    assert len({d for d, _k, _n in days}) == len(days)
    assert ("2026-10-01", "国庆节") in {(d.isoformat(), name) for d, _k, name in days}


# From the database, through the cache --------------------------------------------------------


@pytest.fixture
def calendar_2026(db):
    workdays.load_defaults()


def test_the_database_calendar_answers_like_the_pure_one(calendar_2026):
    assert workdays.add_working_days(D(2026, 9, 30), 5) == D(2026, 10, 13)
    assert workdays.add_working_days(D(2026, 10, 1), 0) == D(2026, 10, 8)
    assert workdays.is_working_day(D(2026, 10, 10))
    assert not workdays.is_working_day(D(2026, 10, 9 - 3))
    assert workdays.working_days_between(D(2026, 10, 13), D(2026, 9, 30)) == -5


def test_deadline_is_the_end_of_the_working_day_in_shanghai(calendar_2026):
    received = datetime.datetime(2026, 9, 30, 15, 0, tzinfo=SHANGHAI)
    due = workdays.deadline(received, 5)
    assert due == datetime.datetime(2026, 10, 13, 23, 59, 59, tzinfo=SHANGHAI)
    assert due.utcoffset() == datetime.timedelta(hours=8)
    # 17:00 UTC on 30 September is 01:00 on 1 October in Shanghai: a holiday.
    late_evening_utc = datetime.datetime(2026, 9, 30, 17, 0, tzinfo=datetime.UTC)
    assert workdays.deadline(late_evening_utc, 0).date() == D(2026, 10, 8)
    assert workdays.deadline(D(2026, 9, 30), 0) == datetime.datetime(
        2026, 9, 30, 23, 59, 59, tzinfo=SHANGHAI
    )
    with pytest.raises(ValueError):
        workdays.deadline(datetime.datetime(2026, 9, 30, 15, 0), 5)


def test_a_deadline_into_next_year_reads_next_year(calendar_2026, admin):
    services.set_calendar_day(actor=admin, day=D(2027, 1, 4), kind="holiday", name="测试")
    # 31 Dec 2026 is a Thursday: Friday 1 Jan 2027, then Monday 4 Jan is off.
    assert workdays.add_working_days(D(2026, 12, 31), 2) == D(2027, 1, 5)
    expected = calendar_of(
        [*expand(CHINA_2026), (D(2027, 1, 4), workdays.HOLIDAY)]
    ).add_working_days(D(2026, 12, 1), 40)
    assert workdays.add_working_days(D(2026, 12, 1), 40) == expected


def test_the_cache_answers_until_the_calendar_changes(calendar_2026, admin):
    with CaptureQueriesContext(connection) as first:
        assert workdays.is_working_day(D(2026, 10, 8))
    assert len(first.captured_queries) == 2  # the version, the year's days
    with CaptureQueriesContext(connection) as again:
        assert workdays.is_working_day(D(2026, 10, 8))
    assert len(again.captured_queries) == 1  # the version only

    version = workdays.calendar_version()
    services.set_calendar_day(actor=admin, day=D(2026, 10, 8), kind="holiday", name="延长")
    assert workdays.calendar_version() != version
    assert not workdays.is_working_day(D(2026, 10, 8))  # seen at once
    assert workdays.add_working_days(D(2026, 9, 30), 1) == D(2026, 10, 9)

    version = workdays.calendar_version()
    services.set_calendar_day(actor=admin, day=D(2026, 10, 8), kind="holiday", name="改名")
    assert workdays.calendar_version() != version

    services.remove_calendar_day(actor=admin, day=D(2026, 10, 8))
    assert workdays.is_working_day(D(2026, 10, 8))


def test_loading_the_defaults_keeps_what_administrators_entered(db, admin):
    services.set_calendar_day(actor=admin, day=D(2026, 10, 7), kind="holiday", name="自定")
    added = workdays.load_defaults()
    assert added == len(expand(CHINA_2026)) - 1
    assert CalendarDay.objects.get(date=D(2026, 10, 7)).name == "自定"
    assert workdays.load_defaults() == 0


# Services ------------------------------------------------------------------------------------


@pytest.fixture
def carol(make_user, admin, tree):
    """Organisation administrator of the county (a top-level organisation)."""
    user = make_user("carol", display_name="陈可")
    services.assign_role(actor=admin, user=user, org=tree["county"], role="org_admin")
    return user


def state():
    return (
        sorted(CalendarDay.objects.values_list("date", "kind", "name", "note")),
        AuditEvent.objects.count(),
    )


@pytest.mark.parametrize("who", ["alice", "bob", "oscar"])
def test_only_platform_administrators_change_the_calendar(people, admin, who):
    services.set_calendar_day(actor=admin, day=D(2026, 10, 1), kind="holiday", name="国庆节")
    before = state()
    with pytest.raises(Forbidden):
        services.set_calendar_day(actor=people[who], day=D(2026, 10, 8), kind="holiday")
    with pytest.raises(Forbidden):
        services.remove_calendar_day(actor=people[who], day=D(2026, 10, 1))
    assert state() == before


def test_a_county_administrator_and_the_superuser_may(carol, admin):
    services.set_calendar_day(actor=carol, day=D(2026, 10, 1), kind="holiday")
    services.set_calendar_day(actor=admin, day=D(2026, 10, 10), kind="workday")
    assert CalendarDay.objects.count() == 2


def test_setting_and_removing_record_audit_events(carol):
    entry = services.set_calendar_day(
        actor=carol, day=D(2026, 10, 1), kind="holiday", name=" 国庆节 ", note="法定"
    )
    assert (entry.name, entry.note) == ("国庆节", "法定")
    created = AuditEvent.objects.get(action="calendar.set")
    assert created.user == carol
    assert created.object_type == "core.calendarday"
    assert created.before is None
    assert created.after == {
        "date": "2026-10-01",
        "kind": "holiday",
        "name": "国庆节",
        "note": "法定",
    }

    services.set_calendar_day(actor=carol, day=D(2026, 10, 1), kind="holiday", name="国庆")
    changed = AuditEvent.objects.filter(action="calendar.set").order_by("-id").first()
    assert (changed.before, changed.after) == (
        {"name": "国庆节", "note": "法定"},
        {"name": "国庆", "note": ""},
    )

    count = AuditEvent.objects.count()
    services.set_calendar_day(actor=carol, day="2026-10-01", kind="holiday", name="国庆")
    assert AuditEvent.objects.count() == count  # nothing changed, nothing recorded

    services.remove_calendar_day(actor=carol, day=D(2026, 10, 1))
    removed = AuditEvent.objects.get(action="calendar.remove")
    assert removed.before["date"] == "2026-10-01"
    assert removed.object_id == str(entry.pk)
    assert not CalendarDay.objects.exists()


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"day": "2026-02-30"}, "day"),
        ({"day": "next Monday"}, "day"),
        ({"day": 20261001}, "day"),
        ({"day": None}, "day"),
        ({"day": datetime.datetime(2026, 10, 1, 9, 0, tzinfo=SHANGHAI)}, "day"),
        ({"day": D(3026, 10, 1)}, "day"),
        ({"kind": "vacation"}, "kind"),
        ({"kind": ""}, "kind"),
        ({"kind": "workday", "day": D(2026, 10, 8)}, "kind"),  # a Thursday: worked anyway
        ({"name": "节" * 33}, "name"),
        ({"name": "国庆\x00节"}, "name"),
        ({"name": "国庆\n节"}, "name"),
        ({"note": "备注\x07"}, "note"),
        ({"note": "注" * 201}, "note"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(carol, values, field):
    before = state()
    arguments = {"day": D(2026, 10, 1), "kind": "holiday", "name": "", "note": ""} | values
    with pytest.raises(ValidationFailed) as caught:
        services.set_calendar_day(actor=carol, **arguments)
    assert caught.value.field == field
    assert state() == before


def test_removing_a_day_not_in_the_calendar(carol):
    with pytest.raises(NotFound) as caught:
        services.remove_calendar_day(actor=carol, day=D(2026, 10, 1))
    assert caught.value.field == "day"
    with pytest.raises(ValidationFailed) as caught:
        services.remove_calendar_day(actor=carol, day="2026-13-01")
    assert caught.value.field == "day"


# The page ------------------------------------------------------------------------------------

URL_2026 = "/calendar/2026/"


def test_the_urls():
    assert reverse("core:calendar") == "/calendar/"
    assert reverse("core:calendar_year", args=[2026]) == URL_2026
    assert reverse("core:calendar_set") == "/calendar/days/"
    assert reverse("core:calendar_remove") == "/calendar/days/remove/"


@pytest.mark.parametrize("who", ["alice", "bob", "oscar", "carol", "admin"])
def test_everyone_may_look(calendar_2026, people, carol, admin, client_for, who):
    user = {**people, "carol": carol, "admin": admin}[who]
    response = client_for(user).get(URL_2026)
    assert response.status_code == 200
    page = response.content.decode()
    # (" dj-today" follows on the day itself)
    assert re.search(r'class="dj-holiday[^"]*" data-day="2026-10-01" data-working="0"', page)
    assert re.search(r'class="dj-workday[^"]*" data-day="2026-10-10" data-working="1"', page)
    assert 'data-day="2026-10-08" data-working="1"' in page
    assert 'data-testid="calendar-entries"' in page
    manages = who in ("carol", "admin")
    assert ('data-testid="calendar-form"' in page) is manages
    assert (reverse("core:calendar_remove") in page) is manages


def test_the_current_year_and_years_out_of_range(people, client_for):
    c = client_for(people["alice"])
    assert c.get("/calendar/").status_code == 200
    assert c.get("/calendar/1989/").status_code == 404
    assert c.get("/calendar/2101/").status_code == 404
    assert 'data-testid="no-holidays"' in c.get("/calendar/2030/").content.decode()


@pytest.mark.parametrize("who", ["alice", "bob", "oscar"])
def test_others_cannot_change_it_through_the_page(calendar_2026, people, client_for, who):
    c = client_for(people[who])
    before = state()
    set_response = c.post(
        reverse("core:calendar_set"), {"day": "2026-10-08", "kind": "holiday", "name": "x"}
    )
    remove_response = c.post(reverse("core:calendar_remove"), {"day": "2026-10-01"})
    assert (set_response.status_code, remove_response.status_code) == (404, 404)
    assert state() == before


def test_an_administrator_changes_it_through_the_page(calendar_2026, carol, client_for):
    c = client_for(carol)
    response = c.post(
        reverse("core:calendar_set"),
        {"day": "2026-10-08", "kind": "holiday", "name": "延长", "note": ""},
    )
    assert response.status_code == 302
    assert response.url == URL_2026
    assert CalendarDay.objects.get(date=D(2026, 10, 8)).name == "延长"

    response = c.post(reverse("core:calendar_remove"), {"day": "2026-10-08"})
    assert response.status_code == 302
    assert not CalendarDay.objects.filter(date=D(2026, 10, 8)).exists()

    response = c.post(reverse("core:calendar_remove"), {"day": "2026-10-08"})
    assert response.status_code == 302  # back to the calendar with a message
    assert response.url == "/calendar/"


def test_bad_input_on_the_page_is_shown_at_its_field(calendar_2026, carol, client_for):
    c = client_for(carol)
    before = state()
    response = c.post(
        reverse("core:calendar_set"),
        {"day": "2026-10-08", "kind": "workday", "name": "", "note": ""},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="id_kind" x-ref="kind" class="form-select form-select-sm is-invalid"' in page
    response = c.post(
        reverse("core:calendar_set"), {"day": "2026-10-08", "kind": "holiday", "name": "a\x01b"}
    )
    assert response.status_code == 200
    assert 'id="id_name" x-ref="name" class="form-control form-control-sm is-invalid"' in (
        response.content.decode()
    )
    response = c.post(reverse("core:calendar_set"), {"day": "30/02/2026", "kind": "holiday"})
    assert response.status_code == 200
    assert state() == before


@pytest.mark.parametrize(
    "name", ["core:calendar", "core:calendar_year", "core:calendar_set", "core:calendar_remove"]
)
def test_anonymous_is_sent_to_login(client, db, name):
    url = reverse(name, args=[2026] if name == "core:calendar_year" else [])
    for method in (client.get, client.post):
        response = method(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("core:login"))


@pytest.mark.parametrize("who", ["alice", "carol"])
def test_the_page_costs_the_same_queries_however_full_the_year(
    db, people, carol, admin, client_for, who
):
    c = client_for({**people, "carol": carol}[who])
    c.get(URL_2026)  # warm up: session, content types

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert c.get(URL_2026).status_code == 200
        return len(captured.captured_queries)

    empty = count()
    workdays.load_defaults()
    assert CalendarDay.objects.count() > 30
    assert count() == empty


def test_seeding_loads_the_2026_holidays(db):
    from dangjian.core import seeding

    seeding.seed(members=20, orgs=6, seed=3, demo_accounts=False)
    assert CalendarDay.objects.count() == len(expand(CHINA_2026))
    assert CalendarDay.objects.get(date=D(2026, 10, 10)).kind == "workday"
