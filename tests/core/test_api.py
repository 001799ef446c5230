"""The HTTP API at /api/v1: tokens, scope (alice inside, oscar above, bob beside), the
organisation endpoints, stable error codes, and that bad input changes nothing."""

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from dangjian.core import services
from dangjian.core.models import ApiToken, AuditEvent, Organization

API = "/api/v1"


def org_url(org, action=""):
    pk = org.pk if hasattr(org, "pk") else org
    return f"{API}/orgs/{pk}" + (f"/{action}" if action else "")


class ApiClient:
    """django.test.Client speaking JSON with a bearer token."""

    def __init__(self, secret=None, **headers):
        if secret is not None:
            headers["Authorization"] = f"Bearer {secret}"
        self.client = Client(headers=headers)

    def get(self, path, params=None):
        return self.client.get(path, params or {})

    def post(self, path, data=None):
        return self.client.post(path, data or {}, content_type="application/json")

    def patch(self, path, data=None):
        return self.client.patch(path, data or {}, content_type="application/json")


def token_for(user, **kwargs):
    _token, secret = services.create_api_token(
        actor=user, name=kwargs.pop("name", "tests"), days=kwargs.pop("days", 30)
    )
    return secret


@pytest.fixture
def api_for(people):
    def make(user, **headers):
        return ApiClient(token_for(user), **headers)

    return make


@pytest.fixture
def alice(api_for, people):
    return api_for(people["alice"])


@pytest.fixture
def oscar(api_for, people):
    return api_for(people["oscar"])


@pytest.fixture
def bob(api_for, people):
    return api_for(people["bob"])


def state():
    """Everything an API call could change: organisation rows, members and the audit log."""
    from dangjian.members.models import Member

    orgs = tuple(
        Organization.objects.order_by("pk").values_list(
            "pk", "path", "depth", "numchild", "code", "name", "kind", "status", "dissolved_on"
        )
    )
    members = tuple(Member.objects.order_by("pk").values_list("pk", "organization_id", "org_path"))
    return orgs, members, AuditEvent.objects.count()


def codes(response):
    return [item["code"] for item in response.json()["items"]]


def assert_error(response, status, code, field=None):
    assert response.status_code == status, (response.status_code, response.content)
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"], body
    if field is not None:
        assert body.get("field") == field, body
    return body


def make_member(org, name="王强", n=1):
    from dangjian.members.models import Member

    return Member.objects.create(
        organization=org,
        org_path=org.path,
        name=name,
        sex="1",
        birth_date=datetime.date(1980, 1, 1),
        id_number_encrypted="x",
        id_number_hash=f"hash-{org.pk}-{n}",
        category="full",
        joined_on=datetime.date(2005, 7, 1),
    )


# Tokens --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_valid_token_authenticates_and_is_touched(people):
    token, secret = services.create_api_token(actor=people["alice"], name="phone", days=7)
    assert token.digest != secret and secret not in token.digest  # stored hashed
    response = ApiClient(secret).get(f"{API}/me")
    assert response.status_code == 200
    assert response.json()["username"] == "alice"
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [f"{API}/me", f"{API}/orgs", f"{API}/orgs/1"],
)
def test_no_token_is_unauthorized(people, path):
    response = ApiClient().get(path)
    assert_error(response, 401, "unauthorized")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    [
        "Bearer djt_not-a-real-token",
        "Bearer garbage",
        "Bearer ",
        "Basic YWxpY2U6cGFzc3dvcmQ=",
        "djt_without_scheme",
    ],
)
def test_bad_token_is_unauthorized(people, header):
    response = Client(headers={"Authorization": header}).get(f"{API}/me")
    assert_error(response, 401, "unauthorized")


@pytest.mark.django_db
def test_revoked_token_is_unauthorized(people):
    alice = people["alice"]
    token, secret = services.create_api_token(actor=alice, name="old", days=7)
    assert ApiClient(secret).get(f"{API}/me").status_code == 200
    services.revoke_api_token(actor=alice, token=token)
    assert_error(ApiClient(secret).get(f"{API}/me"), 401, "unauthorized")
    assert AuditEvent.objects.filter(action="token.revoke", object_id=str(token.pk)).exists()


@pytest.mark.django_db
def test_expired_token_is_unauthorized(people):
    token, secret = services.create_api_token(actor=people["alice"], name="old", days=1)
    ApiToken.objects.filter(pk=token.pk).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    assert_error(ApiClient(secret).get(f"{API}/me"), 401, "unauthorized")


@pytest.mark.django_db
def test_token_of_deactivated_user_is_unauthorized(people):
    alice = people["alice"]
    secret = token_for(alice)
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    assert_error(ApiClient(secret).get(f"{API}/me"), 401, "unauthorized")


@pytest.mark.django_db
def test_session_login_alone_does_not_open_the_api(people, client_for):
    response = client_for(people["alice"]).get(f"{API}/me")
    assert_error(response, 401, "unauthorized")


@pytest.mark.django_db
def test_unauthorized_writes_change_nothing(people, tree):
    before = state()
    anon = ApiClient("djt_wrong")
    a = tree["branch_a"]
    assert_error(
        anon.post(f"{API}/orgs", {"parent_id": a.pk, "code": "G9", "name": "x", "kind": "group"}),
        401,
        "unauthorized",
    )
    assert_error(anon.patch(org_url(a), {"name": "x"}), 401, "unauthorized")
    assert_error(anon.post(org_url(a, "dissolve"), {}), 401, "unauthorized")
    assert state() == before


# /me -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_me_for_the_three_people(alice, oscar, bob, tree):
    body = alice.get(f"{API}/me").json()
    assert body["username"] == "alice" and body["display_name"] == "张丽"
    assert body["roles"] == [
        {"role": "secretary", "organization_id": tree["branch_a"].pk, "organization_code": "B01"}
    ]
    assert "mobile" not in body and "password" not in body
    body = oscar.get(f"{API}/me").json()
    assert body["roles"] == [
        {"role": "org_admin", "organization_id": tree["town"].pk, "organization_code": "T01"}
    ]
    body = bob.get(f"{API}/me").json()
    assert [r["organization_code"] for r in body["roles"]] == ["B02"]


# Detail --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_detail_scope(alice, oscar, bob, tree):
    a, b = tree["branch_a"], tree["branch_b"]
    body = alice.get(org_url(a)).json()
    assert body["code"] == "B01" and body["kind"] == "branch" and body["status"] == "active"
    assert body["parent_id"] == tree["town"].pk
    assert body["children"] == 1
    assert body["depth"] == a.depth
    assert oscar.get(org_url(a)).status_code == 200
    assert oscar.get(org_url(b)).status_code == 200
    assert oscar.get(org_url(tree["town"])).json()["parent_id"] == tree["county"].pk
    assert alice.get(org_url(tree["group_a"])).json()["parent_id"] == a.pk

    # Outside the scope answers exactly like a missing id: nobody can probe.
    missing = assert_error(bob.get(org_url(999999)), 404, "not_found")
    assert assert_error(bob.get(org_url(a)), 404, "not_found") == missing
    assert_error(bob.get(org_url(tree["group_a"])), 404, "not_found")
    assert_error(alice.get(org_url(b)), 404, "not_found")
    assert_error(alice.get(org_url(tree["town"])), 404, "not_found")
    assert_error(oscar.get(org_url(tree["county"])), 404, "not_found")
    assert_error(oscar.get(org_url(tree["other_town"])), 404, "not_found")


@pytest.mark.django_db
def test_superuser_sees_top_level(api_for, admin, tree):
    root = api_for(admin)
    assert root.get(org_url(tree["county"])).json()["parent_id"] is None
    assert codes(root.get(f"{API}/orgs")) == ["C01", "T01", "B01", "G01", "B02", "T02"]


# List ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_list_scope(alice, oscar, bob, tree):
    a = tree["branch_a"]
    response = alice.get(f"{API}/orgs", {"root": a.pk})
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"items", "count"}
    assert codes(response) == ["B01", "G01"] and body["count"] == 2
    assert codes(alice.get(f"{API}/orgs")) == ["B01", "G01"]

    assert codes(oscar.get(f"{API}/orgs", {"root": a.pk})) == ["B01", "G01"]
    response = oscar.get(f"{API}/orgs")
    assert codes(response) == ["T01", "B01", "G01", "B02"]
    assert response.json()["count"] == 4

    assert_error(bob.get(f"{API}/orgs", {"root": a.pk}), 404, "not_found")
    assert_error(bob.get(f"{API}/orgs", {"root": tree["town"].pk}), 404, "not_found")
    assert codes(bob.get(f"{API}/orgs")) == ["B02"]
    for params in ({"q": "东街"}, {"q": "B01"}, {"kind": "branch"}, {"kind": "group"}):
        assert "B01" not in codes(bob.get(f"{API}/orgs", params)), params
    assert codes(bob.get(f"{API}/orgs", {"q": "东街"})) == []
    # Ids are positive 64-bit numbers: anything else is refused by the schema, naming it.
    for root in (0, -1, 2**63, 10**20):
        assert_error(oscar.get(f"{API}/orgs", {"root": root}), 422, "invalid", "root")


@pytest.mark.django_db
def test_list_filters(oscar, admin, tree):
    extra = services.create_organization(
        actor=admin, parent=tree["town"], code="B03", name="北街社区党支部", kind="branch"
    )
    services.dissolve_organization(actor=admin, org=extra)
    assert codes(oscar.get(f"{API}/orgs", {"kind": "branch"})) == ["B01", "B02", "B03"]
    assert codes(oscar.get(f"{API}/orgs", {"kind": "group"})) == ["G01"]
    assert codes(oscar.get(f"{API}/orgs", {"status": "dissolved"})) == ["B03"]
    assert codes(oscar.get(f"{API}/orgs", {"status": "active", "kind": "branch"})) == [
        "B01",
        "B02",
    ]
    assert codes(oscar.get(f"{API}/orgs", {"root": tree["branch_a"].pk, "kind": "branch"})) == [
        "B01"
    ]
    assert codes(oscar.get(f"{API}/orgs", {"q": "西街"})) == ["B02"]
    assert codes(oscar.get(f"{API}/orgs", {"q": "g01"})) == ["G01"]
    body = oscar.get(f"{API}/orgs", {"status": "dissolved"}).json()["items"][0]
    assert body["status"] == "dissolved" and body["dissolved_on"] == str(timezone.localdate())

    assert_error(oscar.get(f"{API}/orgs", {"kind": "village"}), 422, "invalid", "kind")
    assert_error(oscar.get(f"{API}/orgs", {"status": "gone"}), 422, "invalid", "status")
    assert_error(oscar.get(f"{API}/orgs", {"root": "abc"}), 422, "invalid", "root")


@pytest.mark.django_db
def test_list_pagination(oscar, admin, tree):
    for i in range(23):
        services.create_organization(
            actor=admin, parent=tree["town"], code=f"X{i:02d}", name=f"支部{i}", kind="branch"
        )
    everything = []
    for page in (1, 2, 3):
        response = oscar.get(f"{API}/orgs", {"page": page, "page_size": 10})
        assert response.status_code == 200
        body = response.json()
        assert body["count"] == 27
        everything += codes(response)
    assert len(everything) == 27 and len(set(everything)) == 27
    assert everything == list(
        Organization.objects.filter(path__startswith=tree["town"].path)
        .order_by("path")
        .values_list("code", flat=True)
    )
    assert len(codes(oscar.get(f"{API}/orgs", {"page": 3, "page_size": 10}))) == 7
    assert codes(oscar.get(f"{API}/orgs", {"page": 9, "page_size": 10})) == []
    assert len(codes(oscar.get(f"{API}/orgs"))) == 27  # default page size 50
    assert len(codes(oscar.get(f"{API}/orgs", {"page_size": 5}))) == 5
    assert_error(oscar.get(f"{API}/orgs", {"page": 0}), 422, "invalid", "page")
    assert_error(oscar.get(f"{API}/orgs", {"page_size": 0}), 422, "invalid", "page_size")
    assert_error(oscar.get(f"{API}/orgs", {"page": "x"}), 422, "invalid", "page")


@pytest.mark.django_db
def test_list_has_no_query_per_row(oscar, admin, tree):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count_queries():
        with CaptureQueriesContext(connection) as ctx:
            response = oscar.get(f"{API}/orgs")
        assert response.status_code == 200
        return len(ctx.captured_queries), response.json()["count"]

    oscar.get(f"{API}/me")  # the token's last use is written at most once a minute
    few, n_few = count_queries()
    for i in range(15):
        services.create_organization(
            actor=admin, parent=tree["town"], code=f"Y{i:02d}", name=f"支部{i}", kind="branch"
        )
    many, n_many = count_queries()
    assert n_many == n_few + 15
    assert many == few


# Create --------------------------------------------------------------------------------------


def group_payload(parent, code="G77", **extra):
    return {"parent_id": parent.pk, "code": code, "name": "第七党小组", "kind": "group"} | extra


@pytest.mark.django_db
def test_create_scope(alice, oscar, bob, tree, people):
    a = tree["branch_a"]
    response = alice.post(f"{API}/orgs", group_payload(a, "G02", contact_person="张丽"))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["code"] == "G02" and body["kind"] == "group" and body["parent_id"] == a.pk
    assert body["contact_person"] == "张丽" and body["unit_type"] == "other"
    org = Organization.objects.get(code="G02")
    assert org.parent_path == a.path
    event = AuditEvent.objects.get(action="org.create", object_id=str(org.pk))
    assert event.user_id == people["alice"].pk
    assert event.after["code"] == "G02" and event.org_path == org.path

    assert oscar.post(f"{API}/orgs", group_payload(a, "G03")).status_code == 201
    assert (
        oscar.post(
            f"{API}/orgs",
            {"parent_id": tree["town"].pk, "code": "B09", "name": "新支部", "kind": "branch"},
        ).status_code
        == 201
    )

    before = state()
    assert_error(bob.post(f"{API}/orgs", group_payload(a, "G04")), 404, "not_found")
    assert_error(bob.post(f"{API}/orgs", group_payload(tree["group_a"], "G05")), 404, "not_found")
    # alice may not create beside her branch, nor at the top
    assert_error(
        alice.post(
            f"{API}/orgs",
            {"parent_id": tree["town"].pk, "code": "B10", "name": "x", "kind": "branch"},
        ),
        404,
        "not_found",
    )
    assert_error(
        alice.post(f"{API}/orgs", {"code": "C99", "name": "x", "kind": "committee"}),
        403,
        "forbidden",
    )
    assert state() == before


@pytest.mark.django_db
def test_create_full_payload(oscar, tree):
    response = oscar.post(
        f"{API}/orgs",
        {
            "parent_id": tree["town"].pk,
            "code": "B20",
            "name": "  南街社区党支部  ",
            "short_name": "南街",
            "kind": "branch",
            "unit_type": "community",
            "established_on": "2001-07-01",
            "contact_person": "赵",
            "contact_phone": "0571-1234567",
            "display_order": 3,
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "南街社区党支部"
    assert body["established_on"] == "2001-07-01"
    assert body["unit_type"] == "community" and body["display_order"] == 3
    assert body["children"] == 0 and body["dissolved_on"] is None


@pytest.mark.django_db
def test_request_id_is_returned_and_recorded(api_for, people, tree):
    given = api_for(people["oscar"], **{"X-Request-ID": "test-req-12345"})
    response = given.post(f"{API}/orgs", group_payload(tree["branch_a"], "G31"))
    assert response.status_code == 201
    assert response["X-Request-ID"] == "test-req-12345"
    event = AuditEvent.objects.get(action="org.create", object_id=str(response.json()["id"]))
    assert event.request_id == "test-req-12345"

    # Without one, the server makes one up, answers it and records it.
    plain = api_for(people["oscar"])
    response = plain.post(f"{API}/orgs", group_payload(tree["branch_a"], "G32"))
    rid = response["X-Request-ID"]
    assert rid and rid != "test-req-12345"
    event = AuditEvent.objects.get(action="org.create", object_id=str(response.json()["id"]))
    assert event.request_id == rid
    # Errors carry it as well.
    assert plain.get(org_url(999999))["X-Request-ID"]


# Update --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_update_scope(alice, oscar, bob, tree, people):
    a = tree["branch_a"]
    response = alice.patch(org_url(a), {"name": "东街社区第一党支部", "contact_phone": "123"})
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "东街社区第一党支部"
    assert response.json()["code"] == "B01"  # untouched
    event = AuditEvent.objects.get(action="org.update", object_id=str(a.pk))
    assert event.user_id == people["alice"].pk
    assert event.before == {"name": "东街社区党支部", "contact_phone": ""}
    assert event.after == {"name": "东街社区第一党支部", "contact_phone": "123"}

    response = oscar.patch(org_url(a), {"short_name": "东街", "unit_type": "community"})
    assert response.status_code == 200
    assert response.json()["short_name"] == "东街"
    assert response.json()["name"] == "东街社区第一党支部"

    before = state()
    assert_error(bob.patch(org_url(a), {"name": "hijacked"}), 404, "not_found")
    assert_error(bob.patch(org_url(tree["group_a"]), {"name": "hijacked"}), 404, "not_found")
    assert_error(alice.patch(org_url(tree["branch_b"]), {"name": "x"}), 404, "not_found")
    assert state() == before


@pytest.mark.django_db
def test_update_with_no_change_records_nothing(oscar, tree):
    before = state()
    response = oscar.patch(org_url(tree["branch_a"]), {"name": "东街社区党支部"})
    assert response.status_code == 200
    assert oscar.patch(org_url(tree["branch_a"]), {}).status_code == 200
    assert state() == before


@pytest.mark.django_db
def test_update_null_clears_optional_text(oscar, tree):
    a = tree["branch_a"]
    oscar.patch(org_url(a), {"short_name": "东街", "contact_person": "张"})
    response = oscar.patch(
        org_url(a),
        {"short_name": None, "contact_person": None, "contact_phone": None, "name": None},
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["short_name"] == "" and body["contact_person"] == ""
    assert body["name"] == "东街社区党支部"  # null on a required field leaves it alone


# Move ----------------------------------------------------------------------------------------


@pytest.fixture
def general_branch(admin, tree):
    return services.create_organization(
        actor=admin, parent=tree["town"], code="Z01", name="城关镇机关党总支", kind="general_branch"
    )


@pytest.mark.django_db
def test_move_scope(alice, oscar, bob, tree, general_branch, people):
    a = tree["branch_a"]
    before = state()
    # She sees A and its group, but her role does not grant org.move.
    assert_error(
        alice.post(org_url(a, "move"), {"parent_id": tree["group_a"].pk}), 403, "forbidden"
    )
    # A target outside her scope is not found, whatever her rights.
    assert_error(alice.post(org_url(a, "move"), {"parent_id": general_branch.pk}), 404, "not_found")
    assert_error(
        alice.post(org_url(tree["group_a"], "move"), {"parent_id": a.pk}), 403, "forbidden"
    )
    assert_error(bob.post(org_url(a, "move"), {"parent_id": tree["town"].pk}), 404, "not_found")
    # bob may not move his own branch into A's either: A is not his to see.
    assert_error(bob.post(org_url(tree["branch_b"], "move"), {"parent_id": a.pk}), 404, "not_found")
    # oscar may not move A out of his subtree.
    assert_error(
        oscar.post(org_url(a, "move"), {"parent_id": tree["other_town"].pk}), 404, "not_found"
    )
    assert state() == before

    response = oscar.post(org_url(a, "move"), {"parent_id": general_branch.pk})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["parent_id"] == general_branch.pk and body["depth"] == general_branch.depth + 1
    a.refresh_from_db()
    assert a.path.startswith(general_branch.path)
    group = Organization.objects.get(pk=tree["group_a"].pk)
    assert group.path.startswith(a.path)  # the subtree moves along
    event = AuditEvent.objects.get(action="org.move", object_id=str(a.pk))
    assert event.user_id == people["oscar"].pk
    assert event.before["parent"] == tree["town"].pk
    assert event.after["parent"] == general_branch.pk
    # alice still reaches her branch after the move
    assert alice.get(org_url(a)).status_code == 200


@pytest.mark.django_db
def test_move_keeps_member_paths(oscar, tree, general_branch):
    from dangjian.members.models import Member

    member = make_member(tree["group_a"])
    response = oscar.post(org_url(tree["branch_a"], "move"), {"parent_id": general_branch.pk})
    assert response.status_code == 200
    member = Member.objects.get(pk=member.pk)
    assert member.org_path == Organization.objects.get(pk=tree["group_a"].pk).path


# Dissolve ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_dissolve_scope(alice, oscar, bob, tree, people):
    a, group = tree["branch_a"], tree["group_a"]
    before = state()
    assert_error(alice.post(org_url(a, "dissolve"), {}), 403, "forbidden")
    assert_error(alice.post(org_url(group, "dissolve"), {}), 403, "forbidden")
    assert_error(bob.post(org_url(a, "dissolve"), {}), 404, "not_found")
    assert_error(bob.post(org_url(group, "dissolve"), {}), 404, "not_found")
    assert state() == before

    response = oscar.post(org_url(group, "dissolve"), {"on": "2024-01-31"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "dissolved"
    assert response.json()["dissolved_on"] == "2024-01-31"
    response = oscar.post(org_url(a, "dissolve"), {})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "dissolved"
    assert response.json()["dissolved_on"] == str(timezone.localdate())
    event = AuditEvent.objects.get(action="org.dissolve", object_id=str(a.pk))
    assert event.user_id == people["oscar"].pk
    assert event.after["status"] == "dissolved"
    # Still in the tree, listed as dissolved.
    assert codes(oscar.get(f"{API}/orgs", {"status": "dissolved"})) == ["B01", "G01"]


@pytest.mark.django_db
def test_dissolve_moving_members(oscar, tree):
    from dangjian.members.models import Member

    b, a = tree["branch_b"], tree["branch_a"]
    m1, m2 = make_member(b, "甲", 1), make_member(b, "乙", 2)
    response = oscar.post(org_url(b, "dissolve"), {"move_members_to": a.pk})
    assert response.status_code == 200, response.content
    for m in (m1, m2):
        m = Member.objects.get(pk=m.pk)
        assert (m.organization_id, m.org_path) == (a.pk, a.path)
    assert AuditEvent.objects.filter(action="member.move").count() == 2


# Errors: stable codes, nothing changes -------------------------------------------------------


@pytest.mark.django_db
def test_duplicate_code(oscar, alice, tree):
    before = state()
    for code in ("B01", "b01", " B02 ", "G01"):
        response = oscar.post(
            f"{API}/orgs",
            {"parent_id": tree["town"].pk, "code": code, "name": "重复", "kind": "branch"},
        )
        assert_error(response, 409, "duplicate_code", "code")
    # Also when the code belongs to an organisation the user cannot see.
    assert_error(
        alice.post(f"{API}/orgs", group_payload(tree["branch_a"], "T02")),
        409,
        "duplicate_code",
        "code",
    )
    assert_error(
        oscar.patch(org_url(tree["branch_b"]), {"code": "B01"}), 409, "duplicate_code", "code"
    )
    assert state() == before


@pytest.mark.django_db
def test_move_under_itself(oscar, tree):
    a = tree["branch_a"]
    before = state()
    for target in (a, tree["group_a"]):
        response = oscar.post(org_url(a, "move"), {"parent_id": target.pk})
        assert_error(response, 400, "move_into_own_subtree", "parent")
    # oscar's own top: any target he can see lies inside it
    assert_error(
        oscar.post(org_url(tree["town"], "move"), {"parent_id": a.pk}),
        400,
        "move_into_own_subtree",
        "parent",
    )
    assert_error(
        oscar.post(org_url(a, "move"), {"parent_id": tree["town"].pk}), 400, "move_same_parent"
    )
    assert state() == before


@pytest.mark.django_db
def test_group_under_committee(oscar, tree):
    before = state()
    response = oscar.post(org_url(tree["group_a"], "move"), {"parent_id": tree["town"].pk})
    assert_error(response, 400, "kind_not_allowed", "kind")
    response = oscar.post(
        f"{API}/orgs",
        {"parent_id": tree["town"].pk, "code": "G50", "name": "小组", "kind": "group"},
    )
    assert_error(response, 400, "kind_not_allowed", "kind")
    response = oscar.post(
        f"{API}/orgs",
        {"parent_id": tree["group_a"].pk, "code": "G51", "name": "小组", "kind": "group"},
    )
    assert_error(response, 400, "kind_not_allowed", "kind")
    # turning a branch with a group into a committee would strand the group
    assert_error(
        oscar.patch(org_url(tree["branch_a"]), {"kind": "committee"}),
        400,
        "kind_not_allowed",
        "kind",
    )
    assert_error(
        oscar.patch(org_url(tree["branch_b"]), {"kind": "group"}), 400, "kind_not_allowed", "kind"
    )
    assert state() == before


@pytest.mark.django_db
def test_dissolve_non_empty(oscar, tree):
    a, b = tree["branch_a"], tree["branch_b"]
    make_member(b)
    before = state()
    assert_error(oscar.post(org_url(a, "dissolve"), {}), 400, "has_children")
    assert_error(oscar.post(org_url(tree["town"], "dissolve"), {}), 400, "has_children")
    assert_error(oscar.post(org_url(b, "dissolve"), {}), 400, "has_members", "move_members_to")
    assert_error(
        oscar.post(org_url(b, "dissolve"), {"move_members_to": b.pk}),
        400,
        "bad_target",
        "move_members_to",
    )
    assert_error(
        oscar.post(org_url(b, "dissolve"), {"move_members_to": tree["other_town"].pk}),
        404,
        "not_found",
    )
    future = (timezone.localdate() + datetime.timedelta(days=3)).isoformat()
    assert_error(
        oscar.post(org_url(tree["group_a"], "dissolve"), {"on": future}), 400, "invalid", "on"
    )
    assert state() == before


@pytest.mark.django_db
def test_dissolve_twice(oscar, tree):
    group = tree["group_a"]
    assert oscar.post(org_url(group, "dissolve"), {}).status_code == 200
    before = state()
    assert_error(oscar.post(org_url(group, "dissolve"), {}), 400, "already_dissolved")
    assert state() == before
    # nothing can be created under a dissolved organisation
    assert oscar.post(org_url(tree["branch_a"], "dissolve"), {}).status_code == 200
    before = state()
    assert_error(
        oscar.post(f"{API}/orgs", group_payload(tree["branch_a"], "G60")), 400, "parent_dissolved"
    )
    # parent id 0 names no organisation: not "top level"
    assert_error(
        oscar.post(f"{API}/orgs", group_payload(tree["branch_b"], "G61") | {"parent_id": 0}),
        422,
        "invalid",
        "parent_id",
    )
    assert_error(
        oscar.post(org_url(tree["branch_b"], "move"), {"parent_id": 0}), 422, "invalid", "parent_id"
    )
    assert state() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"code": "G70", "kind": "group"}, "name"),
        ({"name": "x", "kind": "group"}, "code"),
        ({"code": "G70", "name": "x"}, "kind"),
        ({"code": "G70", "name": "x", "kind": "squad"}, "kind"),
        (
            {"code": "G70", "name": "x", "kind": "group", "established_on": "2020-13-45"},
            "established_on",
        ),
        (
            {"code": "G70", "name": "x", "kind": "group", "established_on": "yesterday"},
            "established_on",
        ),
        ({"code": "G70", "name": "x", "kind": "group", "unit_type": "castle"}, "unit_type"),
        ({"code": "G70", "name": "x" * 129, "kind": "group"}, "name"),
        ({"code": "G70", "name": "x", "kind": "group", "display_order": "many"}, "display_order"),
        ({"code": "G70", "name": "x", "kind": "group", "parent_id": "A"}, "parent_id"),
    ],
)
def test_create_schema_errors(oscar, tree, payload, field):
    payload = {"parent_id": tree["branch_a"].pk} | payload
    before = state()
    body = assert_error(oscar.post(f"{API}/orgs", payload), 422, "invalid", field)
    assert body["errors"]
    assert state() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "status", "code", "field"),
    [
        ({"code": "bad code!"}, 400, "invalid", "code"),
        ({"name": "   "}, 400, "invalid", "name"),
        ({"established_on": "2999-01-01"}, 400, "invalid", "established_on"),
        ({"established_on": "2020-02-30"}, 422, "invalid", "established_on"),
        ({"kind": "squad"}, 422, "invalid", "kind"),
        ({"display_order": [1]}, 422, "invalid", "display_order"),
        ({"display_order": 2**31}, 422, "invalid", "display_order"),
        ({"display_order": 10**20}, 422, "invalid", "display_order"),
    ],
)
def test_update_errors(oscar, tree, payload, status, code, field):
    before = state()
    assert_error(oscar.patch(org_url(tree["branch_a"]), payload), status, code, field)
    assert state() == before


@pytest.mark.django_db
def test_move_and_dissolve_schema_errors(oscar, tree):
    a = tree["branch_a"]
    before = state()
    assert_error(oscar.post(org_url(a, "move"), {}), 422, "invalid", "parent_id")
    assert_error(oscar.post(org_url(a, "move"), {"parent_id": "up"}), 422, "invalid", "parent_id")
    assert_error(oscar.post(org_url(a, "dissolve"), {"on": "31/01/2024"}), 422, "invalid", "on")
    assert_error(oscar.post(org_url(a, "move"), {"parent_id": 987654}), 404, "not_found")
    assert state() == before


@pytest.mark.django_db
def test_malformed_json_is_a_clean_error(oscar, tree):
    before = state()
    response = oscar.client.post(f"{API}/orgs", "{not json", content_type="application/json")
    assert_error(response, 400, "bad_request")
    assert state() == before


@pytest.mark.django_db
def test_unknown_api_path_is_404(oscar):
    response = oscar.get(f"{API}/nothing-here")
    assert response.status_code == 404


@pytest.mark.django_db
def test_wrong_method_is_refused(oscar, tree):
    before = state()
    response = oscar.client.delete(org_url(tree["branch_a"]))
    assert response.status_code == 405
    assert state() == before
