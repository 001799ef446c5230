"""党员队伍结构: exact figures for the roster, bands at their edges, a fixed number of queries,
the page, the spreadsheet and the API, for alice (inside), oscar (above) and bob (sibling)."""

import datetime
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from dangjian.core import services as core_services
from dangjian.core.models import User
from dangjian.members import services as member_services
from dangjian.members import structure

pytestmark = pytest.mark.django_db

API = "/api/v1/member-exports/structure"
DAY = datetime.date(2026, 6, 30)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def tables(user, org, today=DAY) -> dict[str, list[tuple[str, int]]]:
    return {t.key: t.rows for t in structure.figures(user, org, today)}


def joined_years(found: dict) -> dict[str, int]:
    return {year: n for year, n in found["joined"] if n}


def test_figures_for_the_township(people, roster, tree):
    found = tables(people["oscar"], tree["town"])
    assert found["sex"] == [("男", 3), ("女", 2)]
    assert found["age"] == [
        ("≤30", 1),  # 钱七 1995-12-01: 30
        ("31–40", 1),  # 李四 35
        ("41–50", 2),  # 张三 41, 赵六 48 (birthday today)
        ("51–60", 0),
        ("61–70", 1),  # 王五 64
        (">70", 0),
    ]
    assert found["education"] == [("Not recorded", 5)]
    assert found["ethnicity"] == [("Han", 4), ("Minorities", 1)]
    assert found["minorities"] == [("回族", 1)]
    assert found["party_years"] == [
        ("<5", 0),
        ("5–9", 1),  # 钱七 full 2019-07-01: 6
        ("10–19", 3),  # full 2006-07-01: 19 on 2026-06-30
        ("20–29", 0),
        ("30–49", 0),
        ("≥50", 0),
        ("Probationary (no Party years yet)", 1),
    ]
    assert found["category"] == [("正式党员", 4), ("预备党员", 1)]
    assert found["job_category"] == [("Not recorded", 5)]
    assert [y for y, _n in found["joined"]] == [str(y) for y in range(2007, 2027)]
    assert joined_years(found) == {"2018": 1, "2025": 1}  # joined 2005: older than 20 years


def test_bands_move_on_birthdays_and_anniversaries(people, roster, tree):
    later = tables(people["oscar"], tree["town"], datetime.date(2026, 12, 1))
    assert dict(later["age"])["≤30"] == 0 and dict(later["age"])["31–40"] == 2
    anniversary = tables(people["oscar"], tree["town"], datetime.date(2026, 7, 1))
    years = dict(anniversary["party_years"])
    assert years["10–19"] == 0 and years["20–29"] == 3 and years["5–9"] == 1


def test_codes_minorities_and_inactive_members(people, roster, tree, make_member, admin):
    a = tree["branch_a"]
    make_member(a, "甲", ethnicity="02", education="21", job_category="04")
    make_member(a, "乙", ethnicity="02", education="大专", job_category="工人")
    make_member(a, "丙", ethnicity="08", education="21")
    gone = make_member(a, "丁", ethnicity="04", education="11")
    member_services.record_event(actor=admin, member=gone, kind="deceased", on=DAY)
    found = tables(people["alice"], a)
    assert found["minorities"] == [("蒙古族", 2), ("回族", 1), ("壮族", 1)]
    assert found["ethnicity"] == [("Han", 2), ("Minorities", 4)]
    assert found["education"] == [("大学本科", 2), ("大学专科", 1), ("Not recorded", 3)]
    assert found["job_category"] == [("工人", 1), ("专业技术人员", 1), ("Not recorded", 4)]
    assert sum(n for _s, n in found["sex"]) == 6  # 丁 is not an active member


def test_scope(people, roster, tree):
    assert tables(people["alice"], tree["branch_a"])["sex"] == [("男", 2), ("女", 1)]
    assert tables(people["bob"], tree["branch_b"])["sex"] == [("男", 1), ("女", 1)]
    # even asked for the town, bob counts only what he may see
    assert tables(people["bob"], tree["town"])["sex"] == [("男", 1), ("女", 1)]


def test_queries_do_not_grow_with_members(people, roster, tree, make_member):
    def count():
        oscar = User.objects.get(pk=people["oscar"].pk)  # roles not yet loaded, as per request
        with CaptureQueriesContext(connection) as queries:
            structure.figures(oscar, tree["town"], DAY)
        return len(queries)

    before = count()
    for i in range(12):
        make_member(
            tree["branch_b"] if i % 2 else tree["branch_a"],
            f"新{i}",
            birth=f"19{50 + i * 3}-02-03",
            joined_on=f"{2008 + i}-07-01",
            ethnicity=f"{2 + i:02d}",
            education="21" if i % 3 else "14",
        )
    after = count()
    assert before == after <= 10
    assert sum(n for _s, n in tables(people["oscar"], tree["town"])["sex"]) == 17


# Page ----------------------------------------------------------------------------------------


def test_page_for_three_people(people, roster, tree, client_for):
    url = reverse("members:charts")
    a = f"?org={tree['branch_a'].pk}"
    for name in ("alice", "oscar"):
        page = client_for(people[name]).get(url + a)
        assert page.status_code == 200, name
        html = page.content.decode()
        assert 'data-testid="table-age"' in html and "structure-data" in html
        assert "东街社区党支部" in html and "回族" in html
    bob = client_for(people["bob"])
    assert bob.get(url + a).status_code == 404
    assert bob.get(reverse("members:charts_xlsx") + a).status_code == 404
    page = bob.get(url)  # his own branch by default
    html = page.content.decode()
    assert page.status_code == 200 and "西街社区党支部" in html and "回族" not in html
    assert bob.get(url + "?org=abc").status_code == 404
    assert bob.get(url + "?org=99999999").status_code == 404


def test_page_picker_finds_and_lists_organisations(people, roster, tree, client_for):
    oscar = client_for(people["oscar"])
    page = oscar.get(reverse("members:charts") + "?q=西街")
    html = page.content.decode()
    assert page.status_code == 200
    assert f'href="?org={tree["branch_b"].pk}"' in html  # found, and among the children
    alice = client_for(people["alice"])
    html = alice.get(reverse("members:charts") + "?q=西街").content.decode()
    assert f'href="?org={tree["branch_b"].pk}"' not in html


def test_someone_without_member_scope_gets_404(people, tree, make_user, admin, client_for):
    plain = make_user("mia")
    core_services.assign_role(actor=admin, user=plain, org=tree["branch_a"], role="member")
    assert client_for(plain).get(reverse("members:charts")).status_code == 404


def test_all_tables_to_xlsx(people, roster, tree, client_for):
    response = client_for(people["oscar"]).get(
        reverse("members:charts_xlsx") + f"?org={tree['town'].pk}", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = [r for r in sheet.iter_rows(values_only=True)]
    assert "城关镇党委" in rows[0][0]
    as_dict = {}
    title = None
    for row in rows:
        if row and row[1] == "Members":
            title = row[0]
        elif title and row and row[0] and isinstance(row[1], int):
            as_dict[(title, row[0])] = row[1]
    assert as_dict[("Sex", "男")] == 3 and as_dict[("Sex", "女")] == 2
    assert as_dict[("Sex", "Total")] == 5
    assert as_dict[("Minority groups", "回族")] == 1
    assert as_dict[("Category", "预备党员")] == 1


# API -----------------------------------------------------------------------------------------


def _api(user):
    from django.test import Client

    _token, secret = core_services.create_api_token(actor=user, name="t", days=1)
    return Client(headers={"Authorization": f"Bearer {secret}"})


def test_api_figures(people, roster, tree):
    oscar = _api(people["oscar"])
    answer = oscar.get(API, {"org": tree["town"].pk}).json()
    assert answer["org_code"] == "T01" and answer["total"] == 5
    by_key = {t["key"]: t for t in answer["tables"]}
    assert by_key["sex"]["labels"] == ["男", "女"] and by_key["sex"]["values"] == [3, 2]
    assert by_key["category"]["values"] == [4, 1]
    assert len(by_key["joined"]["values"]) == 20
    default = oscar.get(API).json()
    assert default["org_code"] == "T01"  # the top of oscar's scope
    bob = _api(people["bob"])
    response = bob.get(API, {"org": tree["branch_a"].pk})
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert bob.get(API).json()["total"] == 2
    response = bob.get(API, {"org": "abc"})
    assert response.status_code == 422 and response.json()["field"] == "org"
    alice = _api(people["alice"])
    assert alice.get(API, {"org": tree["town"].pk}).status_code == 404
    assert alice.get(API, {"org": tree["branch_a"].pk}).json()["total"] == 3
