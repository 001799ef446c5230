"""The compliance pages (/meetings/compliance/): a branch's activities period by period with what
is due next, a committee's heat map of its branches, tried by alice (secretary of branch A),
oscar (administrator of the township above A and B) and bob (secretary of B). The clock stands
at 15 June 2026: January to May have ended, June and the second quarter run."""

import datetime
import json
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from dangjian.core import services as core_services
from dangjian.meetings import services

URL = reverse("meetings:compliance")
NOW = datetime.datetime(2026, 6, 15, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=True):
        yield NOW.date()


def url(org=None, year=2026, **extra) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"org": org.pk if org else "", **extra}.items())
    return f"{URL}?{query}&year={year}"


def hold(actor, org, activity_type, day, topic="按时召开"):
    meeting = services.schedule(
        actor=actor,
        organization=org,
        activity_type=activity_type,
        topic=topic,
        starts_at=datetime.datetime(day.year, day.month, day.day, 9, tzinfo=NOW.tzinfo),
    )
    return services.mark_held(actor=actor, meeting=meeting)


def text(response) -> str:
    return response.content.decode()


@pytest.mark.django_db
def test_a_secretary_opens_on_her_branch(clock, people, tree, types, client_for):
    held = hold(
        people["alice"], tree["branch_a"], types["committee_meeting"], datetime.date(2026, 5, 12)
    )
    response = client_for(people["alice"]).get(URL)
    assert response.status_code == 200
    assert response.context["org"] == tree["branch_a"]
    own = response.context["own"]
    committee = next(a for a in own["activities"] if a["type"].code == "committee_meeting")
    may = committee["periods"][4]
    assert may["look"]["state"] == "done" and may["held"] == 1
    assert may["meetings"] == [held]
    assert [p["look"]["state"] for p in committee["periods"]][:6] == ["overdue"] * 4 + [
        "done",
        "due",
    ]
    with translation.override("zh-hans"):  # the page's language
        expected = gettext("Branch work regulations (%(version)s)") % {"version": "2018"}
        assert committee["source"]["text"] == expected
    page = text(response)
    assert reverse("meetings:detail", args=[held.pk]) in page
    assert 'data-testid="heatmap"' not in page  # a branch has no map of branches
    # what is due next: the periods running now, the soonest end first
    due = [(p["activity"], p["period"].end) for p in own["due_next"]]
    assert due[0][1] == datetime.date(2026, 6, 30)
    assert due[-1][1] == datetime.date(2026, 12, 31)
    with translation.override("zh-hans"):  # the page's language
        names = {gettext("Branch committee meeting"), gettext("Theme Party day")}
    assert {a for a, _end in due} >= names
    assert page.index('data-testid="due-next"') < page.index('data-testid="activity-')


@pytest.mark.django_db
def test_a_planned_meeting_shows_under_what_is_due(clock, people, tree, types, client_for):
    planned = services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=types["theme_day"],
        topic="主题党日",
        starts_at=NOW + datetime.timedelta(days=3),
    )
    own = client_for(people["alice"]).get(URL).context["own"]
    with translation.override("zh-hans"):  # the page's language
        theme = next(p for p in own["due_next"] if p["activity"] == gettext("Theme Party day"))
    assert theme["planned"] == [planned] and theme["days_left"] == 15


@pytest.mark.django_db
def test_where_a_rule_comes_from(clock, people, tree, types, client_for):
    services.set_frequency_rule(
        actor=people["oscar"],
        organization=tree["town"],
        activity_type=types["lecture"],
        frequency="month",
        note="某省规定每月一次党课",
    )
    response = client_for(people["alice"]).get(url(tree["branch_a"]))
    lecture = next(a for a in response.context["own"]["activities"] if a["type"].code == "lecture")
    assert len(lecture["periods"]) == 12
    assert lecture["source"]["local"]
    assert tree["town"].name in lecture["source"]["text"]
    assert "某省规定每月一次党课" in text(response)


@pytest.mark.django_db
def test_the_township_sees_the_heat_map_of_its_branches(clock, people, tree, types, client_for):
    hold(people["alice"], tree["branch_a"], types["committee_meeting"], datetime.date(2026, 1, 20))
    response = client_for(people["oscar"]).get(URL)
    assert response.status_code == 200
    assert response.context["org"] == tree["town"]
    heat = response.context["heat"]
    assert [r["org"].code for r in heat["rows"]] == ["B01", "B02"]
    a, b = heat["rows"]
    assert a["url"] == url(tree["branch_a"])  # drill into the branch
    # the months gone are overdue; June, and the months after it while the year's runs, due
    assert [c["state"] for c in b["cells"]] == ["overdue"] * 5 + ["due"] * 7
    assert b["overdue"] > a["overdue"] > 0
    assert heat["overdue_count"] == 2
    chart = json.loads(_json(response, "heat-data"))
    assert [s["state"] for s in chart["series"]] == ["done", "due", "overdue"]
    assert chart["series"][2]["data"][:6] == [2, 2, 2, 2, 2, 0]
    assert chart["series"][1]["data"][5] == 2
    page = text(response)
    assert "vendor/echarts.min.js" in page
    assert 'data-testid="overdue-list"' in page
    assert page.count('data-testid="heat-row"') == 2
    assert "text-bg-danger" in page and "text-bg-warning" in page


def _json(response, element_id: str) -> str:
    page = text(response)
    start = page.index(f'id="{element_id}"')
    start = page.index(">", start) + 1
    return page[start : page.index("</script>", start)]


@pytest.mark.django_db
def test_only_overdue_and_pages(clock, people, tree, types, admin, client_for, settings):
    settings.PAGE_SIZE = 10
    for n in range(3, 15):
        core_services.create_organization(
            actor=admin, parent=tree["town"], code=f"B{n:02d}", name=f"第{n}支部", kind="branch"
        )
    for code in ("committee_meeting", "theme_day"):
        for month in range(1, 6):
            hold(people["alice"], tree["branch_a"], types[code], datetime.date(2026, month, 10))
    for code in ("general_meeting", "lecture"):
        hold(people["alice"], tree["branch_a"], types[code], datetime.date(2026, 3, 10))
    client = client_for(people["oscar"])
    first = client.get(url(tree["town"]))
    heat = first.context["heat"]
    assert heat["total"] == 14 and len(heat["rows"]) == 10
    assert 'data-testid="pager"' in text(first)
    second = client.get(url(tree["town"], page=2))
    assert [r["org"].code for r in second.context["heat"]["rows"]] == [
        f"B{n:02d}" for n in range(11, 15)
    ]
    overdue = client.get(url(tree["town"], overdue=1)).context["heat"]
    assert overdue["only_overdue"] and overdue["shown"] == 13
    assert "B01" not in [r["org"].code for r in overdue["rows"]]
    assert "overdue=1" in overdue["page_query"]
    # a page past the end shows the last one
    assert client.get(url(tree["town"], page=99)).context["heat"]["page"].number == 2


@pytest.mark.django_db
def test_a_committee_drills_into_the_committees_below(
    clock, people, tree, types, client_for, admin
):
    response = client_for(admin).get(url(tree["county"]))
    heat = response.context["heat"]
    assert [r["org"].code for r in heat["rows"]] == ["B01", "B02"]
    assert [r["under"].code for r in heat["rows"]] == ["T01", "T01"]
    assert heat["rows"][0]["under_url"] == url(tree["town"])
    assert [(c["org"].code, c["branches"], c["overdue"]) for c in heat["below"]] == [("T01", 2, 2)]
    assert url(tree["town"]).replace("&", "&amp;") in text(response)
    # the breadcrumbs lead back up
    town = client_for(admin).get(url(tree["town"]))
    assert [a["org"].code for a in town.context["ancestors"]] == ["C01"]


@pytest.mark.django_db
def test_a_general_branch_shows_its_own_activities_and_its_branches(
    clock, people, tree, client_for, admin
):
    general = core_services.create_organization(
        actor=admin, parent=tree["town"], code="Z01", name="机关党总支", kind="general_branch"
    )
    core_services.create_organization(
        actor=admin, parent=general, code="Z02", name="第一支部", kind="branch"
    )
    response = client_for(people["oscar"]).get(url(general))
    assert {a["type"].code for a in response.context["own"]["activities"]} == {
        "general_meeting",
        "committee_meeting",
    }
    assert [r["org"].code for r in response.context["heat"]["rows"]] == ["Z02"]


@pytest.mark.django_db
def test_outside_the_scope_is_not_found(clock, people, tree, client_for, make_user, client):
    alice = client_for(people["alice"])
    assert alice.get(url(tree["branch_b"])).status_code == 404
    assert alice.get(url(tree["town"])).status_code == 404
    assert client_for(people["bob"]).get(url(tree["branch_a"])).status_code == 404
    assert client_for(people["oscar"]).get(url(tree["county"])).status_code == 404
    assert client_for(people["oscar"]).get(url(tree["other_town"])).status_code == 404
    for junk in ("abc", "-1", "99999999999999999999", "1.5"):
        assert alice.get(f"{URL}?org={junk}").status_code == 404
    # no role, no page; no login, the login page
    assert client_for(make_user("nobody")).get(URL).status_code == 404
    assert client.get(URL).status_code == 302


@pytest.mark.django_db
def test_a_bad_year_is_this_year(clock, people, tree, client_for):
    alice = client_for(people["alice"])
    for junk in ("abc", "1800", "3000", "２０２６", ""):
        assert alice.get(f"{URL}?year={junk}").context["year"] == 2026
    past = alice.get(f"{URL}?year=2025").context["own"]
    assert past["due_next"] == [] and all(
        p["look"]["state"] == "overdue" for a in past["activities"] for p in a["periods"]
    )


@pytest.mark.django_db
def test_the_number_of_queries_does_not_grow_with_the_branches(
    clock, people, tree, types, admin, client_for, make_user
):
    clients = {"oscar": client_for(people["oscar"]), "admin": client_for(admin)}

    def queries(address, who="oscar"):
        client = clients[who]
        client.get(address)  # the session and roles are warm, as for any later request
        with CaptureQueriesContext(connection) as captured:
            response = client.get(address)
        assert response.status_code == 200
        return len(captured)

    few = queries(url(tree["town"])), queries(url(tree["county"]), "admin")
    sub = core_services.create_organization(
        actor=admin, parent=tree["town"], code="T09", name="下级党委", kind="committee"
    )
    for n in range(3, 12):
        branch = core_services.create_organization(
            actor=admin,
            parent=tree["town"] if n % 2 else sub,
            code=f"B{n:02d}",
            name=f"第{n}支部",
            kind="branch",
        )
        user = make_user(f"s{n}")
        core_services.assign_role(actor=admin, user=user, org=branch, role="secretary")
        services.schedule(
            actor=user,
            organization=branch,
            activity_type=types["theme_day"],
            topic="主题党日",
            starts_at=NOW + datetime.timedelta(days=2),
        )
        hold(user, branch, types["committee_meeting"], datetime.date(2026, 4, 2))
    many = queries(url(tree["town"])), queries(url(tree["county"]), "admin")
    assert many == few
    assert queries(url(tree["town"], overdue=1)) == few[0]


@pytest.mark.django_db
def test_a_branch_dissolved_in_the_year_owes_nothing_after(clock, people, tree, admin, client_for):
    core_services.dissolve_organization(
        actor=admin, org=tree["branch_b"], on=datetime.date(2026, 3, 20)
    )
    heat = client_for(admin).get(url(tree["town"])).context["heat"]
    b = next(r for r in heat["rows"] if r["org"].code == "B02")
    # January and February ended without; March, the quarter, the half and the year had not
    # ended on the day: nothing of those was required of it.
    assert [c["state"] for c in b["cells"]] == ["overdue"] * 2 + ["not_required"] * 10
    assert b["overdue"] == 4 and b["required"] == 4
