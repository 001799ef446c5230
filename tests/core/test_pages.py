"""Every page of the core app, tried by three people (STYLE.md): alice, secretary of branch A
(inside); oscar, organisation administrator of the township above A (above); bob, secretary of
the sibling branch B (outside). Outside the scope a page answers 404, never 403; anonymous
visitors are sent to the login page."""

import datetime
import itertools

import pytest
from django.urls import URLPattern, reverse
from django.utils import timezone

from dangjian.core import services
from dangjian.core.crypto import encrypt, keyed_hash
from dangjian.core.models import AuditEvent, Organization, OrgStatus, RoleAssignment
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


_id_numbers = itertools.count(1)


def make_member(org):
    from dangjian.members.models import Member

    id_number = f"11010519800101{next(_id_numbers):04d}"
    return Member.objects.create(
        organization=org,
        org_path=org.path,
        name="党员",
        sex="1",
        birth_date=datetime.date(1980, 1, 1),
        id_number_encrypted=encrypt(id_number),
        id_number_hash=keyed_hash(id_number),
        category="full",
        joined_on=datetime.date(2005, 7, 1),
    )


def state():
    return (
        sorted(Organization.objects.values_list("code", "name", "path", "status")),
        sorted(RoleAssignment.objects.values_list("user_id", "organization_id", "role")),
        AuditEvent.objects.count(),
    )


def fresh(org):
    return Organization.objects.get(pk=org.pk)


def today():
    return timezone.localdate().isoformat()


# The pages of branch A -----------------------------------------------------------------------

# (url name, what alice gets, what oscar gets); bob gets 404 everywhere.
A_PAGES = [
    ("core:org_detail", 200, 200),
    ("core:org_children", 200, 200),
    ("core:org_edit", 200, 200),
    ("core:org_create", 200, 200),
    ("core:org_move", 404, 200),  # a secretary has neither org.move ...
    ("core:org_dissolve", 404, 200),  # ... nor org.dissolve
]


@pytest.mark.parametrize(("name", "for_alice", "for_oscar"), A_PAGES)
@pytest.mark.parametrize("person", ["alice", "oscar", "bob"])
def test_pages_of_branch_a_by_person(people, tree, client_for, name, for_alice, for_oscar, person):
    expected = {"alice": for_alice, "oscar": for_oscar, "bob": 404}[person]
    response = client_for(people[person]).get(reverse(name, args=[tree["branch_a"].pk]))
    assert response.status_code == expected
    if expected == 404:
        assert "404.html" in [t.name for t in response.templates]


def a_posts(tree, people):
    """A valid POST for every page of branch A (and of its role assignments)."""
    a = tree["branch_a"]
    alice_role = RoleAssignment.objects.get(user=people["alice"])
    return [
        (reverse("core:org_detail", args=[a.pk]), {}),
        (reverse("core:org_children", args=[a.pk]), {}),
        (
            reverse("core:org_create", args=[a.pk]),
            {"code": "G09", "name": "小组", "kind": "group", "unit_type": "other"},
        ),
        (
            reverse("core:org_edit", args=[a.pk]),
            {"code": "A01", "name": "改名", "kind": "branch", "unit_type": "other"},
        ),
        (reverse("core:org_move", args=[a.pk]), {"parent_code": "T02"}),
        (reverse("core:org_dissolve", args=[a.pk]), {"on": today()}),
        (reverse("core:role_assign", args=[a.pk]), {"username": "bob", "role": "member"}),
        (reverse("core:role_revoke", args=[alice_role.pk]), {}),
    ]


def test_bob_gets_404_for_every_post_to_branch_a_and_nothing_changes(people, tree, client_for):
    bob = client_for(people["bob"])
    before = state()
    for url, data in a_posts(tree, people):
        assert bob.post(url, data).status_code == 404, url
    assert state() == before


def test_alice_may_not_move_or_dissolve_her_branch_by_post(people, tree, client_for):
    alice = client_for(people["alice"])
    before = state()
    a = tree["branch_a"]
    assert (
        alice.post(
            reverse("core:org_move", args=[tree["group_a"].pk]), {"parent_code": "B01"}
        ).status_code
        == 404
    )
    assert alice.post(reverse("core:org_dissolve", args=[a.pk]), {"on": today()}).status_code == 404
    assert state() == before


def test_alice_edits_her_branch_and_creates_a_group(people, tree, client_for):
    alice = client_for(people["alice"])
    a = tree["branch_a"]
    response = alice.post(
        reverse("core:org_edit", args=[a.pk]),
        {"code": "B01", "name": "东街社区第一党支部", "kind": "branch", "unit_type": "community"},
    )
    assert response.status_code == 302
    assert (fresh(a).name, fresh(a).unit_type) == ("东街社区第一党支部", "community")
    response = alice.post(
        reverse("core:org_create", args=[a.pk]),
        {"code": "G02", "name": "第二党小组", "kind": "group", "unit_type": "other"},
    )
    created = Organization.objects.get(code="G02")
    assert response.status_code == 302 and response.url == reverse(
        "core:org_detail", args=[created.pk]
    )
    assert created.path.startswith(a.path)


def test_alice_sees_below_but_not_above_her_branch(people, tree, client_for):
    alice = client_for(people["alice"])
    assert alice.get(reverse("core:org_detail", args=[tree["group_a"].pk])).status_code == 200
    for above in ("town", "county", "branch_b"):
        assert alice.get(reverse("core:org_detail", args=[tree[above].pk])).status_code == 404


def test_branch_a_is_invisible_to_bob_in_tree_search_and_audit(people, tree, client_for):
    bob = client_for(people["bob"])
    services.update_organization(actor=people["alice"], org=tree["branch_a"], short_name="东街")
    tree_page = bob.get(reverse("core:org_tree")).content.decode()
    assert "西街社区党支部" in tree_page
    assert "东街社区党支部" not in tree_page and 'data-code="B01"' not in tree_page
    for text in ("东街", "B01", "b01", "党支部"):
        response = bob.get(reverse("core:org_tree"), {"q": text})
        assert tree["branch_a"] not in response.context["results"], text
    assert [
        o.code for o in bob.get(reverse("core:org_tree"), {"q": "党支部"}).context["results"]
    ] == ["B02"]
    assert bob.get(reverse("core:org_children", args=[tree["town"].pk])).status_code == 404
    audit_page = bob.get(reverse("core:audit_list"))
    assert audit_page.status_code == 200
    assert "东街社区党支部" not in audit_page.content.decode()
    assert all(not e.org_path.startswith(tree["branch_a"].path) for e in audit_page.context["page"])


def test_oscar_finds_branch_a_in_tree_search_and_children(people, tree, client_for):
    oscar = client_for(people["oscar"])
    assert tree["branch_a"] in oscar.get(reverse("core:org_tree"), {"q": "东街"}).context["results"]
    children = oscar.get(reverse("core:org_children", args=[tree["town"].pk])).content.decode()
    assert "东街社区党支部" in children and "西街社区党支部" in children
    assert "河口镇党委" not in oscar.get(reverse("core:org_tree")).content.decode()


# Every page of core/urls.py, anonymous ------------------------------------------------------


def url_args(name, tree, people, job):
    a = tree["branch_a"]
    return {
        "core:home": [],
        "core:notifications": [],
        "core:notifications_read": [],
        "core:notification_read": [1],
        "core:login": [],
        "core:logout": [],
        "core:profile": [],
        "core:password_change": [],
        "core:token_revoke": [1],
        "core:org_tree": [],
        "core:org_detail": [a.pk],
        "core:org_children": [a.pk],
        "core:org_create": [a.pk],
        "core:org_edit": [a.pk],
        "core:org_move": [a.pk],
        "core:org_dissolve": [a.pk],
        "core:role_assign": [a.pk],
        "core:role_revoke": [RoleAssignment.objects.get(user=people["alice"]).pk],
        "core:audit_list": [],
        "core:audit_export": [],
        "core:job_detail": [job.pk],
        "core:job_progress": [job.pk],
        "core:job_download": [job.pk],
        "core:calendar": [],
        "core:calendar_year": [2026],
        "core:calendar_set": [],
        "core:calendar_remove": [],
        "core:captcha_new": [],
        "core:captcha_image": ["token"],
    }[name]


def core_url_names():
    from dangjian.core import urls

    return [f"core:{p.name}" for p in urls.urlpatterns if isinstance(p, URLPattern)]


@pytest.fixture
def job(people):
    from dangjian.core import jobs

    return jobs.start_job(actor=people["oscar"], kind="audit_export", title="x", params={})


# Public on purpose: the log-in page, and the CAPTCHA of the forms that need no account
# (tests/core/test_captcha.py tries those anonymously).
PUBLIC = ("core:login", "core:logout", "core:captcha_new", "core:captcha_image")


@pytest.mark.parametrize("name", [n for n in core_url_names() if n not in PUBLIC])
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_is_sent_to_login(client, people, tree, job, name, method):
    before = state()
    url = reverse(name, args=url_args(name, tree, people, job))
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response.url.startswith(reverse("core:login") + "?next=")
    assert state() == before


def test_the_matrix_covers_every_core_page(people, tree, job):
    for name in core_url_names():
        url_args(name, tree, people, job)  # KeyError names a page without a scope check


@pytest.mark.parametrize(
    "name",
    ["core:home", "core:org_tree", "core:audit_list", "core:profile", "core:password_change"],
)
@pytest.mark.parametrize("person", ["alice", "oscar", "bob"])
def test_pages_without_an_organisation_render_for_everyone(people, client_for, name, person):
    assert client_for(people[person]).get(reverse(name)).status_code == 200


def test_jobs_are_private_to_their_owner(people, job, client_for):
    assert (
        client_for(people["oscar"]).get(reverse("core:job_detail", args=[job.pk])).status_code
        == 200
    )
    for person in ("alice", "bob"):
        c = client_for(people[person])
        for name in ("core:job_detail", "core:job_progress", "core:job_download"):
            assert c.get(reverse(name, args=[job.pk])).status_code == 404


def test_a_token_is_revoked_only_by_its_owner(people, client_for):
    token, secret = services.create_api_token(actor=people["alice"], name="手机", days=30)
    url = reverse("core:token_revoke", args=[token.pk])
    assert client_for(people["bob"]).post(url).status_code == 404
    assert services.authenticate_token(secret) == people["alice"]
    assert client_for(people["alice"]).post(url).status_code == 302
    assert services.authenticate_token(secret) is None


# Form errors -------------------------------------------------------------------------------


def test_a_duplicate_code_is_shown_next_to_the_field(people, tree, client_for):
    before = state()
    response = client_for(people["alice"]).post(
        reverse("core:org_create", args=[tree["branch_a"].pk]),
        {"code": "g01", "name": "重复的小组", "kind": "group", "unit_type": "other"},
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == ["code"]
    assert "g01" in errors["code"][0]
    assert "is-invalid" in response.content.decode()
    assert state() == before


def test_moving_under_its_own_subtree_is_shown_as_an_error(people, tree, client_for):
    before = state()
    response = client_for(people["oscar"]).post(
        reverse("core:org_move", args=[tree["branch_a"].pk]), {"parent_code": "G01"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["parent_code"]
    assert state() == before


def test_moving_under_an_organisation_outside_the_scope_is_shown_as_not_found(
    people, tree, client_for
):
    before = state()
    response = client_for(people["oscar"]).post(
        reverse("core:org_move", args=[tree["branch_a"].pk]), {"parent_code": "T02"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["parent_code"]
    assert state() == before


def test_oscar_moves_a_group_between_branches(people, tree, client_for):
    response = client_for(people["oscar"]).post(
        reverse("core:org_move", args=[tree["group_a"].pk]), {"parent_code": "B02"}
    )
    assert response.status_code == 302
    assert fresh(tree["group_a"]).path.startswith(tree["branch_b"].path)


def test_the_new_parent_code_is_found_in_any_letter_case(people, tree, client_for):
    response = client_for(people["oscar"]).post(
        reverse("core:org_move", args=[tree["group_a"].pk]), {"parent_code": " b02 "}
    )
    assert response.status_code == 302
    assert fresh(tree["group_a"]).path.startswith(tree["branch_b"].path)


def test_dissolving_a_branch_with_a_group_is_shown_as_an_error(people, tree, client_for):
    before = state()
    response = client_for(people["oscar"]).post(
        reverse("core:org_dissolve", args=[tree["branch_a"].pk]), {"on": today()}
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert state() == before


def test_dissolving_a_branch_with_members_asks_where_they_go(people, tree, client_for):
    make_member(tree["branch_b"])
    before = state()
    response = client_for(people["oscar"]).post(
        reverse("core:org_dissolve", args=[tree["branch_b"].pk]), {"on": today()}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["move_members_to"]
    assert state() == before


def test_dissolving_and_moving_the_members_from_the_page(people, tree, client_for):
    member = make_member(tree["branch_b"])
    response = client_for(people["oscar"]).post(
        reverse("core:org_dissolve", args=[tree["branch_b"].pk]),
        {"on": today(), "move_members_to": "B01"},
    )
    assert response.status_code == 302
    assert fresh(tree["branch_b"]).status == OrgStatus.DISSOLVED
    member.refresh_from_db()
    assert member.org_path == tree["branch_a"].path


def test_assigning_a_role_from_the_organisation_page(people, tree, client_for, make_user):
    make_user("carol", display_name="王芳")
    oscar = client_for(people["oscar"])
    a = tree["branch_a"]
    response = oscar.post(
        reverse("core:role_assign", args=[a.pk]), {"username": "carol", "role": "committee_member"}
    )
    assert response.status_code == 302
    assert response.url == reverse("core:org_detail", args=[a.pk]) + "#roles"
    page = oscar.get(reverse("core:org_detail", args=[a.pk]))
    assert {(x.user.username, x.role) for x in page.context["assignments"]} == {
        ("alice", "secretary"),
        ("carol", "committee_member"),
    }
    assert "王芳" in page.content.decode()
    audit_page = oscar.get(reverse("core:audit_list"), {"action": "role.assign"})
    assert any(e.after.get("user") == "carol" for e in audit_page.context["page"])
    assert "王芳" in audit_page.content.decode()


def test_a_role_is_found_by_mobile_number(people, tree, client_for):
    oscar = client_for(people["oscar"])
    oscar.post(
        reverse("core:role_assign", args=[tree["group_a"].pk]),
        {"username": "13812345678", "role": "member"},
    )
    assert RoleAssignment.objects.filter(
        user=people["alice"], organization=tree["group_a"], role="member"
    ).exists()


def test_a_secretary_cannot_grant_org_admin_from_the_page(people, tree, client_for, make_user):
    make_user("carol")
    before = state()
    response = client_for(people["alice"]).post(
        reverse("core:role_assign", args=[tree["branch_a"].pk]),
        {"username": "carol", "role": "org_admin"},
        follow=True,
    )
    assert response.status_code == 200
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    assert state() == before


def test_revoking_a_role_from_the_page(people, tree, client_for):
    assignment = RoleAssignment.objects.get(user=people["alice"])
    response = client_for(people["oscar"]).post(reverse("core:role_revoke", args=[assignment.pk]))
    assert response.status_code == 302
    assert not RoleAssignment.objects.filter(pk=assignment.pk).exists()
    assert (
        client_for(people["alice"])
        .get(reverse("core:org_detail", args=[tree["branch_a"].pk]))
        .status_code
        == 404
    )


# Accounts ----------------------------------------------------------------------------------


def logged_in_as(client):
    return client.session.get("_auth_user_id")


@pytest.mark.parametrize("login", ["alice", "ALICE", "13812345678", " 13812345678 "])
def test_login_by_user_name_or_mobile(client, people, login):
    response = client.post(reverse("core:login"), {"username": login, "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("core:home")
    assert logged_in_as(client) == str(people["alice"].pk)


@pytest.mark.parametrize(
    ("login", "password"),
    [("alice", "wrong"), ("13812345678", "wrong"), ("13800000000", PASSWORD), ("nobody", PASSWORD)],
)
def test_wrong_credentials_show_an_error(client, people, login, password):
    response = client.post(reverse("core:login"), {"username": login, "password": password})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert 'role="alert"' in response.content.decode()
    assert logged_in_as(client) is None


def test_a_deactivated_account_cannot_log_in(client, people):
    alice = people["alice"]
    alice.is_active = False
    alice.save()
    client.post(reverse("core:login"), {"username": "alice", "password": PASSWORD})
    assert logged_in_as(client) is None


def test_logout_by_post(client_for, people):
    c = client_for(people["alice"])
    response = c.post(reverse("core:logout"))
    assert response.status_code == 302
    assert logged_in_as(c) is None
    assert c.get(reverse("core:home")).status_code == 302


def test_password_change_is_recorded(client, people):
    alice = people["alice"]
    client.force_login(alice)
    response = client.post(
        reverse("core:password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "a-new-long-pass-42",
            "new_password2": "a-new-long-pass-42",
        },
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="user.password_change")
    assert (event.user_id, event.object_id) == (alice.pk, str(alice.pk))
    assert "a-new-long-pass-42" not in str(event.before) + str(event.after)
    alice.refresh_from_db()
    assert alice.check_password("a-new-long-pass-42")
    # The session survives its own password change.
    assert client.get(reverse("core:home")).status_code == 200


def test_a_wrong_old_password_changes_nothing(client, people):
    client.force_login(people["alice"])
    response = client.post(
        reverse("core:password_change"),
        {
            "old_password": "wrong",
            "new_password1": "a-new-long-pass-42",
            "new_password2": "a-new-long-pass-42",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["old_password"]
    assert not AuditEvent.objects.filter(action="user.password_change").exists()


# Language, errors, navigation --------------------------------------------------------------


def test_chinese_is_the_default_and_english_can_be_chosen(client_for, people):
    c = client_for(people["alice"])
    assert 'lang="zh-hans"' in c.get(reverse("core:home")).content.decode()
    response = c.post("/i18n/setlang/", {"language": "en", "next": reverse("core:home")})
    assert response.status_code == 302
    assert 'lang="en"' in c.get(reverse("core:home")).content.decode()


@pytest.mark.parametrize("who", ["anonymous", "alice"])
def test_the_404_page_is_our_own(client, people, who, settings):
    assert settings.DEBUG is False
    if who == "alice":
        client.force_login(people["alice"])
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "404.html" in [t.name for t in response.templates]
    assert f'href="{reverse("core:home")}"' in response.content.decode()


def test_navigation_shows_only_what_the_role_may_use(people, tree, client_for, make_user, admin):
    mary = make_user("mary")
    services.assign_role(actor=admin, user=mary, org=tree["branch_a"], role="member")
    audit_url = reverse("core:audit_list")
    mary_home = client_for(mary).get(reverse("core:home")).content.decode()
    alice_home = client_for(people["alice"]).get(reverse("core:home")).content.decode()
    assert f'href="{audit_url}"' not in mary_home
    assert f'href="{audit_url}"' in alice_home
    assert f'href="{reverse("core:org_tree")}"' in mary_home


def test_the_organisation_page_offers_only_allowed_actions(people, tree, client_for):
    a = tree["branch_a"]
    alice_page = client_for(people["alice"]).get(reverse("core:org_detail", args=[a.pk]))
    oscar_page = client_for(people["oscar"]).get(reverse("core:org_detail", args=[a.pk]))
    for url, alice_sees in [
        (reverse("core:org_edit", args=[a.pk]), True),
        (reverse("core:org_create", args=[a.pk]), True),
        (reverse("core:org_move", args=[a.pk]), False),
        (reverse("core:org_dissolve", args=[a.pk]), False),
    ]:
        assert (f'href="{url}"' in alice_page.content.decode()) is alice_sees, url
        assert f'href="{url}"' in oscar_page.content.decode(), url
