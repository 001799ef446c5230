"""The members API at /api/v1/members: scope (alice inside, oscar above, bob beside, a member
only their own record), search and every filter, masking and the audited reveal, the record,
its timeline and related tables, and that bad input answers 400 naming the field and writes
nothing."""

import datetime

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from dangjian.core import crypto
from dangjian.core import services as core_services
from dangjian.core.models import AuditEvent
from dangjian.members import services as member_services
from dangjian.members.models import (
    FamilyMember,
    HistoryEntry,
    Member,
    RewardDiscipline,
    StandingEvent,
)
from dangjian.transfers import services as transfer_services
from tests.idnumbers import make_id

API = "/api/v1"
M = f"{API}/members"


class ApiClient:
    """django.test.Client speaking JSON with a bearer token."""

    def __init__(self, user=None):
        headers = {}
        if user is not None:
            _token, secret = core_services.create_api_token(actor=user, name="tests", days=1)
            headers["Authorization"] = f"Bearer {secret}"
        self.client = Client(headers=headers)

    def get(self, path, params=None):
        return self.client.get(path, params or {})

    def post(self, path, data=None):
        return self.client.post(path, data or {}, content_type="application/json")

    def patch(self, path, data=None):
        return self.client.patch(path, data or {}, content_type="application/json")

    def delete(self, path):
        return self.client.delete(path)


@pytest.fixture
def alice(people):
    return ApiClient(people["alice"])


@pytest.fixture
def oscar(people):
    return ApiClient(people["oscar"])


@pytest.fixture
def bob(people):
    return ApiClient(people["bob"])


@pytest.fixture
def carol(make_user, admin, tree):
    """A committee member of branch A: sees A's records, may change nothing, no full numbers."""
    user = make_user("carol", display_name="陈")
    core_services.assign_role(actor=admin, user=user, org=tree["branch_a"], role="committee_member")
    return ApiClient(user)


@pytest.fixture
def meimei(make_user, admin, tree, make_member):
    """A member of branch A with an account of her own and the role "member" there."""
    user = make_user("meimei", display_name="韩梅梅")
    record = make_member(
        tree["branch_a"],
        "韩梅梅",
        birth="1992-04-05",
        sex=2,
        phone="13600001234",
        joined_on="2015-07-01",
    )
    record.user = user
    record.save(update_fields=["user"])
    core_services.assign_role(actor=admin, user=user, org=tree["branch_a"], role="member")
    return {"client": ApiClient(user), "user": user, "member": record}


def url(member, *rest):
    pk = member.pk if hasattr(member, "pk") else member
    return "/".join([M, str(pk), *map(str, rest)])


def names(response):
    assert response.status_code == 200, response.content
    return [item["name"] for item in response.json()["items"]]


def state():
    """Everything a member call could change."""
    return (
        tuple(
            Member.objects.order_by("pk").values_list(
                "pk",
                "name",
                "organization_id",
                "id_number_hash",
                "phone_hash",
                "telephone",
                "home_address",
                "work_unit",
                "status",
                "category",
                "out_of_contact",
                "user_id",
            )
        ),
        StandingEvent.objects.count(),
        FamilyMember.objects.count(),
        HistoryEntry.objects.count(),
        RewardDiscipline.objects.count(),
        AuditEvent.objects.count(),
    )


def assert_error(response, status, code, field=None):
    assert response.status_code == status, (response.status_code, response.content)
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"], body
    if field is not None:
        assert body.get("field") == field, body
    return body


def id_of(member):
    return member_services.member_id_number(member)


# Authentication and the three people ------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", [M, f"{M}/me", f"{M}/1", f"{M}/1/events", f"{M}/1/family"])
def test_no_token_is_unauthorized(people, path):
    assert_error(ApiClient().get(path), 401, "unauthorized")


@pytest.mark.django_db
def test_list_scope(alice, oscar, bob, roster):
    assert sorted(names(alice.get(M))) == sorted(["张三", "李四", "王五"])
    assert sorted(names(oscar.get(M))) == sorted(["张三", "李四", "王五", "赵六", "钱七"])
    assert oscar.get(M).json()["count"] == 5
    assert sorted(names(bob.get(M))) == sorted(["赵六", "钱七"])
    # Nothing of A reaches bob, whatever he searches or filters for.
    zhang = roster["zhang"]
    for params in (
        {"q": "张"},
        {"q": "张三"},
        {"q": "zs"},
        {"q": id_of(zhang)},
        {"q": "13900001111"},
        {"ethnicity": "03"},
        {"category": "probationary"},
        {"status": ""},
    ):
        assert not set(names(bob.get(M, params))) & {"张三", "李四", "王五"}, params
    assert_error(bob.get(M, {"org": roster["zhang"].organization_id}), 404, "not_found")
    assert_error(alice.get(M, {"org": roster["zhao"].organization_id}), 404, "not_found")


@pytest.mark.django_db
def test_list_items_are_masked_and_carry_names(alice, roster, tree):
    zhang, wang = roster["zhang"], roster["wang"]
    response = alice.get(M, {"sort": "id"})
    items = {item["name"]: item for item in response.json()["items"]}
    item = items["张三"]
    number = id_of(zhang)
    assert item["id"] == zhang.pk
    assert item["id_number"] == number[:6] + "********" + number[-4:]
    assert item["phone"] == "139****1111"
    assert items["李四"]["phone"] == ""
    a = tree["branch_a"]
    assert item["organization"] == {"id": a.pk, "code": "B01", "name": a.name}
    assert (item["sex"], item["sex_name"]) == ("1", "男")
    assert (items["李四"]["sex"], items["李四"]["sex_name"]) == ("2", "女")
    assert (item["ethnicity"], item["ethnicity_name"]) == ("01", "汉族")
    assert (items["王五"]["ethnicity"], items["王五"]["ethnicity_name"]) == ("03", "回族")
    assert item["category"] == "full" and items["李四"]["category"] == "probationary"
    assert item["birth_date"] == "1985-03-12" and item["joined_on"] == "2005-07-01"
    assert item["full_on"] == "2006-07-01" and items["李四"]["full_on"] is None
    assert item["status"] == "active" and item["standing"] == "normal"
    assert items["李四"]["party_years"] is None
    assert wang.birth_date == datetime.date(1962, 1, 20) and items["王五"]["age"] >= 60
    # Full numbers appear nowhere in the answer.
    body = response.content.decode()
    for m in roster.values():
        assert id_of(m) not in body
    assert "13900001111" not in body


# Search -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_search(oscar, roster, tree, make_member):
    odd = make_member(
        tree["branch_a"],
        "张小明",
        birth="1988-08-08",
        id_number="37092319880808079X",
        joined_on="2010-07-01",
    )
    assert sorted(names(oscar.get(M, {"q": "张"}))) == sorted(["张三", "张小明"])
    assert names(oscar.get(M, {"q": "张三"})) == ["张三"]
    assert names(oscar.get(M, {"q": "赵"})) == ["赵六"]
    assert names(oscar.get(M, {"q": "三"})) == []  # a prefix, not anywhere in the name
    # pinyin initials
    assert names(oscar.get(M, {"q": "zs"})) == ["张三"]
    assert names(oscar.get(M, {"q": "ZS"})) == ["张三"]
    assert sorted(names(oscar.get(M, {"q": "z"}))) == sorted(["张三", "张小明", "赵六"])
    assert names(oscar.get(M, {"q": "zxm"})) == ["张小明"]
    # exact ID number, whatever the case of the X and the spaces
    assert names(oscar.get(M, {"q": id_of(roster["zhao"])})) == ["赵六"]
    for q in ("37092319880808079x", "370923 19880808 079x", " 37092319880808079X "):
        assert names(oscar.get(M, {"q": q})) == ["张小明"], q
    assert names(oscar.get(M, {"q": "37092319880808079"})) == []  # not a prefix search
    assert odd.pk
    # mobile number, exact
    for q in ("13900001111", "139 0000 1111", "+8613900001111", "139-0000-1111"):
        assert names(oscar.get(M, {"q": q})) == ["张三"], q
    assert names(oscar.get(M, {"q": "13900001112"})) == []


# Filters ------------------------------------------------------------------------------------


@pytest.fixture
def varied(roster, admin, tree, make_member):
    """The roster with education, job, standing, contact, mobility and a deceased member."""
    zhang, wang, zhao, qian = roster["zhang"], roster["wang"], roster["zhao"], roster["qian"]
    member_services.update_member(actor=admin, member=zhang, data={"education": "21"})
    member_services.update_member(actor=admin, member=wang, data={"job_category": "08"})
    on = datetime.date(2024, 3, 1)
    member_services.record_event(actor=admin, member=wang, kind="suspended", on=on)
    member_services.record_event(actor=admin, member=zhao, kind="lost_contact", on=on)
    transfer_services.register_mobile_out(actor=admin, member=qian, destination="深圳市", since=on)
    sun = make_member(tree["branch_a"], "孙八", birth="1940-02-02", joined_on="1960-07-01")
    member_services.record_event(actor=admin, member=sun, kind="deceased", on=on)
    return roster


FILTERS = [
    ({}, {"张三", "李四", "王五", "赵六", "钱七"}),
    ({"category": "probationary"}, {"李四"}),
    ({"category": "full"}, {"张三", "王五", "赵六", "钱七"}),
    ({"standing": "suspended"}, {"王五"}),
    ({"standing": "normal"}, {"张三", "李四", "赵六", "钱七"}),
    ({"status": "deceased"}, {"孙八"}),
    ({"status": ""}, {"张三", "李四", "王五", "赵六", "钱七", "孙八"}),
    ({"sex": "2"}, {"李四", "赵六"}),
    ({"age_min": "60"}, {"王五"}),
    ({"age_max": "32"}, {"钱七"}),
    ({"age_min": "36", "age_max": "48"}, {"张三", "李四", "赵六"}),
    ({"education": "21"}, {"张三"}),
    ({"ethnicity": "han"}, {"张三", "李四", "赵六", "钱七"}),
    ({"ethnicity": "minority"}, {"王五"}),
    ({"ethnicity": "03"}, {"王五"}),
    ({"years_min": "15"}, {"张三", "王五", "赵六"}),
    ({"years_max": "10"}, {"钱七"}),
    ({"joined_from": "2018-01-01"}, {"李四", "钱七"}),
    ({"joined_to": "2010-12-31"}, {"张三", "王五", "赵六"}),
    ({"joined_from": "2005-07-01", "joined_to": "2005-07-01"}, {"张三", "王五", "赵六"}),
    ({"job_category": "08"}, {"王五"}),
    ({"mobile": "true"}, {"钱七"}),
    ({"mobile": "false"}, {"张三", "李四", "王五", "赵六"}),
    ({"out_of_contact": "1"}, {"赵六"}),
    ({"out_of_contact": "no"}, {"张三", "李四", "王五", "钱七"}),
    ({"sex": "1", "ethnicity": "han"}, {"张三", "钱七"}),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("params", "expected"), FILTERS)
def test_every_filter(oscar, varied, params, expected):
    assert set(names(oscar.get(M, params | {"page_size": 50}))) == expected


@pytest.mark.django_db
def test_organisation_filters_and_sorting(oscar, alice, varied, tree):
    a, b, town = tree["branch_a"], tree["branch_b"], tree["town"]
    assert set(names(oscar.get(M, {"org": b.pk}))) == {"赵六", "钱七"}
    assert set(names(oscar.get(M, {"org": a.pk, "exact_org": "true"}))) == {
        "张三",
        "李四",
        "王五",
    }
    assert len(names(oscar.get(M, {"org": town.pk}))) == 5
    assert names(oscar.get(M, {"org": town.pk, "exact_org": "true"})) == []  # none directly
    assert set(names(alice.get(M, {"org": a.pk}))) == {"张三", "李四", "王五"}

    assert names(alice.get(M, {"sort": "birth_date"})) == ["王五", "张三", "李四"]
    assert names(alice.get(M, {"sort": "-birth_date"})) == ["李四", "张三", "王五"]
    assert names(alice.get(M, {"sort": "-joined_on"}))[0] == "李四"
    ids = [i["id"] for i in alice.get(M, {"sort": "-id"}).json()["items"]]
    assert ids == sorted(ids, reverse=True)
    by_org = names(oscar.get(M, {"sort": "organization"}))
    assert set(by_org[:3]) == {"张三", "李四", "王五"} and set(by_org[3:]) == {"赵六", "钱七"}


@pytest.mark.django_db
def test_pagination(oscar, roster):
    first = oscar.get(M, {"page": 1, "page_size": 2, "sort": "id"}).json()
    second = oscar.get(M, {"page": 2, "page_size": 2, "sort": "id"}).json()
    third = oscar.get(M, {"page": 3, "page_size": 2, "sort": "id"}).json()
    assert first["count"] == 5
    pages = [i["id"] for p in (first, second, third) for i in p["items"]]
    assert pages == sorted(m.pk for m in roster.values())
    assert_error(oscar.get(M, {"page": 0}), 422, "invalid", "page")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"age_min": "abc"}, "age_min"),
        ({"age_max": "-1"}, "age_max"),
        ({"years_min": "1.5"}, "years_min"),
        ({"joined_from": "2020-13-01"}, "joined_from"),
        ({"joined_to": "yesterday"}, "joined_to"),
        ({"mobile": "maybe"}, "mobile"),
        ({"out_of_contact": "2"}, "out_of_contact"),
        ({"org": "abc"}, "org"),
        ({"sort": "salary"}, "sort"),
        ({"category": "honorary"}, "category"),
        ({"standing": "great"}, "standing"),
        ({"status": "sleeping"}, "status"),
        ({"sex": "3"}, "sex"),
        ({"education": "本科"}, "education"),
        ({"ethnicity": "99"}, "ethnicity"),
        ({"job_category": "99"}, "job_category"),
    ],
)
def test_bad_filters_answer_400_naming_the_parameter(oscar, roster, params, field):
    body = assert_error(oscar.get(M, params), 400, "invalid", field)
    assert body["errors"][0]["loc"] == [field]


@pytest.mark.django_db
def test_several_bad_filters_are_all_named(oscar, roster):
    body = assert_error(
        oscar.get(M, {"age_min": "x", "joined_to": "y", "sex": "9"}), 400, "invalid"
    )
    assert {e["loc"][0] for e in body["errors"]} == {"age_min", "joined_to", "sex"}


@pytest.mark.django_db
def test_list_has_no_query_per_row(oscar, people, tree, make_member):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            response = oscar.get(M, {"page_size": 100, "org": tree["town"].pk, "q": "张"})
        assert response.status_code == 200
        return len(ctx.captured_queries), response.json()["count"]

    for i in range(3):
        make_member(tree["branch_a"] if i % 2 else tree["branch_b"], f"张{i}", phone="13900000000")
    oscar.get(M)  # the token's last use is written at most once a minute
    few, n_few = count()
    for i in range(3, 30):
        make_member(tree["branch_a"] if i % 2 else tree["branch_b"], f"张{i}")
    many, n_many = count()
    assert (n_few, n_many) == (3, 30)
    assert many == few


# Detail and reveal --------------------------------------------------------------------------


@pytest.mark.django_db
def test_detail_scope(alice, oscar, bob, roster):
    zhang, zhao = roster["zhang"], roster["zhao"]
    body = alice.get(url(zhang)).json()
    assert body["name"] == "张三" and body["phone"] == "139****1111"
    assert body["id_number"] == crypto.mask_id_number(id_of(zhang))
    assert body["organization"]["code"] == "B01"
    assert {"work_unit", "home_address", "telephone", "note", "created_at"} <= set(body)
    assert id_of(zhang) not in alice.get(url(zhang)).content.decode()
    assert oscar.get(url(zhang)).status_code == 200
    assert oscar.get(url(zhao)).status_code == 200
    missing = assert_error(bob.get(url(999999)), 404, "not_found")
    assert assert_error(bob.get(url(zhang)), 404, "not_found") == missing
    assert_error(alice.get(url(zhao)), 404, "not_found")
    assert bob.get(url(zhao)).status_code == 200


@pytest.mark.django_db
def test_reveal_is_audited(alice, oscar, bob, carol, roster, people):
    zhang = roster["zhang"]
    before = AuditEvent.objects.filter(action="member.reveal").count()
    response = alice.post(url(zhang, "reveal"))
    assert response.status_code == 200, response.content
    assert response.json() == {"id_number": id_of(zhang), "phone": "13900001111"}
    event = AuditEvent.objects.filter(action="member.reveal").latest("id")
    assert event.user_id == people["alice"].pk
    assert (event.object_type, event.object_id) == ("members.member", str(zhang.pk))
    assert event.request_id
    assert oscar.post(url(zhang, "reveal")).status_code == 200
    assert AuditEvent.objects.filter(action="member.reveal").count() == before + 2

    assert_error(bob.post(url(zhang, "reveal")), 404, "not_found")
    assert_error(alice.post(url(roster["zhao"], "reveal")), 404, "not_found")
    # carol sees the record, but her role shows no full numbers
    assert carol.get(url(zhang)).status_code == 200
    assert_error(carol.post(url(zhang, "reveal")), 403, "forbidden")
    assert AuditEvent.objects.filter(action="member.reveal").count() == before + 2


# Create -------------------------------------------------------------------------------------


def payload(org, **extra):
    return {
        "organization_id": org.pk,
        "name": "王芳",
        "id_number": make_id("1990-03-04", 2, seq=77),
        "joined_on": "2015-06-30",
        "full_on": "2016-07-01",
        "phone": "137 0000 1111",
        "education": "本科",
        "work_unit": "县人民医院",
    } | extra


@pytest.mark.django_db
def test_create(alice, oscar, people, tree):
    a = tree["branch_a"]
    response = alice.post(M, payload(a))
    assert response.status_code == 201, response.content
    body = response.json()
    member = Member.objects.get(pk=body["id"])
    assert body["name"] == "王芳" and body["organization"]["id"] == a.pk
    assert (body["sex"], body["birth_date"]) == ("2", "1990-03-04")  # from the ID number
    assert body["category"] == "full" and body["full_on"] == "2016-07-01"
    assert (body["education"], body["education_name"]) == ("21", "大学本科")
    assert body["phone"] == "137****1111" and body["id_number"].startswith("370923****")
    assert member_services.member_phone(member) == "13700001111"
    assert member.name_initials == "wf" and member.work_unit == "县人民医院"
    assert [e.kind for e in member.events.all()] == ["admitted", "became_full"]
    event = AuditEvent.objects.get(action="member.create", object_id=str(member.pk))
    assert event.user_id == people["alice"].pk and event.org_path == a.path
    assert make_id("1990-03-04", 2, seq=77) not in str(event.after)  # masked in the log too

    response = oscar.post(
        M,
        payload(
            tree["branch_b"],
            id_number=make_id("1991-01-01", 1, seq=78),
            name="刘强",
            full_on=None,
            category="probationary",
            joined_on="2026-01-05",
        ),
    )
    assert response.status_code == 201, response.content
    assert response.json()["category"] == "probationary"
    assert response.json()["full_on"] is None


@pytest.mark.django_db
def test_create_scope(alice, bob, carol, oscar, roster, tree):
    a, b = tree["branch_a"], tree["branch_b"]
    before = state()
    assert_error(bob.post(M, payload(a)), 404, "not_found")
    assert_error(bob.post(M, payload(tree["group_a"])), 404, "not_found")
    assert_error(alice.post(M, payload(b)), 404, "not_found")
    assert_error(oscar.post(M, payload(tree["other_town"])), 404, "not_found")
    assert_error(carol.post(M, payload(a)), 403, "forbidden")
    # Members belong to branches.
    assert_error(oscar.post(M, payload(tree["town"])), 400, "not_a_branch", "organization_id")
    assert_error(alice.post(M, payload(tree["group_a"])), 400, "not_a_branch", "organization_id")
    assert state() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("extra", "field", "code"),
    [
        ({"joined_on": "2015-02-30"}, "joined_on", "invalid_date"),
        ({"joined_on": "30.06.2015"}, "joined_on", "invalid_date"),
        ({"birth_date": "yesterday"}, "birth_date", "invalid_date"),
        ({"full_on": "2016-7"}, "full_on", "invalid_date"),
        ({"joined_on": "2099-01-01", "full_on": None}, "joined_on", "future_date"),
        ({"education": "火星大学"}, "education", "unknown_code"),
        ({"ethnicity": "精灵族"}, "ethnicity", "unknown_code"),
        ({"sex": "3"}, "sex", "unknown_code"),
        ({"job_category": "99"}, "job_category", "unknown_code"),
        ({"category": "honorary"}, "category", "unknown_code"),
        ({"id_number": "370923199003040771"}, "id_number", "invalid_id_number"),
        ({"id_number": "37092319900304"}, "id_number", "invalid_id_number"),
        ({"id_number": ""}, "id_number", "required"),
        ({"name": "  "}, "name", "required"),
        ({"phone": "12345"}, "phone", "invalid_phone"),
        ({"joined_on": "2005-01-01", "full_on": "2006-01-01"}, "joined_on", "too_young"),
        ({"birth_date": "1990-03-05"}, "birth_date", "birth_date_mismatch"),
        ({"sex": "1"}, "sex", "sex_mismatch"),
        ({"full_on": "2015-01-01"}, "full_on", "full_before_joining"),
        ({"category": "full", "full_on": None}, "full_on", "full_on_required"),
        ({"work_unit": "单" * 129}, "work_unit", "too_long"),
        ({"degree": "x" * 33}, "degree", "too_long"),
        ({"status": "deceased"}, "status", "unknown_field"),
    ],
)
def test_create_bad_input_writes_nothing(oscar, roster, tree, extra, field, code):
    before = state()
    body = assert_error(oscar.post(M, payload(tree["branch_a"], **extra)), 400, code, field)
    assert {"loc": [field], "msg": body["message"], "code": code} in body["errors"]
    assert state() == before


@pytest.mark.django_db
def test_create_duplicate_id_number(alice, oscar, roster, tree):
    before = state()
    number = id_of(roster["zhao"])  # in B: alice cannot see it, but may not record it twice
    for given in (number, number.lower(), f" {number[:6]} {number[6:]} "):
        assert_error(
            alice.post(M, payload(tree["branch_a"], id_number=given, sex=None)),
            400,
            "duplicate_id_number",
            "id_number",
        )
    assert state() == before


@pytest.mark.django_db
def test_create_names_every_faulty_field(oscar, tree, roster):
    before = state()
    body = assert_error(
        oscar.post(
            M,
            payload(tree["branch_a"], id_number="123", education="火星", phone="1", joined_on="x"),
        ),
        400,
        "invalid_date",  # the API reads dates first: only the malformed one is named
        "joined_on",
    )
    assert [e["loc"] for e in body["errors"]] == [["joined_on"]]
    body = assert_error(
        oscar.post(M, payload(tree["branch_a"], id_number="123", education="火星", phone="1")),
        400,
        "invalid_id_number",
        "id_number",
    )
    codes = {e["loc"][0]: e["code"] for e in body["errors"]}
    assert codes == {
        "id_number": "invalid_id_number",
        "education": "unknown_code",
        "phone": "invalid_phone",
    }
    assert state() == before


@pytest.mark.django_db
def test_create_body_of_the_wrong_shape_is_422(oscar, tree, roster):
    before = state()
    body = dict(payload(tree["branch_a"]))
    del body["joined_on"]
    assert_error(oscar.post(M, body), 422, "invalid", "joined_on")
    assert_error(oscar.post(M, payload(tree["branch_a"], organization_id="B01")), 422, "invalid")
    assert state() == before


# Update -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_update(alice, oscar, bob, carol, roster, people):
    zhang, zhao = roster["zhang"], roster["zhao"]
    response = alice.patch(url(zhang), {"work_unit": "县供电公司 主任", "phone": "13911112222"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["work_unit"] == "县供电公司 主任" and body["phone"] == "139****2222"
    assert body["name"] == "张三"  # untouched
    event = AuditEvent.objects.get(action="member.update", object_id=str(zhang.pk))
    assert event.user_id == people["alice"].pk
    assert event.before == {"work_unit": "", "phone": "139****1111"}
    assert event.after == {"work_unit": "县供电公司 主任", "phone": "139****2222"}

    response = oscar.patch(url(zhang), {"full_on": "2006-08-01", "education": "硕士"})
    assert response.status_code == 200, response.content
    assert response.json()["full_on"] == "2006-08-01"
    assert response.json()["education"] == "14"
    assert StandingEvent.objects.get(member=zhang, kind="became_full").occurred_on == (
        datetime.date(2006, 8, 1)
    )

    before = state()
    assert_error(bob.patch(url(zhang), {"work_unit": "x"}), 404, "not_found")
    assert_error(alice.patch(url(zhao), {"work_unit": "x"}), 404, "not_found")
    assert_error(carol.patch(url(zhang), {"work_unit": "x"}), 403, "forbidden")
    assert state() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field", "code"),
    [
        ({"name": None}, "name", "required"),
        ({"id_number": None}, "id_number", "required"),
        ({"sex": ""}, "sex", "required"),
        ({"birth_date": None}, "birth_date", "required"),
        ({"joined_on": "2005-07-32"}, "joined_on", "invalid_date"),
        ({"id_number": "370923198503121234"}, "id_number", "invalid_id_number"),
        ({"education": "火星大学"}, "education", "unknown_code"),
        ({"category": "probationary"}, "category", "unknown_field"),
        ({"organization_id": 1}, "organization_id", "unknown_field"),
        ({"telephone": "0" * 33}, "telephone", "too_long"),
        ({"joined_on": "2003-01-01"}, "joined_on", "too_young"),
        ({"full_on": None}, "full_on", "full_on_required"),
    ],
)
def test_update_bad_input_changes_nothing(alice, roster, data, field, code):
    before = state()
    assert_error(alice.patch(url(roster["zhang"]), data), 400, code, field)
    assert state() == before


@pytest.mark.django_db
def test_update_duplicate_id_number(alice, roster):
    before = state()
    number = id_of(roster["wang"])
    response = alice.patch(url(roster["zhang"]), {"id_number": number})
    assert_error(response, 400, "duplicate_id_number", "id_number")
    assert state() == before


# The timeline -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_timeline_and_state(alice, oscar, bob, roster, tree, people):
    zhang = roster["zhang"]
    events = alice.get(url(zhang, "events")).json()
    assert [(e["kind"], e["on"]) for e in events] == [
        ("admitted", "2005-07-01"),
        ("became_full", "2006-07-01"),
    ]
    assert events[0]["organization"]["code"] == "B01" and events[1]["organization"] is None
    assert events[0]["kind_name"]

    response = alice.post(
        url(zhang, "events"), {"kind": "lost_contact", "on": "2024-05-01", "reference": "A1"}
    )
    assert response.status_code == 201, response.content
    assert response.json()["kind"] == "lost_contact"
    assert response.json()["created_by"] == "张丽"
    body = alice.get(url(zhang)).json()
    assert body["out_of_contact"] is True and body["out_of_contact_since"] == "2024-05-01"
    audit = AuditEvent.objects.get(action="member.event", object_id=str(response.json()["id"]))
    assert audit.user_id == people["alice"].pk and audit.after["kind"] == "lost_contact"

    def state_on(day):
        response = alice.get(url(zhang, "state"), {"on": day})
        assert response.status_code == 200, response.content
        return response.json()

    assert state_on("2004-12-31")["status"] == "not_yet"
    assert state_on("2004-12-31")["counts"] is False
    then = state_on("2005-12-31")
    assert (then["status"], then["category"], then["counts"]) == ("active", "probationary", True)
    assert then["organization"]["code"] == "B01" and then["out_of_contact"] is False
    assert state_on("2024-05-01")["out_of_contact"] is True
    assert alice.get(url(zhang, "state")).json()["category"] == "full"  # today
    assert_error(alice.get(url(zhang, "state"), {"on": "2024-02-30"}), 400, "invalid_date", "on")

    assert_error(bob.get(url(zhang, "events")), 404, "not_found")
    assert_error(bob.get(url(zhang, "state")), 404, "not_found")
    before = state()
    assert_error(
        bob.post(url(zhang, "events"), {"kind": "regained_contact", "on": "2024-06-01"}),
        404,
        "not_found",
    )
    assert state() == before


@pytest.mark.django_db
def test_transfer_moves_the_member_between_scopes(alice, oscar, bob, people, roster, tree):
    """A transfer (the transfers services' own events) moves the record out of the sender's
    scope into the receiver's once accepted, and the timeline says so."""
    zhang, b = roster["zhang"], tree["branch_b"]
    transfer = transfer_services.start_transfer(actor=people["alice"], member=zhang, to_org=b)
    assert alice.get(url(zhang)).json()["organization"]["code"] == "B01"  # until accepted
    assert_error(bob.get(url(zhang)), 404, "not_found")
    transfer_services.accept_transfer(actor=people["bob"], transfer=transfer)
    body = bob.get(url(zhang)).json()
    assert (body["status"], body["organization"]["code"]) == ("active", "B02")
    assert bob.get(url(zhang, "events")).json()[-1]["kind"] == "transferred"
    assert_error(alice.get(url(zhang)), 404, "not_found")
    assert "张三" not in names(alice.get(M))
    assert "张三" in names(bob.get(M))
    assert "张三" in names(oscar.get(M))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "status", "code", "field"),
    [
        ({"kind": "promoted", "on": "2024-01-01"}, 400, "unknown_event", "kind"),
        ({"kind": "lost_contact", "on": "2024-01-32"}, 400, "invalid_date", "on"),
        ({"kind": "lost_contact", "on": ""}, 400, "required", "on"),
        ({"kind": "lost_contact", "on": "2099-01-01"}, 400, "future_date", "on"),
        ({"kind": "regained_contact", "on": "2024-01-01"}, 400, "not_out_of_contact", "kind"),
        ({"kind": "admitted", "on": "2024-01-01"}, 400, "already_admitted", "kind"),
        (
            {"kind": "lost_contact", "on": "2024-01-01", "reference": "x" * 65},
            400,
            "too_long",
            None,
        ),
        ({"kind": "lost_contact"}, 422, "invalid", "on"),
        # The transfers services' own events: recorded on the transfer and mobile pages.
        ({"kind": "transferred_out", "on": "2024-01-10"}, 400, "use_transfers", "kind"),
        (
            {"kind": "mobile_out", "on": "2024-01-10", "detail": "深圳"},
            400,
            "use_transfers",
            "kind",
        ),
    ],
)
def test_bad_events_change_nothing(alice, roster, data, status, code, field):
    before = state()
    assert_error(alice.post(url(roster["zhang"], "events"), data), status, code, field)
    assert state() == before


@pytest.mark.django_db
def test_event_at_a_group_is_refused(oscar, roster, tree):
    zhang = roster["zhang"]
    before = state()
    response = oscar.post(
        url(zhang, "events"),
        {"kind": "admitted", "on": "2024-02-01", "organization_id": tree["group_a"].pk},
    )
    assert_error(response, 400, "not_a_branch", "organization_id")
    assert state() == before


# Related tables -----------------------------------------------------------------------------

RELATED = {
    "family": (
        FamilyMember,
        {"relation": "配偶", "name": "李梅", "birth_date": "1982-02-03"},
        {"work_unit": "县一中"},
        "name",
    ),
    "history": (
        HistoryEntry,
        {"kind": "work", "started_on": "2003-09-01", "place": "县供电公司"},
        {"ended_on": "2010-06-30", "role": "技术员"},
        "place",
    ),
    "rewards": (
        RewardDiscipline,
        {"kind": "reward", "decided_on": "2019-07-01", "title": "优秀共产党员"},
        {"issuer": "城关镇党委"},
        "title",
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("kind", list(RELATED))
def test_related_rows(alice, oscar, bob, carol, roster, people, kind):
    model, row, change, label = RELATED[kind]
    zhang = roster["zhang"]
    response = alice.post(url(zhang, kind), row)
    assert response.status_code == 201, response.content
    created = response.json()
    assert {k: created[k] for k in row} == row
    row_id = created["id"]
    event = AuditEvent.objects.get(action=f"member.{kind}_add", object_id=str(row_id))
    assert event.user_id == people["alice"].pk
    listed = alice.get(url(zhang, kind)).json()
    assert [r["id"] for r in listed] == [row_id]
    assert oscar.get(url(zhang, kind)).json() == listed

    response = oscar.patch(url(zhang, kind, row_id), change)
    assert response.status_code == 200, response.content
    assert {k: response.json()[k] for k in change} == change
    assert response.json()[label] == row[label]  # untouched
    event = AuditEvent.objects.get(action=f"member.{kind}_update", object_id=str(row_id))
    assert event.user_id == people["oscar"].pk and set(event.after) == set(change) | {"member"}

    # bob sees nothing of it; carol may look but not touch; nothing changes.
    before = state()
    assert_error(bob.get(url(zhang, kind)), 404, "not_found")
    assert_error(bob.post(url(zhang, kind), row), 404, "not_found")
    assert_error(bob.patch(url(zhang, kind, row_id), change), 404, "not_found")
    assert_error(bob.delete(url(zhang, kind, row_id)), 404, "not_found")
    assert carol.get(url(zhang, kind)).status_code == 200
    assert_error(carol.post(url(zhang, kind), row), 403, "forbidden")
    assert_error(carol.patch(url(zhang, kind, row_id), change), 403, "forbidden")
    assert_error(carol.delete(url(zhang, kind, row_id)), 403, "forbidden")
    # the row of one member is not reachable through another
    assert_error(alice.patch(url(roster["li"], kind, row_id), change), 404, "not_found")
    assert_error(alice.delete(url(roster["li"], kind, row_id)), 404, "not_found")
    assert state() == before

    response = alice.delete(url(zhang, kind, row_id))
    assert response.status_code == 200, response.content
    assert response.json() == []
    assert not model.objects.filter(pk=row_id).exists()
    assert AuditEvent.objects.filter(
        action=f"member.{model._meta.model_name}_delete", object_id=str(row_id)
    ).exists()
    assert_error(alice.delete(url(zhang, kind, row_id)), 404, "not_found")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "data", "field", "code"),
    [
        ("family", {"relation": "配偶", "name": " "}, "name", "required"),
        ("family", {"relation": "配偶", "name": "李梅", "birth_date": "1982-2-30"}, "birth_date",
         "invalid_date"),
        ("family", {"relation": "配偶", "name": "李" * 65}, "name", "too_long"),
        ("history", {"kind": "hobby", "started_on": "2003-09-01", "place": "x"}, "kind",
         "unknown_code"),
        ("history", {"kind": "work", "started_on": "2003-09-01", "ended_on": "2001-01-01",
                     "place": "x"}, "ended_on", "invalid"),
        ("rewards", {"kind": "reward", "decided_on": "soon", "title": "x"}, "decided_on",
         "invalid_date"),
        ("rewards", {"kind": "reward", "decided_on": "2019-07-01", "title": "x", "extra": 1},
         "extra", "unknown_field"),
    ],
)  # fmt: skip
def test_related_bad_input_writes_nothing(alice, roster, kind, data, field, code):
    before = state()
    assert_error(alice.post(url(roster["zhang"], kind), data), 400, code, field)
    assert state() == before


@pytest.mark.django_db
def test_related_bad_patch_changes_nothing(alice, roster, admin):
    zhang = roster["zhang"]
    row = member_services.save_related(
        actor=admin,
        member=zhang,
        kind="history",
        data={"kind": "work", "started_on": datetime.date(2003, 9, 1), "place": "x"},
    )
    before = state()
    path = url(zhang, "history", row.pk)
    assert_error(alice.patch(path, {"ended_on": "2001-01-01"}), 400, "invalid", "ended_on")
    assert_error(alice.patch(path, {"place": None}), 400, "required", "place")
    assert_error(alice.patch(path, {"started_on": "x"}), 400, "invalid_date", "started_on")
    assert state() == before
    row.refresh_from_db()
    assert row.ended_on is None and row.place == "x"


# A member's own record ----------------------------------------------------------------------


@pytest.mark.django_db
def test_member_sees_only_their_own_record(meimei, roster):
    client, own = meimei["client"], meimei["member"]
    body = client.get(f"{M}/me").json()
    assert body["id"] == own.pk and body["name"] == "韩梅梅"
    assert body["phone"] == "136****1234" and id_of(own) not in str(body)

    assert_error(client.get(M), 403, "forbidden")
    before = state()
    for path in (url(own), url(own, "events"), url(own, "family"), url(own, "state")):
        assert_error(client.get(path), 404, "not_found")
    assert_error(client.get(url(roster["zhang"])), 404, "not_found")
    assert_error(client.post(url(own, "reveal")), 404, "not_found")
    assert_error(client.patch(url(own), {"name": "韩梅"}), 404, "not_found")
    assert_error(client.post(url(own, "family"), RELATED["family"][1]), 404, "not_found")
    assert_error(
        client.post(url(own, "events"), {"kind": "lost_contact", "on": "2024-01-01"}),
        404,
        "not_found",
    )
    assert_error(client.post(M, payload(own.organization)), 403, "forbidden")
    assert state() == before


@pytest.mark.django_db
def test_member_changes_own_contact(meimei):
    client, user, own = meimei["client"], meimei["user"], meimei["member"]
    response = client.patch(
        f"{M}/me/contact",
        {"phone": "139 1111 2222", "telephone": "0571-8888", "home_address": "东街5号"},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["phone"] == "139****2222" and body["telephone"] == "0571-8888"
    assert body["home_address"] == "东街5号"
    own.refresh_from_db()
    assert member_services.member_phone(own) == "13911112222"
    event = AuditEvent.objects.get(action="member.self_update", object_id=str(own.pk))
    assert event.user_id == user.pk
    assert event.before["phone"] == "136****1234" and event.after["phone"] == "139****2222"
    assert event.after["home_address"] == "东街5号"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "status", "code", "field"),
    [
        ({"name": "韩梅"}, 403, "forbidden", None),
        ({"phone": "13911112222", "work_unit": "x"}, 403, "forbidden", None),
        ({"organization_id": 1}, 403, "forbidden", None),
        ({"phone": "12345"}, 400, "invalid_phone", "phone"),
        ({"telephone": "0" * 33}, 400, "too_long", "telephone"),
        ({"home_address": "路" * 256}, 400, "too_long", "home_address"),
    ],
)
def test_member_may_change_only_contact_fields(meimei, data, status, code, field):
    before = state()
    assert_error(meimei["client"].patch(f"{M}/me/contact", data), status, code, field)
    assert state() == before


@pytest.mark.django_db
def test_me_without_a_linked_record(alice, roster):
    assert_error(alice.get(f"{M}/me"), 404, "not_found")
    before = state()
    assert_error(alice.patch(f"{M}/me/contact", {"phone": "13911112222"}), 404, "not_found")
    assert state() == before
