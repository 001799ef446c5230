"""The API of requests from the public: the public desk at /api/v1/public (no account: captcha,
submit, follow up, rate, add) and the staff's /api/v1/feedback (inbox, detail, every handling
step, reveal, figures, routing rules, desks). Scope by three people (alice inside, oscar above,
bob beside: 404); seen but not allowed answers 403; bad input a code naming the field and
nothing stored; nothing of the person in any public answer."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils.translation import gettext

from dangjian.core import captcha
from dangjian.core import services as core_services
from dangjian.core.models import AuditEvent
from dangjian.feedback import services
from dangjian.feedback.models import Category, Entry, EntryKind, PublicRequest, RoutingRule, Status
from tests.captchas import answer_for
from tests.members.test_api import ApiClient, assert_error

pytestmark = pytest.mark.django_db

F = "/api/v1/feedback"
P = "/api/v1/public"
NAME, PHONE, EMAIL = "王大妈", "13812345678", "wang.dama@example.cn"
# Everything of the person that must never appear in a public answer, masked or not.
PERSONAL = (NAME, "王**", PHONE, "138****5678", EMAIL, "w***@example.cn")


def not_found() -> str:
    return gettext("No request matches this tracking number and check code.")


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
def carol(make_user, admin, tree, people):
    """A committee member of branch A: handles requests, may not see who sent them."""
    user = make_user("carol", display_name="陈静")
    core_services.assign_role(actor=admin, user=user, org=tree["branch_a"], role="committee_member")
    return ApiClient(user)


class Public:
    """Someone with no account, speaking JSON from one address."""

    def __init__(self, ip="203.0.113.7"):
        self.client = Client(REMOTE_ADDR=ip)

    def get(self, path, params=None):
        return self.client.get(path, params or {})

    def post(self, path, data):
        return self.client.post(path, data, content_type="application/json")

    def solved(self):
        """A captcha from the API, answered."""
        body = self.get(f"{P}/captcha").json()
        return {"captcha_token": body["token"], "captcha_answer": answer_for(body["token"])}

    def submit(self, **values):
        data = {
            "category": "help",
            "desk": "dongjie",
            "text": "东街小区的路灯坏了好几天，晚上出行很不方便。",
        }
        data |= self.solved() | values
        return self.post(f"{P}/requests", data)


@pytest.fixture
def public(desks):
    return Public()


def private(response):
    """The answer, after checking it holds nothing of the person."""
    text = response.content.decode()
    for value in PERSONAL:
        assert value not in text, f"{value} in a public answer: {text}"
    return response


def lookup(req, code, **extra):
    return {"number": req.number, "check_code": code} | extra


def url(req, action=""):
    return f"{F}/requests/{req.pk}" + (f"/{action}" if action else "")


# The whole path --------------------------------------------------------------------------------


def test_submit_handle_follow_and_rate_through_the_api(public, alice, tree):
    response = private(
        public.submit(name=NAME, phone=PHONE, email=EMAIL, consent_contact=True, allow_public=True)
    )
    assert response.status_code == 201, response.content
    made = response.json()
    assert set(made) == {"number", "check_code", "ack_due_at", "answer_due_at"}
    req = PublicRequest.objects.get(number=made["number"])
    assert req.organization == tree["branch_a"] and req.routed_by == "desk"
    secret = {"number": made["number"], "check_code": made["check_code"]}

    status = private(public.post(f"{P}/requests/status", secret)).json()
    assert status["status"] == "received" and status["organization"] == "东街社区党支部"
    assert [e["kind"] for e in status["history"]] == ["submitted"]
    assert status["history"][0]["text"] == ""  # the routing note is the staff's

    items = alice.get(f"{F}/requests").json()["items"]
    assert [i["number"] for i in items] == [req.number]
    detail = alice.get(url(req)).json()
    assert detail["contact"] == {
        "name": "王**",
        "phone": "138****5678",
        "email": "w***@example.cn",
        "masked": True,
        "may_reveal": True,
    }
    assert "accept" in detail["actions"] and "close" not in detail["actions"]

    assert alice.post(url(req, "accept")).json()["status"] == "accepted"
    assert alice.post(url(req, "note"), {"text": "已电话联系王大妈"}).status_code == 201
    answered = alice.post(url(req, "answer"), {"reply": "已联系供电所，今天下午修复。"}).json()
    assert answered["status"] == "answered" and answered["replied_by"] == "东街社区党支部"

    status = private(public.post(f"{P}/requests/status", secret)).json()
    assert status["status"] == "answered"
    assert status["public_reply"] == "已联系供电所，今天下午修复。"
    assert [e["kind"] for e in status["history"]] == ["submitted", "accepted", "answered"]
    assert status["history"][-1]["text"] == "已联系供电所，今天下午修复。"
    assert "已电话联系" not in str(status)  # the internal note
    assert status["may_rate"] and status["may_reopen"]

    rated = private(
        public.post(f"{P}/requests/rate", secret | {"rating": 5, "comment": "很快，谢谢"})
    ).json()
    assert rated["rating"] == 5 and rated["rating_comment"] == "很快，谢谢"
    assert not rated["may_rate"] and rated["history"][-1]["kind"] == "rated"
    again = public.post(f"{P}/requests/rate", secret | {"rating": 4})
    assert_error(again, 409, "already_rated")

    history = alice.get(url(req)).json()["history"]
    assert [e["kind"] for e in history] == ["submitted", "accepted", "note", "answered", "rated"]
    note = history[2]
    assert note["public"] is False and note["author"]["name"] == "张丽"


def test_the_captcha_picture_is_served(public):
    body = public.get(f"{P}/captcha").json()
    assert body["length"] == captcha.LENGTH and body["expires_in"] == captcha.CHALLENGE_TTL
    assert body["image_url"].startswith("http://testserver/")
    picture = public.client.get(body["image_url"].removeprefix("http://testserver"))
    assert picture.status_code == 200 and picture["Content-Type"] == "image/png"


def test_public_desks_need_no_account(public, desks):
    response = Client().get(f"{P}/desks")
    assert response.status_code == 200
    rows = {row["code"]: row for row in response.json()["items"]}
    assert set(rows) == {"dongjie", "xijie", "chengguan"}
    assert rows["dongjie"] == {
        "code": "dongjie",
        "place": "东街社区",
        "intro": "",
        "organization_id": desks["a"].organization_id,
        "organization": "东街社区党支部",
    }
    found = public.get(f"{P}/desks", {"q": "西街"}).json()["items"]
    assert [row["code"] for row in found] == ["xijie"]


def test_submitting_to_an_organisation_instead_of_a_desk(public, tree):
    response = public.submit(desk=None, organization_id=tree["branch_b"].pk)
    assert response.status_code == 201, response.content
    assert PublicRequest.objects.get().organization == tree["branch_b"]


def test_adding_to_a_request_and_reopening_it(public, submit, people):
    req, code = submit()
    added = public.post(f"{P}/requests/add", lookup(req, code, text="灯杆编号 DJ-0231"))
    assert added.status_code == 200, added.content
    assert added.json()["history"][-1] == {
        "kind": "added",
        "kind_name": str(EntryKind.ADDED.label),
        "at": added.json()["history"][-1]["at"],
        "text": "灯杆编号 DJ-0231",
    }
    services.answer(actor=people["alice"], req=req, reply="已转交相关部门。")
    reopened = public.post(
        f"{P}/requests/rate", lookup(req, code, rating=1, comment="没解决", reopen=True)
    ).json()
    assert reopened["status"] == "in_progress" and not reopened["may_reopen"]
    req = services.answer(actor=people["alice"], req=req, reply="今天已修好。")
    refused = public.post(f"{P}/requests/rate", lookup(req, code, rating=2, reopen=True))
    assert_error(refused, 400, "reopen_refused", "reopen")


def test_a_merged_request_shows_the_one_it_joined(public, submit, people):
    first, _c = submit()
    second, code = submit(text="路灯又坏了，跟上次一样，请尽快修")
    services.merge(actor=people["alice"], req=second, into=first)
    services.answer(actor=people["alice"], req=first, reply="已修复。")
    status = public.post(f"{P}/requests/status", lookup(second, code)).json()
    assert status["status"] == "merged"
    assert status["merged_into"]["number"] == first.number
    assert status["merged_into"]["public_reply"] == "已修复。"
    assert not status["may_add"] and not status["may_rate"]


# Bad input from the public ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "code", "field"),
    [
        ({"text": ""}, "required", "text"),
        ({"text": "灯坏"}, "too_short", "text"),
        ({"text": "很" * 2001}, "too_long", "text"),
        ({"phone": "12345"}, "invalid_phone", "phone"),
        ({"email": "not-an-address"}, "invalid_email", "email"),
        ({"category": "spam"}, "invalid_category", "category"),
        ({"consent_contact": True}, "contact_missing", "phone"),
        ({"desk": "nowhere"}, "no_such_desk", "desk"),
        ({"desk": None}, "required", "desk"),
        ({"desk": None, "organization_id": 999999}, "no_such_organization", "organization_id"),
        ({"captcha_token": "forged-token-0123456789"}, "captcha", "captcha_answer"),
        ({"captcha_answer": "WRONG"}, "captcha", "captcha_answer"),
        ({"captcha_answer": ""}, "captcha", "captcha_answer"),
    ],
)
def test_bad_submissions_name_the_field_and_store_nothing(public, values, code, field):
    assert_error(public.submit(**values), 400, code, field)
    assert PublicRequest.objects.count() == 0


def test_a_captcha_answers_once(public):
    solved = public.solved()
    assert public.submit(**solved).status_code == 201
    assert_error(public.submit(**solved), 400, "captcha", "captcha_answer")
    assert PublicRequest.objects.count() == 1


def test_a_missing_field_is_refused_by_the_schema(public):
    response = public.post(f"{P}/requests", {"category": "help"} | public.solved())
    assert_error(response, 422, "invalid", "text")


@pytest.mark.parametrize("bad", ["number", "code", "both"])
def test_a_wrong_number_or_code_gets_one_answer(public, submit, bad):
    req, code = submit()
    given = {
        "number": "20000101-000000" if bad in ("number", "both") else req.number,
        "check_code": "ZZZZZZ" if bad in ("code", "both") else code,
    }
    for path in ("status", "rate", "add"):
        extra = {"rating": 5} if path == "rate" else {"text": "补充"} if path == "add" else {}
        body = assert_error(public.post(f"{P}/requests/{path}", given | extra), 404, "not_found")
        assert body["message"] == not_found() and "field" not in body


def test_the_check_code_never_travels_in_a_url(public, submit):
    req, code = submit()
    response = public.get(f"{P}/requests/status", lookup(req, code))
    assert response.status_code == 405


def test_too_many_submissions_from_one_address_answer_429(public):
    for _ in range(services.SUBMIT_PER_IP[0]):
        assert public.submit().status_code == 201
    body = assert_error(public.submit(), 429, "rate_limited")
    response = public.submit()
    assert 0 < int(response["Retry-After"]) <= services.SUBMIT_PER_IP[1]
    assert PublicRequest.objects.count() == services.SUBMIT_PER_IP[0]
    assert body["message"]
    # Another address is not held back.
    assert Public("198.51.100.1").submit().status_code == 201


def test_too_many_look_ups_from_one_address_answer_429(public, submit):
    req, _code = submit()
    for i in range(services.LOOKUPS_PER_IP[0]):
        wrong = {"number": f"20000101-{i:06d}", "check_code": "WRONG2"}
        assert public.post(f"{P}/requests/status", wrong).status_code == 404
    response = public.post(f"{P}/requests/status", lookup(req, "WRONG2"))
    assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) > 0


# Staff: three people on every operation --------------------------------------------------------


def _answered(submit, people, **values):
    req, _code = submit(**values)
    return services.answer(actor=people["alice"], req=req, reply="已修复。")


# action -> (prepare the request, body of the call); each call succeeds for alice and oscar.
OPERATIONS = {
    "detail": (lambda s, p, t: s()[0], None),
    "accept": (lambda s, p, t: s()[0], None),
    "start": (lambda s, p, t: s()[0], None),
    "assign": (lambda s, p, t: s()[0], lambda p, t, s: {"assignee_id": p["alice"].pk}),
    "note": (lambda s, p, t: s()[0], lambda p, t, s: {"text": "已电话联系"}),
    "forward": (
        lambda s, p, t: s()[0],
        lambda p, t, s: {"to_org_id": t["branch_b"].pk, "reason": "属西街管辖"},
    ),
    "merge": (
        lambda s, p, t: s(text="路灯又坏了，跟上次一样")[0],
        lambda p, t, s: {"into_id": s()[0].pk},
    ),
    "answer": (lambda s, p, t: s()[0], lambda p, t, s: {"reply": "已修复。"}),
    "close": (lambda s, p, t: _answered(s, p), None),
    "reject": (lambda s, p, t: s()[0], lambda p, t, s: {"reason": "不属于受理范围"}),
    "feature": (
        lambda s, p, t: _answered(s, p, allow_public=True),
        lambda p, t, s: {"shown": True},
    ),
    "reveal": (lambda s, p, t: s(name=NAME, phone=PHONE)[0], None),
}


def _call(client, req, action, body):
    if action == "detail":
        return client.get(url(req))
    return client.post(url(req, action), body)


def _state(req):
    req.refresh_from_db()
    return (req.status, req.org_path, req.featured, req.assignee_id, req.entries.count())


@pytest.mark.parametrize("action", list(OPERATIONS))
@pytest.mark.parametrize("who", ["alice", "oscar"])
def test_staff_operations_inside_and_above(request, submit, people, tree, action, who):
    prepare, body = OPERATIONS[action]
    req = prepare(submit, people, tree)
    client = request.getfixturevalue(who)
    response = _call(client, req, action, body(people, tree, submit) if body else None)
    assert response.status_code in (200, 201), (action, response.content)
    if action == "reveal":
        assert response.json() == {
            "name": NAME,
            "phone": PHONE,
            "email": "",
            "masked": False,
            "may_reveal": True,
        }
        event = AuditEvent.objects.get(action="feedback.reveal")
        assert event.user_id == people[who].pk and event.object_label == req.number
        assert event.ip == "127.0.0.1"
    else:
        assert response.json()["number"] == req.number


@pytest.mark.parametrize("action", list(OPERATIONS))
def test_staff_operations_of_a_sibling_branch_do_not_exist(bob, submit, people, tree, action):
    prepare, body = OPERATIONS[action]
    req = prepare(submit, people, tree)
    data = body(people, tree, submit) if body else None
    before, events = _state(req), AuditEvent.objects.count()
    response = _call(bob, req, action, data)
    assert_error(response, 404, "not_found")
    assert _state(req) == before and AuditEvent.objects.count() == events


def test_no_token_is_unauthorized(submit):
    req, _code = submit()
    assert_error(ApiClient().get(f"{F}/requests"), 401, "unauthorized")
    assert_error(ApiClient().post(url(req, "accept")), 401, "unauthorized")


def test_a_committee_member_handles_but_may_not_reveal(carol, submit):
    req, _code = submit(name=NAME, phone=PHONE)
    detail = carol.get(url(req)).json()
    assert detail["contact"]["phone"] == "138****5678" and not detail["contact"]["may_reveal"]
    assert_error(carol.post(url(req, "reveal")), 403, "forbidden")
    assert not AuditEvent.objects.filter(action="feedback.reveal").exists()
    assert carol.post(url(req, "accept")).status_code == 200


def test_an_auditor_sees_but_may_not_handle(make_user, admin, tree, submit):
    auditor = make_user("audrey")
    core_services.assign_role(actor=admin, user=auditor, org=tree["county"], role="auditor")
    client = ApiClient(auditor)
    req, _code = submit()
    assert client.get(url(req)).json()["actions"] == []
    assert_error(client.post(url(req, "answer"), {"reply": "好的"}), 403, "forbidden")
    assert_error(client.post(url(req, "accept")), 403, "forbidden")
    # Refused before the input is looked at, whatever it holds.
    assert_error(client.post(url(req, "assign"), {"assignee_id": 999999}), 403, "forbidden")
    assert_error(
        client.post(url(req, "forward"), {"to_org_id": 999999, "reason": ""}), 403, "forbidden"
    )
    assert_error(client.post(url(req, "feature"), {"shown": True}), 403, "forbidden")
    assert Entry.objects.filter(request=req).count() == 1


def test_the_people_a_request_can_be_given_to(alice, oscar, bob, carol, submit):
    req, _code = submit()

    def names(client):
        return sorted(u["name"] for u in client.get(url(req, "handlers")).json())

    # Handlers at the branch and above it, as far as the caller sees the tree.
    assert names(alice) == sorted(["张丽", "陈静"])
    assert names(oscar) == sorted(["张丽", "陈静", "欧阳明"])
    assert_error(bob.get(url(req, "handlers")), 404, "not_found")


def test_the_inbox_is_scoped_and_filtered(alice, oscar, bob, submit, tree):
    at_a, _c = submit()
    at_b, _c = submit(desk="b", category="complaint", text="西街菜市场门口垃圾堆了三天")

    def numbers(client, **params):
        response = client.get(f"{F}/requests", params)
        assert response.status_code == 200, response.content
        return sorted(i["number"] for i in response.json()["items"])

    assert numbers(alice) == [at_a.number]
    assert numbers(bob) == [at_b.number]
    assert numbers(oscar) == sorted([at_a.number, at_b.number])
    assert numbers(oscar, org=tree["branch_b"].pk) == [at_b.number]
    assert numbers(oscar, category="complaint") == [at_b.number]
    assert numbers(oscar, q="垃圾") == [at_b.number]
    assert numbers(oscar, q=at_a.number) == [at_a.number]
    assert numbers(oscar, view="answered") == []
    assert numbers(bob, q="路灯") == []
    assert_error(bob.get(f"{F}/requests", {"org": tree["branch_a"].pk}), 404, "not_found", "org")
    assert_error(oscar.get(f"{F}/requests", {"view": "spam"}), 422, "invalid", "view")


def test_the_inbox_does_not_query_per_row(oscar, submit, people):
    def queries():
        oscar.get(f"{F}/requests", {"view": "all"})  # the token's last use is written once
        with CaptureQueriesContext(connection) as ctx:
            response = oscar.get(f"{F}/requests", {"view": "all"})
        assert response.status_code == 200
        return len(ctx.captured_queries), response.json()["count"]

    for i in range(2):
        req, _c = submit(ip=f"10.2.0.{i}")
        services.assign(actor=people["alice"], req=req, user=people["alice"])
    few = queries()
    for i in range(4):
        submit(desk="b", ip=f"10.3.0.{i}")
    many = queries()
    assert (few[1], many[1]) == (2, 6)
    assert few[0] == many[0]


# Staff: bad input ------------------------------------------------------------------------------


def test_bad_handling_names_the_field_and_changes_nothing(alice, bob, people, submit, tree):
    req, _code = submit()
    elsewhere, _c = submit(desk="b")
    calls = [
        ("answer", {"reply": "  "}, 400, "required", "reply"),
        ("reject", {"reason": ""}, 400, "required", "reason"),
        ("note", {"text": "很" * 1001}, 400, "too_long", "text"),
        ("forward", {"to_org_id": 999999, "reason": "x"}, 400, "no_such_organization", "to_org_id"),
        (
            "forward",
            {"to_org_id": tree["branch_a"].pk, "reason": "x"},
            400,
            "same_organization",
            "to_org_id",
        ),
        ("assign", {"assignee_id": people["bob"].pk}, 400, "not_a_handler", "assignee_id"),
        ("assign", {"assignee_id": 999999}, 400, "not_a_handler", "assignee_id"),
        ("merge", {"into_id": elsewhere.pk}, 404, "not_found", "into_id"),
        ("merge", {"into_id": req.pk}, 400, "same_request", "into_id"),
        ("feature", {"shown": True}, 400, "not_allowed_public", "featured"),
        ("close", None, 409, "wrong_status", None),
    ]
    before = _state(req)
    for action, body, status, code, field in calls:
        assert_error(alice.post(url(req, action), body), status, code, field)
    assert _state(req) == before
    assert alice.post(url(req, "accept")).status_code == 200
    assert_error(alice.post(url(req, "accept")), 409, "wrong_status")


def test_a_forwarded_request_leaves_the_scope(alice, bob, submit, tree):
    req, _code = submit()
    response = alice.post(
        url(req, "forward"), {"to_org_id": tree["branch_b"].pk, "reason": "属西街"}
    )
    assert response.json()["organization"]["id"] == tree["branch_b"].pk
    assert_error(alice.get(url(req)), 404, "not_found")
    assert bob.get(url(req)).json()["status"] == "received"


# Staff: figures, rules, desks ------------------------------------------------------------------


def test_figures_by_child_within_the_scope(oscar, alice, submit, people, tree):
    submit()
    answered = _answered(submit, people)
    services.rate(req=answered, rating=4)
    submit(desk="b")
    body = oscar.get(f"{F}/figures", {"org": tree["town"].pk}).json()
    assert body["total"] == 3 and body["answered"] == 1 and body["satisfied"] == 1
    assert body["organization"]["id"] == tree["town"].pk
    children = {row["organization"]["code"]: row for row in body["by_child"]}
    assert children["B01"]["total"] == 2 and children["B02"]["total"] == 1
    assert body["by_category"] == [
        {
            "category": "help",
            "category_name": str(Category.HELP.label),
            "total": 3,
            "avg_rating": 4.0,
        }
    ]
    assert sum(row["total"] for row in body["by_month"]) == 3
    assert alice.get(f"{F}/figures").json()["total"] == 2
    assert_error(alice.get(f"{F}/figures", {"org": tree["branch_b"].pk}), 404, "not_found", "org")
    assert oscar.get(f"{F}/figures", {"since": "2099-01-01"}).json()["total"] == 0


def test_routing_rules_by_three_people(alice, oscar, bob, carol, tree):
    made = alice.post(
        f"{F}/rules", {"organization_id": tree["group_a"].pk, "keywords": "路灯、照明", "weight": 2}
    )
    assert made.status_code == 201, made.content
    rule = made.json()
    assert rule["keywords"] == "照明 路灯" and rule["organization"]["code"] == "G01"
    assert [r["id"] for r in oscar.get(f"{F}/rules").json()["items"]] == [rule["id"]]
    assert bob.get(f"{F}/rules").json()["items"] == []
    assert_error(bob.delete(f"{F}/rules/{rule['id']}"), 404, "not_found")
    body = {"organization_id": tree["branch_a"].pk, "keywords": "垃圾"}
    assert_error(carol.post(f"{F}/rules", body), 403, "forbidden")
    assert_error(bob.post(f"{F}/rules", body), 404, "not_found", "organization_id")
    assert_error(alice.post(f"{F}/rules", body | {"weight": 11}), 400, "invalid_weight", "weight")
    assert_error(alice.post(f"{F}/rules", body | {"keywords": " "}), 400, "required", "keywords")
    assert_error(
        alice.post(f"{F}/rules", body | {"category": "spam"}), 400, "invalid_category", "category"
    )
    assert oscar.delete(f"{F}/rules/{rule['id']}").json() == {"id": rule["id"]}
    assert not RoutingRule.objects.exists()
    assert AuditEvent.objects.filter(action="feedback.rule_delete").count() == 1


def test_desks_by_three_people(alice, bob, carol, desks, tree):
    assert [d["code"] for d in alice.get(f"{F}/desks").json()["items"]] == ["dongjie"]
    body = {"organization_id": tree["group_a"].pk, "code": "dongjie-1", "place": "一组"}
    assert alice.post(f"{F}/desks", body).status_code == 201
    changed = alice.post(f"{F}/desks", body | {"place": "第一小组", "active": False})
    assert changed.status_code == 200 and changed.json()["place"] == "第一小组"
    assert_error(alice.post(f"{F}/desks", body | {"code": "xijie"}), 400, "code_taken", "code")
    assert_error(alice.post(f"{F}/desks", body | {"code": "东街"}), 400, "invalid_code", "code")
    assert_error(carol.post(f"{F}/desks", body), 403, "forbidden")
    assert_error(bob.post(f"{F}/desks", body), 404, "not_found", "organization_id")
    # The closed desk takes no more requests from the public.
    codes = [d["code"] for d in Client().get(f"{P}/desks").json()["items"]]
    assert "dongjie-1" not in codes


def test_forward_targets_reach_the_whole_platform(alice, carol, tree):
    found = alice.get(f"{F}/forward-targets", {"q": "河口"}).json()
    assert [o["code"] for o in found] == ["T02"]
    assert ApiClient().get(f"{F}/forward-targets", {"q": "河口"}).status_code == 401


def test_an_answer_reaches_the_status_of_a_request_submitted_through_the_service(
    public, submit, oscar
):
    req, code = submit(name=NAME, phone=PHONE)
    oscar.post(url(req, "answer"), {"reply": "已处理。", "signed": "城关镇党委"})
    status = private(public.post(f"{P}/requests/status", lookup(req, code))).json()
    assert status["replied_by"] == "城关镇党委" and status["status"] == Status.ANSWERED


@pytest.mark.parametrize("params", [{"until": "9999-12-31"}, {"since": "0001-01-01"}])
def test_figures_refuse_dates_out_of_range_without_a_500(oscar, params):
    response = oscar.get(f"{F}/figures", params)
    assert response.status_code == 422 and response.json()["code"] == "invalid", response.content
