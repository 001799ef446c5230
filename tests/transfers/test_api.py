"""The transfers API at /api/v1/transfers: transfers within the platform (one and several),
letters out of it and into it, mobile members, members out of contact; the receiving side sees
the transfer but not the member's record until it accepts; scope (alice inside, oscar above, bob
beside); bad input answers a code naming the field and writes nothing; every write is audited;
lists do not query per row."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dangjian.core import services as core_services
from dangjian.core.models import AuditEvent
from dangjian.members import services as member_services
from dangjian.members.models import Member, StandingEvent
from dangjian.transfers import services
from dangjian.transfers.models import MobileStay, Transfer
from tests.idnumbers import make_id
from tests.members.test_api import ApiClient, assert_error

pytestmark = pytest.mark.django_db

T = "/api/v1/transfers"
M = "/api/v1/members"


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
def branch_c(admin, tree):
    """A branch of the other town: outside the scope of alice, oscar and bob."""
    return core_services.create_organization(
        actor=admin, parent=tree["other_town"], code="B21", name="河口村党支部", kind="branch"
    )


def today():
    return timezone.localdate()


def days(n):
    return (today() + datetime.timedelta(days=n)).isoformat()


D_ = datetime.date.fromisoformat


def audited(action, obj) -> AuditEvent:
    pk = obj if isinstance(obj, int) else obj.pk
    return AuditEvent.objects.get(action=action, object_id=str(pk))


def state():
    """Everything a transfer call could change."""
    return (
        tuple(
            Transfer.objects.order_by("pk").values_list(
                "pk", "state", "member_id", "decided_on", "receipt_on"
            )
        ),
        tuple(Member.objects.order_by("pk").values_list("pk", "organization_id", "status")),
        tuple(MobileStay.objects.order_by("pk").values_list("pk", "state")),
        StandingEvent.objects.count(),
        AuditEvent.objects.count(),
    )


def record(**extra):
    """The body of a new member record, for confirming an incoming letter."""
    return {
        "name": "孙八",
        "id_number": make_id("1988-02-02", 1, seq=77),
        "joined_on": "2012-07-01",
        "full_on": "2013-07-01",
        "category": "full",
        **extra,
    }


# Within the platform ---------------------------------------------------------------------------

TRANSFER_FIELDS = {
    "id",
    "direction",
    "direction_name",
    "state",
    "state_name",
    "member_id",
    "person_name",
    "sex",
    "sex_name",
    "category",
    "category_name",
    "from_org",
    "to_org",
    "counterpart",
    "reason",
    "started_on",
    "decided_on",
    "decision_note",
    "batch",
    "letter_number",
    "letter_issuer",
    "addressee",
    "valid_until",
    "receipt_on",
    "created_at",
}


def test_transfer_from_a_to_b_accepted_by_b(alice, bob, people, tree, roster):
    zhang = roster["zhang"]
    body = {"member_id": zhang.pk, "to_org_id": tree["branch_b"].pk, "reason": "工作调动"}
    response = alice.post(T, body)
    assert response.status_code == 201, response.content
    [made] = response.json()
    assert (made["direction"], made["state"], made["person_name"]) == (
        "internal",
        "pending",
        "张三",
    )
    assert (made["from_org"]["id"], made["to_org"]["id"]) == (
        tree["branch_a"].pk,
        tree["branch_b"].pk,
    )
    assert made["started_on"] == today().isoformat() and made["batch"] is None
    assert audited("transfer.start", made["id"]).user == people["alice"]
    url = f"{T}/{made['id']}"

    # B sees it arriving, with what the transfer says of the person, and nothing of the record.
    incoming = bob.get(T, {"side": "incoming"}).json()["items"]
    assert [t["id"] for t in incoming] == [made["id"]]
    seen = bob.get(url)
    assert seen.status_code == 200, seen.content
    assert set(seen.json()) == TRANSFER_FIELDS
    assert (seen.json()["sex"], seen.json()["category"]) == ("1", "full")
    text = seen.content.decode()
    for secret in ("13900001111", "1985-03-12", "19850312", "1111"):
        assert secret not in text, f"{secret} leaks through the transfer"
    assert_error(bob.get(f"{M}/{zhang.pk}"), 404, "not_found")
    assert_error(bob.get(f"{M}/{zhang.pk}/events"), 404, "not_found")
    assert zhang.pk not in [m["id"] for m in bob.get(M).json()["items"]]
    assert bob.get(T, {"side": "outgoing"}).json()["items"] == []

    # The sending side cannot accept it; the receiving side does, once.
    assert_error(alice.post(f"{url}/accept", {}), 403, "forbidden")
    response = bob.post(f"{url}/accept", {"on": today().isoformat()})
    assert response.status_code == 200, response.content
    assert (response.json()["state"], response.json()["decided_on"]) == (
        "completed",
        today().isoformat(),
    )
    assert audited("transfer.accept", made["id"]).user == people["bob"]
    zhang.refresh_from_db()
    assert (zhang.organization_id, zhang.org_path) == (tree["branch_b"].pk, tree["branch_b"].path)
    assert bob.get(f"{M}/{zhang.pk}").status_code == 200
    assert_error(alice.get(f"{M}/{zhang.pk}"), 404, "not_found")
    assert alice.get(url).status_code == 200  # the sender still sees its transfer

    before = state()
    assert_error(bob.post(f"{url}/accept", {}), 409, "already_decided")
    assert_error(bob.post(f"{url}/return", {"reason": "x"}), 409, "already_decided")
    assert state() == before


@pytest.mark.parametrize(
    ("target", "code"),
    [
        ("town", "not_a_branch"),
        ("group_a", "not_a_branch"),
        ("dissolved", "organization_dissolved"),
        ("missing", "no_such_organization"),
        ("branch_a", "same_organization"),
    ],
)
def test_bad_target_answers_400_with_its_code(alice, admin, tree, roster, target, code):
    if target == "dissolved":
        org = core_services.create_organization(
            actor=admin, parent=tree["town"], code="B09", name="旧党支部", kind="branch"
        )
        core_services.dissolve_organization(actor=admin, org=org)
        to_org_id = org.pk
    else:
        to_org_id = 999999 if target == "missing" else tree[target].pk
    before = state()
    body = {"member_id": roster["zhang"].pk, "to_org_id": to_org_id}
    assert_error(alice.post(T, body), 400, code, "to_org_id")
    body = {"member_ids": [roster["zhang"].pk, roster["wang"].pk], "to_org_id": to_org_id}
    assert_error(alice.post(T, body), 400, code, "to_org_id")
    assert state() == before


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({}, 400, "required", "member_id"),
        ({"member_id": "zhang", "member_ids": ["wang"]}, 400, "required", "member_id"),
        ({"member_id": "zhao"}, 404, "not_found", "member_id"),  # bob's member
        ({"member_ids": ["wang", "zhao"]}, 404, "not_found", "member_ids.1"),
        ({"member_id": "zhang", "on": "2099-01-01"}, 400, "future_date", "on"),
        ({"member_id": "zhang", "on": "someday"}, 422, "invalid", "on"),
        ({"member_id": "zhang", "reason": "x" * 256}, 400, "too_long", "reason"),
        ({"member_ids": []}, 400, "required", "member_ids"),
    ],
)
def test_bad_start(alice, tree, roster, body, status, code, field):
    def pk(name):
        return roster[name].pk

    body = {
        k: (pk(v) if k == "member_id" else [pk(n) for n in v] if k == "member_ids" else v)
        for k, v in body.items()
    }
    body["to_org_id"] = tree["branch_b"].pk
    before = state()
    assert_error(alice.post(T, body), status, code, field)
    assert state() == before


def test_group_transfer_is_one_batch_all_or_nothing(alice, bob, people, tree, roster):
    body = {"member_ids": [roster["zhang"].pk, roster["wang"].pk], "to_org_id": tree["branch_b"].pk}
    response = alice.post(T, body)
    assert response.status_code == 201, response.content
    made = response.json()
    assert sorted(t["person_name"] for t in made) == ["张三", "王五"]
    batch = made[0]["batch"]
    assert batch and {t["batch"] for t in made} == {batch}
    listed = bob.get(T, {"batch": batch, "side": "incoming"}).json()
    assert listed["count"] == 2

    # 张三 is under way already: the next group (with 李四) is refused whole.
    before = state()
    again = {"member_ids": [roster["li"].pk, roster["zhang"].pk], "to_org_id": tree["branch_b"].pk}
    assert_error(alice.post(T, again), 409, "transfer_open", "member_ids")
    assert state() == before


def test_return_needs_a_reason_and_cancel_by_the_sender(alice, bob, people, tree, roster):
    first = alice.post(T, {"member_id": roster["zhang"].pk, "to_org_id": tree["branch_b"].pk})
    url = f"{T}/{first.json()[0]['id']}"
    before = state()
    assert_error(bob.post(f"{url}/return", {"reason": "  "}), 400, "required", "reason")
    assert_error(bob.post(f"{url}/return", {}), 422, "invalid", "reason")
    assert_error(bob.post(f"{url}/cancel", {}), 403, "forbidden")  # only the sender withdraws
    assert state() == before
    response = bob.post(f"{url}/return", {"reason": "不在本单位工作"})
    assert response.status_code == 200, response.content
    assert (response.json()["state"], response.json()["decision_note"]) == (
        "returned",
        "不在本单位工作",
    )
    assert audited("transfer.return", response.json()["id"]).user == people["bob"]
    roster["zhang"].refresh_from_db()
    assert roster["zhang"].organization_id == tree["branch_a"].pk

    second = alice.post(T, {"member_id": roster["zhang"].pk, "to_org_id": tree["branch_b"].pk})
    url = f"{T}/{second.json()[0]['id']}"
    response = alice.post(f"{url}/cancel", {"reason": "调动取消"})
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "cancelled"
    assert audited("transfer.cancel", response.json()["id"]).user == people["alice"]
    assert_error(bob.post(f"{url}/accept", {}), 409, "already_decided")


def test_list_sides_and_filters(alice, oscar, bob, admin, people, tree, roster):
    out = services.start_transfer(actor=admin, member=roster["zhang"], to_org=tree["branch_b"])
    back = services.start_transfer(actor=admin, member=roster["zhao"], to_org=tree["branch_a"])
    old = services.start_transfer(
        actor=admin,
        member=roster["wang"],
        to_org=tree["branch_b"],
        on=today() - datetime.timedelta(days=60),
    )
    letter = services.issue_letter(actor=admin, member=roster["li"], counterpart="外省某党委")

    def ids(client, **query):
        response = client.get(T, query)
        assert response.status_code == 200, response.content
        return {t["id"] for t in response.json()["items"]}

    assert ids(alice) == {out.pk, back.pk, old.pk, letter.pk}
    assert ids(alice, side="outgoing") == {out.pk, old.pk, letter.pk}
    assert ids(alice, side="incoming") == {back.pk}
    assert ids(alice, side="stuck") == {old.pk}
    assert ids(alice, direction="outgoing") == {letter.pk}
    assert ids(bob, side="incoming") == {out.pk, old.pk}
    assert ids(oscar, org=tree["branch_b"].pk) == {out.pk, back.pk, old.pk}
    assert ids(oscar, side="outgoing", org=tree["branch_b"].pk) == {back.pk}
    services.cancel_transfer(actor=admin, transfer=out)
    assert ids(oscar, state="cancelled") == {out.pk}
    assert_error(oscar.get(T, {"side": "sideways"}), 422, "invalid", "side")
    assert_error(bob.get(T, {"org": tree["branch_a"].pk}), 404, "not_found", "org")


def test_targets_search_the_whole_tree(alice, bob, people, tree, branch_c, make_user):
    response = alice.get(f"{T}/targets", {"q": "村"})
    assert response.status_code == 200, response.content
    assert response.json() == [
        {
            "id": branch_c.pk,
            "code": "B21",
            "name": "河口村党支部",
            "kind": "branch",
            "parent_name": "河口镇党委",
        }
    ]
    names = {o["name"] for o in alice.get(f"{T}/targets", {"q": "党"}).json()}
    assert "城关镇党委" not in names and "第一党小组" not in names  # branches only
    assert {"东街社区党支部", "西街社区党支部", "河口村党支部"} <= names
    assert bob.get(f"{T}/targets", {"q": "B21"}).json()[0]["id"] == branch_c.pk
    assert alice.get(f"{T}/targets", {"q": " "}).json() == []
    assert_error(alice.get(f"{T}/targets"), 422, "invalid", "q")
    nobody = ApiClient(make_user("nobody"))
    assert nobody.get(f"{T}/targets", {"q": "村"}).json() == []


# Letters ---------------------------------------------------------------------------------------


def test_letter_out_and_its_receipt(alice, people, tree, roster):
    body = {
        "member_id": roster["wang"].pk,
        "counterpart": "某市某区某街道党工委",
        "valid_days": 60,
        "reason": "迁居",
    }
    response = alice.post(f"{T}/letters", body)
    assert response.status_code == 201, response.content
    letter = response.json()
    assert letter["direction"] == "outgoing" and letter["to_org"] is None
    assert letter["letter_number"] == f"{today().year}-0001"
    assert letter["letter_issuer"]["id"] == tree["town"].pk
    assert (letter["addressee"], letter["valid_until"]) == ("某市某区某街道党工委", days(60))
    assert audited("letter.issue", letter["id"]).user == people["alice"]
    second = alice.post(f"{T}/letters", body | {"member_id": roster["zhang"].pk}).json()
    assert second["letter_number"] == f"{today().year}-0002"

    response = alice.post(f"{T}/{letter['id']}/receipt", {})
    assert response.status_code == 200, response.content
    assert (response.json()["state"], response.json()["receipt_on"]) == (
        "completed",
        today().isoformat(),
    )
    assert audited("letter.receipt", letter["id"]).user == people["alice"]
    assert Member.objects.get(pk=roster["wang"].pk).status == "transferred_out"
    assert_error(alice.post(f"{T}/{letter['id']}/receipt", {}), 409, "already_decided")


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [
        ({"valid_days": 100}, 422, "invalid", "valid_days"),
        ({"valid_days": 0}, 422, "invalid", "valid_days"),
        ({"valid_days": 3000000}, 422, "invalid", "valid_days"),
        ({"valid_days": 10**30}, 422, "invalid", "valid_days"),
        ({"valid_days": 92, "on": "2025-11-30"}, 400, "validity", "valid_days"),
        ({"counterpart": " "}, 400, "required", "counterpart"),
        ({"on": "2099-01-01"}, 400, "future_date", "on"),
        ({"member_id": 999999}, 404, "not_found", "member_id"),
    ],
)
def test_bad_letter(alice, roster, change, status, code, field):
    body = {"member_id": roster["wang"].pk, "counterpart": "外省某党委"} | change
    before = state()
    assert_error(alice.post(f"{T}/letters", body), status, code, field)
    assert state() == before


def test_receipt_is_for_letters_only(alice, bob, tree, roster):
    made = alice.post(T, {"member_id": roster["zhang"].pk, "to_org_id": tree["branch_b"].pk})
    assert_error(alice.post(f"{T}/{made.json()[0]['id']}/receipt", {}), 400, "invalid")


def test_incoming_letter_registered_once_and_confirmed(alice, people, tree):
    body = {
        "to_org_id": tree["branch_a"].pk,
        "letter_number": "外组〔2026〕42号",
        "counterpart": "外县委组织部",
        "person_name": "孙八",
        "valid_until": days(20),
    }
    response = alice.post(f"{T}/incoming", body)
    assert response.status_code == 201, response.content
    letter = response.json()
    assert (letter["direction"], letter["member_id"], letter["from_org"]) == (
        "incoming",
        None,
        None,
    )
    assert audited("letter.register", letter["id"]).user == people["alice"]
    before = state()
    again = alice.post(f"{T}/incoming", body | {"person_name": "孙八八"})
    assert_error(again, 409, "duplicate_letter", "letter_number")
    assert state() == before

    url = f"{T}/{letter['id']}/confirm"
    bad = alice.post(
        url, {"record": record(id_number="110105194912310021", joined_on="2012-13-01")}
    )
    body_bad = assert_error(bad, 400, "invalid_date")
    assert {e["loc"][0] for e in body_bad["errors"]} == {"record.joined_on"}
    bad = alice.post(url, {"record": record(id_number="110105194912310021")})
    assert_error(bad, 400, "invalid_id_number", "record.id_number")
    assert_error(alice.post(url, {}), 400, "required", "record")
    assert_error(alice.post(url, {"record": record(), "id_number": "x"}), 400, "required")
    assert state() == before

    response = alice.post(url, {"record": record(phone="13700002222")})
    assert response.status_code == 200, response.content
    done = response.json()
    assert done["state"] == "completed" and done["member_id"]
    member = Member.objects.get(pk=done["member_id"])
    assert (member.name, member.organization_id, member.status) == (
        "孙八",
        tree["branch_a"].pk,
        "active",
    )
    assert audited("letter.confirm", letter["id"]).user == people["alice"]
    assert audited("member.create", member).user == people["alice"]
    assert_error(alice.post(url, {"record": record()}), 409, "already_decided")


def test_incoming_letter_links_a_returning_record(alice, oscar, admin, tree, roster):
    # 钱七 left branch B with a letter; she comes back to branch A with one from outside.
    qian = roster["qian"]
    out = services.issue_letter(actor=admin, member=qian, counterpart="外省某党委")
    services.record_receipt(actor=admin, transfer=out)
    back = services.register_incoming(
        actor=admin,
        to_org=tree["branch_a"],
        letter_number="外组〔2026〕50号",
        counterpart="外省某党委",
        person_name="钱七",
    )
    url = f"{T}/{back.pk}/confirm"
    # Out of alice's scope by id; found anywhere by her ID number.
    assert_error(alice.post(url, {"member_id": qian.pk}), 404, "not_found", "member_id")
    assert_error(
        alice.post(url, {"id_number": make_id("1990-01-01", 1, seq=5)}),
        404,
        "not_found",
        "id_number",
    )
    assert_error(alice.post(url, {"id_number": "12345"}), 400, "invalid_id_number", "id_number")
    number = member_services.member_id_number(qian)
    response = alice.post(url, {"id_number": number.lower()})
    assert response.status_code == 200, response.content
    assert response.json()["member_id"] == qian.pk
    qian.refresh_from_db()
    assert (qian.status, qian.organization_id) == ("active", tree["branch_a"].pk)


def test_confirm_of_an_active_member_is_refused(oscar, admin, tree, roster):
    letter = services.register_incoming(
        actor=admin,
        to_org=tree["branch_a"],
        letter_number="外组〔2026〕51号",
        counterpart="外省某党委",
        person_name="赵六",
    )
    before = state()
    response = oscar.post(f"{T}/{letter.pk}/confirm", {"member_id": roster["zhao"].pk})
    assert_error(response, 409, "already_member", "member_id")
    assert state() == before


# Mobile members --------------------------------------------------------------------------------


def test_mobile_out_seen_by_the_host_then_back(alice, bob, people, tree, roster):
    body = {
        "member_id": roster["zhang"].pk,
        "host_org_id": tree["branch_b"].pk,
        "expected_return": days(90),
        "card_number": "LD001",
    }
    response = alice.post(f"{T}/mobile/out", body)
    assert response.status_code == 201, response.content
    stay = response.json()
    assert (stay["destination"], stay["state"], stay["host_org"]["id"]) == (
        "西街社区党支部",
        "active",
        tree["branch_b"].pk,
    )
    assert audited("mobile.out", stay["id"]).user == people["alice"]
    assert [s["id"] for s in bob.get(f"{T}/mobile", {"side": "in"}).json()["items"]] == [stay["id"]]
    assert bob.get(f"{T}/mobile", {"side": "out"}).json()["items"] == []
    assert_error(bob.get(f"{M}/{roster['zhang'].pk}"), 404, "not_found")
    assert_error(alice.post(f"{T}/mobile/out", body), 409, "already_mobile")

    # The host sees the stay; ending it or turning it into a transfer is for the home branch.
    before = state()
    assert_error(bob.post(f"{T}/mobile/{stay['id']}/return", {}), 403, "forbidden")
    assert_error(bob.post(f"{T}/mobile/{stay['id']}/convert", {}), 403, "forbidden")
    assert state() == before
    response = alice.post(f"{T}/mobile/{stay['id']}/return", {})
    assert response.status_code == 200, response.content
    assert (response.json()["state"], response.json()["returned_on"]) == (
        "returned",
        today().isoformat(),
    )
    assert audited("mobile.return", stay["id"]).user == people["alice"]
    assert alice.get(f"{T}/mobile", {"side": "out"}).json()["count"] == 0
    assert alice.get(f"{T}/mobile", {"side": "out", "active": False}).json()["count"] == 1
    roster["zhang"].refresh_from_db()
    assert not roster["zhang"].mobile


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [
        ({"expected_return": 200}, 400, "too_long", "expected_return"),
        ({"expected_return": -1}, 400, "return_before_leaving", "expected_return"),
        ({"host_org_id": None, "destination": ""}, 400, "required", "destination"),
        ({"host_org_id": 999999}, 400, "no_such_organization", "host_org_id"),
        ({"host_org_id": "town"}, 400, "not_a_branch", "host_org_id"),
        ({"host_org_id": "branch_a"}, 400, "same_organization", "host_org_id"),
    ],
)
def test_bad_mobile_out(alice, tree, roster, change, status, code, field):
    body = {"member_id": roster["zhang"].pk, "host_org_id": tree["branch_b"].pk} | change
    if isinstance(body.get("expected_return"), int):
        body["expected_return"] = days(body["expected_return"])
    if isinstance(body.get("host_org_id"), str):
        body["host_org_id"] = tree[body["host_org_id"]].pk
    before = state()
    assert_error(alice.post(f"{T}/mobile/out", body), status, code, field)
    assert state() == before


def test_mobile_in_and_convert(alice, bob, people, tree, roster):
    response = alice.post(
        f"{T}/mobile/in",
        {
            "host_org_id": tree["branch_a"].pk,
            "person_name": "郑十一",
            "home_text": "外省某村党支部",
        },
    )
    assert response.status_code == 201, response.content
    guest = response.json()
    assert (guest["member_id"], guest["home_org"], guest["home_text"]) == (
        None,
        None,
        "外省某村党支部",
    )
    assert audited("mobile.in", guest["id"]).user == people["alice"]
    assert_error(
        alice.post(f"{T}/mobile/{guest['id']}/convert", {}), 400, "not_ours"
    )  # of elsewhere
    assert_error(
        alice.post(
            f"{T}/mobile/in",
            {"host_org_id": tree["branch_a"].pk, "person_name": "x", "home_text": " "},
        ),
        400,
        "required",
        "home_text",
    )

    away = services.register_mobile_out(
        actor=people["alice"], member=roster["wang"], host_org=tree["branch_b"]
    )
    response = alice.post(f"{T}/mobile/{away.pk}/convert", {"reason": "在流入地定居"})
    assert response.status_code == 201, response.content
    transfer = response.json()
    assert (transfer["to_org"]["id"], transfer["state"]) == (tree["branch_b"].pk, "pending")
    assert audited("mobile.convert", away).user == people["alice"]
    assert MobileStay.objects.get(pk=away.pk).transfer_id == transfer["id"]
    assert bob.post(f"{T}/{transfer['id']}/accept", {}).status_code == 200


# Out of contact --------------------------------------------------------------------------------


def _lose(member, on, actor):
    member_services.record_event(actor=actor, member=member, kind="lost_contact", on=on)


def test_contact_flags_and_decision(alice, bob, people, tree, roster):
    _lose(roster["wang"], datetime.date(2024, 1, 10), people["alice"])
    _lose(roster["zhang"], today() - datetime.timedelta(days=30), people["alice"])
    response = alice.get(f"{T}/contact")
    assert response.status_code == 200, response.content
    rows = {r["name"]: r for r in response.json()["items"]}
    assert (rows["王五"]["flag"], rows["王五"]["flag_due"]) == ("suspend", "2024-07-10")
    assert rows["张三"]["flag"] == "" and rows["张三"]["flag_due"] > today().isoformat()
    assert rows["王五"]["organization"]["id"] == tree["branch_a"].pk
    assert bob.get(f"{T}/contact").json()["count"] == 0

    url = f"{T}/contact/{roster['wang'].pk}/decision"
    before = state()
    assert_error(
        alice.post(url, {"decision": "remove", "reference": "x"}), 400, "not_due", "decision"
    )
    assert_error(
        alice.post(url, {"decision": "suspend", "reference": " "}), 400, "required", "reference"
    )
    assert_error(
        alice.post(url, {"decision": "expel", "reference": "x"}), 422, "invalid", "decision"
    )
    zhang_url = f"{T}/contact/{roster['zhang'].pk}/decision"
    assert_error(alice.post(zhang_url, {"decision": "suspend", "reference": "x"}), 400, "not_due")
    assert state() == before

    response = alice.post(url, {"decision": "suspend", "reference": "东街支委会决议1号"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["standing"], body["suspended_on"], body["flag"]) == (
        "suspended",
        today().isoformat(),
        "",
    )
    assert body["flag_due"] == (
        datetime.date(today().year + 2, today().month, today().day).isoformat()
    )
    event = AuditEvent.objects.filter(
        action="member.event", subject__endswith=f":{roster['wang'].pk}"
    )
    assert event.filter(user=people["alice"]).exists()


# Scope: alice inside, oscar above, bob beside --------------------------------------------------


@pytest.fixture
def inside(people, tree, roster, admin, branch_c, make_member):
    """Transfers, letters, stays and a member out of contact, all of branch A (and C)."""
    a = tree["branch_a"]
    c_member = make_member(branch_c, "孙八", birth="1983-08-08")
    extra = {
        name: make_member(a, name, birth=f"1970-01-0{i + 1}") for i, name in enumerate("甲乙丙丁")
    }
    lost = make_member(a, "周九", birth="1975-05-05")
    _lose(lost, datetime.date(2024, 1, 10), admin)
    stay = services.register_mobile_out(actor=admin, member=extra["丙"], destination="杭州市")
    return {
        "out": services.start_transfer(actor=admin, member=roster["zhang"], to_org=branch_c),
        "in": services.start_transfer(actor=admin, member=c_member, to_org=a),
        "letter": services.issue_letter(
            actor=admin, member=roster["wang"], counterpart="外省某党委"
        ),
        "incoming": services.register_incoming(
            actor=admin, to_org=a, letter_number="外组1号", counterpart="外县", person_name="吴十"
        ),
        "stay": stay,
        "lost": lost,
        "a": a,
        **extra,
    }


# name: (method, url, body, statuses of alice, oscar, bob)
SCOPE = {
    "list": ("get", lambda o: f"{T}?org={o['a'].pk}", None, (200, 200, 404)),
    "targets": ("get", lambda o: f"{T}/targets?q=B01", None, (200, 200, 200)),  # names only
    # From A to B: bob cannot name a member of A.
    "start": (
        "post",
        lambda o: T,
        lambda o: {"member_id": o["甲"].pk, "to_org_id": o["branch_b"].pk},
        (201, 201, 404),
    ),
    "one": ("get", lambda o: f"{T}/{o['out'].pk}", None, (200, 200, 404)),
    "accept": ("post", lambda o: f"{T}/{o['in'].pk}/accept", {}, (200, 200, 404)),
    "return": (
        "post",
        lambda o: f"{T}/{o['in'].pk}/return",
        {"reason": "查无此人"},
        (200, 200, 404),
    ),
    "cancel": ("post", lambda o: f"{T}/{o['out'].pk}/cancel", {}, (200, 200, 404)),
    "letter": (
        "post",
        lambda o: f"{T}/letters",
        lambda o: {"member_id": o["乙"].pk, "counterpart": "外省某党委"},
        (201, 201, 404),
    ),
    "receipt": ("post", lambda o: f"{T}/{o['letter'].pk}/receipt", {}, (200, 200, 404)),
    "incoming": (
        "post",
        lambda o: f"{T}/incoming",
        lambda o: {
            "to_org_id": o["a"].pk,
            "letter_number": "外组2号",
            "counterpart": "外县",
            "person_name": "郑十一",
        },
        (201, 201, 404),
    ),
    "confirm": (
        "post",
        lambda o: f"{T}/{o['incoming'].pk}/confirm",
        {"record": record(name="吴十")},
        (200, 200, 404),
    ),
    "mobile": ("get", lambda o: f"{T}/mobile?org={o['a'].pk}", None, (200, 200, 404)),
    "mobile_out": (
        "post",
        lambda o: f"{T}/mobile/out",
        lambda o: {"member_id": o["丁"].pk, "destination": "宁波市"},
        (201, 201, 404),
    ),
    "mobile_in": (
        "post",
        lambda o: f"{T}/mobile/in",
        lambda o: {"host_org_id": o["a"].pk, "person_name": "郑十一", "home_text": "外省"},
        (201, 201, 404),
    ),
    "mobile_return": ("post", lambda o: f"{T}/mobile/{o['stay'].pk}/return", {}, (200, 200, 404)),
    "mobile_convert": (
        "post",
        lambda o: f"{T}/mobile/{o['stay'].pk}/convert",
        {"counterpart": "杭州市某街道党工委"},
        (201, 201, 404),
    ),
    "contact": ("get", lambda o: f"{T}/contact?org={o['a'].pk}", None, (200, 200, 404)),
    "decision": (
        "post",
        lambda o: f"{T}/contact/{o['lost'].pk}/decision",
        {"decision": "suspend", "reference": "支委会决议"},
        (200, 200, 404),
    ),
}


def test_every_operation_has_a_scope_row():
    from dangjian.transfers.api import router

    operations = {
        (method.lower(), path)
        for path, view in router.path_operations.items()
        for op in view.operations
        for method in op.methods
    }
    assert len(SCOPE) == len(operations), sorted(operations)


@pytest.mark.parametrize("person", ["alice", "oscar", "bob"])
@pytest.mark.parametrize("name", list(SCOPE))
def test_scope(people, tree, inside, name, person):
    method, url, body, expected = SCOPE[name]
    status = dict(zip(["alice", "oscar", "bob"], expected, strict=True))[person]
    objects = inside | tree
    client = ApiClient(people[person])
    if callable(body):
        body = body(objects)
    before = state()
    if method == "get":
        response = client.get(url(objects))
    else:
        response = client.post(url(objects), body)
    assert response.status_code == status, (name, person, response.content)
    if status == 404:
        assert response.json()["code"] == "not_found"
    if status >= 400:
        assert state() == before, "a refused call changed something"


def test_lists_show_nothing_of_a_sibling(bob, inside):
    assert bob.get(T).json()["count"] == 0
    assert bob.get(f"{T}/mobile").json()["count"] == 0
    assert bob.get(f"{T}/contact").json()["count"] == 0


# Query counts ----------------------------------------------------------------------------------


def _queries(client, url, query=None):
    client.get(url, query)  # the token's last use is written at most once a minute
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, query)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


def test_lists_do_not_query_per_row(oscar, admin, tree, make_member):
    a, b = tree["branch_a"], tree["branch_b"]
    seq = iter(range(100))

    def add(n):
        for _ in range(n):
            i = next(seq)
            one = make_member(a, f"甲{i}", birth="1980-06-01")
            services.start_transfer(actor=admin, member=one, to_org=b)
            two = make_member(b, f"乙{i}", birth="1980-06-02")
            services.issue_letter(actor=admin, member=two, counterpart="外省")
            three = make_member(a, f"丙{i}", birth="1980-06-03")
            services.register_mobile_out(actor=admin, member=three, host_org=b)
            four = make_member(b, f"丁{i}", birth="1980-06-04")
            _lose(four, datetime.date(2024, 1, 10), admin)
            core_services.create_organization(
                actor=admin,
                parent=tree["other_town"],
                code=f"R{i:02d}",
                name=f"村{i}党支部",
                kind="branch",
            )

    urls = [
        (T, {"page_size": 100}),
        (T, {"side": "incoming"}),
        (T, {"side": "outgoing", "org": a.pk}),
        (T, {"side": "stuck"}),
        (f"{T}/mobile", {"page_size": 100}),
        (f"{T}/mobile", {"side": "in"}),
        (f"{T}/contact", {}),
        (f"{T}/targets", {"q": "党支部"}),
    ]
    add(2)
    few = [_queries(oscar, url, query) for url, query in urls]
    add(5)
    many = [_queries(oscar, url, query) for url, query in urls]
    assert oscar.get(T).json()["count"] == 14
    assert oscar.get(f"{T}/contact").json()["count"] == 7
    assert len(oscar.get(f"{T}/targets", {"q": "村"}).json()) == 7
    assert many == few


# Review fixes ----------------------------------------------------------------------------------


def _left_and_back(admin, tree, member, **letter):
    """`member` left the platform; a letter from outside is registered at branch B."""
    out = services.issue_letter(actor=admin, member=member, counterpart="外省某党委")
    services.record_receipt(actor=admin, transfer=out)
    return services.register_incoming(
        actor=admin,
        to_org=tree["branch_b"],
        letter_number="外组〔2026〕60号",
        counterpart="外省某党委",
        **{"person_name": member.name, **letter},
    )


@pytest.mark.parametrize(
    "letter",
    [{"person_name": "李四"}, {"person_name": "张三", "birth_date": D_("1985-03-13")}],
    ids=["other-name", "other-birth-date"],
)
def test_an_id_number_alone_does_not_bring_back_someone_elses_record(
    bob, admin, tree, roster, letter
):
    zhang = roster["zhang"]
    back = _left_and_back(admin, tree, zhang, **letter)
    before = state()
    response = bob.post(
        f"{T}/{back.pk}/confirm", {"id_number": member_services.member_id_number(zhang)}
    )
    body = assert_error(response, 404, "not_found", "id_number")
    assert tree["branch_a"].name not in body["message"]
    assert Member.objects.get(pk=zhang.pk).status == "transferred_out"
    [lookup] = AuditEvent.objects.filter(action="letter.lookup")
    assert (lookup.after["found"], lookup.subject) == (False, None)
    assert state()[:4] == before[:4]


def test_a_letter_with_a_birth_date_brings_back_the_matching_record(bob, admin, tree, roster):
    zhang = roster["zhang"]
    made = bob.post(
        f"{T}/incoming",
        {
            "to_org_id": tree["branch_b"].pk,
            "letter_number": "外组〔2026〕61号",
            "counterpart": "外省某党委",
            "person_name": "张三",
            "birth_date": "1985-03-12",
        },
    )
    assert made.status_code == 201, made.content
    assert Transfer.objects.get(pk=made.json()["id"]).incoming_data == {"birth_date": "1985-03-12"}
    out = services.issue_letter(actor=admin, member=zhang, counterpart="外省某党委")
    services.record_receipt(actor=admin, transfer=out)
    response = bob.post(
        f"{T}/{made.json()['id']}/confirm",
        {"id_number": member_services.member_id_number(zhang)},
    )
    assert response.status_code == 200, response.content
    assert response.json()["member_id"] == zhang.pk
    [lookup] = AuditEvent.objects.filter(action="letter.lookup")
    assert lookup.subject == member_services.subject_of(zhang) and lookup.after["found"] is True


def test_a_record_in_scope_of_another_name_is_not_linked(alice, admin, tree, roster):
    li = roster["li"]
    out = services.issue_letter(actor=admin, member=li, counterpart="外省某党委")
    services.record_receipt(actor=admin, transfer=out)
    back = services.register_incoming(
        actor=admin,
        to_org=tree["branch_a"],
        letter_number="外组〔2026〕62号",
        counterpart="外省某党委",
        person_name="王五",
    )
    before = state()
    response = alice.post(f"{T}/{back.pk}/confirm", {"member_id": li.pk})
    assert_error(response, 400, "not_the_person", "member_id")
    assert state() == before


def test_lookups_by_id_number_answer_429_after_the_limit(bob, admin, tree, roster):
    back = _left_and_back(admin, tree, roster["zhang"])
    url = f"{T}/{back.pk}/confirm"
    nobody = {"id_number": make_id("1970-01-01", 2, seq=5)}
    for _ in range(services.LOOKUPS_ALLOWED):
        assert_error(bob.post(url, nobody), 404, "not_found", "id_number")
    before = state()
    again = bob.post(url, {"id_number": member_services.member_id_number(roster["zhang"])})
    assert_error(again, 429, "throttled", "id_number")
    assert state() == before


def test_control_characters_answer_400(alice, roster):
    before = state()
    bad = alice.post(
        f"{T}/letters", {"member_id": roster["wang"].pk, "counterpart": "外省\x01某支部"}
    )
    assert_error(bad, 400, "control_characters", "counterpart")
    assert state() == before


def test_the_default_validity_is_cut_to_three_months(alice, roster, settings):
    settings.LETTER_VALID_DAYS = 92
    made = alice.post(
        f"{T}/letters",
        {"member_id": roster["wang"].pk, "counterpart": "外省某党委", "on": "2025-11-30"},
    )
    assert made.status_code == 201, made.content
    assert made.json()["valid_until"] == "2026-02-28"
