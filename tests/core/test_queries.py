"""No query per row: the number of queries of the list pages and of the API list is the same for
a small and a large tree (and a short and a long audit log)."""

import datetime
import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dangjian.core import services
from dangjian.core.crypto import encrypt, keyed_hash
from dangjian.core.models import AuditEvent

pytestmark = pytest.mark.django_db

_numbers = itertools.count(1)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def add_children(admin, parent, n, kind="branch"):
    """n children under `parent`, each with a member, created the one way things are created."""
    from dangjian.members.models import Member

    made = []
    for _ in range(n):
        i = next(_numbers)
        org = services.create_organization(
            actor=admin, parent=parent, code=f"X{i:04d}", name=f"第{i}党支部", kind=kind
        )
        id_number = f"11010519800101{i:04d}"
        Member.objects.create(
            organization=org,
            org_path=org.path,
            name=f"党员{i}",
            sex="1",
            birth_date=datetime.date(1980, 1, 1),
            id_number_encrypted=encrypt(id_number),
            id_number_hash=keyed_hash(id_number),
            category="full",
            joined_on=datetime.date(2005, 7, 1),
        )
        made.append(org)
        parent.refresh_from_db()
    return made


def add_events(org, n):
    AuditEvent.objects.bulk_create(
        AuditEvent(
            user_label="alice",
            request_id=f"bulk-{next(_numbers)}",
            action="org.update",
            object_type="core.organization",
            object_id=str(org.pk),
            object_label=org.name,
            org_path=org.path,
            before={"name": "旧"},
            after={"name": "新"},
        )
        for _ in range(n)
    )


def queries(client, url, params=None, **extra) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {}, **extra)
    assert response.status_code == 200, (url, response.status_code)
    return len(captured.captured_queries)


def small_then_large(client, url, grow, params=None, **extra) -> tuple[int, int]:
    client.get(url, params or {}, **extra)  # warm up: session, content types
    small = queries(client, url, params, **extra)
    grow()
    large = queries(client, url, params, **extra)
    return small, large


def test_tree_page(admin, tree, client_for):
    c = client_for(admin)
    small, large = small_then_large(
        c,
        reverse("core:org_tree"),
        lambda: [
            services.create_organization(
                actor=admin, parent=None, code=f"R{i:03d}", name=f"第{i}县委", kind="committee"
            )
            for i in range(60)
        ],
    )
    assert small == large


def test_tree_search_results(people, tree, admin, client_for):
    c = client_for(people["oscar"])
    small, large = small_then_large(
        c,
        reverse("core:org_tree"),
        lambda: add_children(admin, tree["town"], 60),
        params={"q": "党支部"},
    )
    assert small == large


def test_children_partial(people, tree, admin, client_for):
    c = client_for(people["oscar"])
    town = tree["town"]
    small, large = small_then_large(
        c,
        reverse("core:org_children", args=[town.pk]),
        lambda: add_children(admin, town, 60),
    )
    assert small == large


def test_org_detail_with_many_children(people, tree, admin, client_for):
    c = client_for(people["oscar"])
    town = tree["town"]
    url = reverse("core:org_detail", args=[town.pk])
    add_children(admin, town, 1)
    small, large = small_then_large(c, url, lambda: add_children(admin, town, 60))
    assert small == large
    page = c.get(url)
    assert page.context["member_count"] == 61
    assert all(child.member_count in (0, 1) for child in page.context["page"])


def test_org_detail_second_page(people, tree, admin, client_for):
    c = client_for(people["oscar"])
    town = tree["town"]
    add_children(admin, town, 55)
    small, large = small_then_large(
        c,
        reverse("core:org_detail", args=[town.pk]),
        lambda: add_children(admin, town, 60),
        params={"page": "2"},
    )
    assert small == large


def test_audit_list(people, tree, client_for):
    c = client_for(people["oscar"])
    add_events(tree["branch_a"], 5)
    small, large = small_then_large(
        c, reverse("core:audit_list"), lambda: add_events(tree["branch_a"], 200)
    )
    assert small == large


def test_audit_list_filtered_by_organisation(people, tree, client_for):
    c = client_for(people["oscar"])
    add_events(tree["branch_a"], 5)
    small, large = small_then_large(
        c,
        reverse("core:audit_list"),
        lambda: add_events(tree["group_a"], 200),
        params={"org": "B01"},
    )
    assert small == large


def test_home_page(people, tree, admin, client_for):
    c = client_for(people["oscar"])
    small, large = small_then_large(
        c, reverse("core:home"), lambda: add_children(admin, tree["town"], 60)
    )
    assert small == large


def test_home_page_with_many_roles(tree, admin, make_user, client_for):
    """A person with roles in many places: the scope is loaded once per request."""
    carol = make_user("carol")
    c = client_for(carol)
    services.assign_role(actor=admin, user=carol, org=tree["branch_a"], role="secretary")
    small, large = small_then_large(
        c,
        reverse("core:home"),
        lambda: [
            services.assign_role(actor=admin, user=carol, org=org, role="secretary")
            for org in add_children(admin, tree["other_town"], 30)
        ],
    )
    assert small == large


def test_api_org_list(people, tree, admin, client):
    _token, secret = services.create_api_token(actor=people["oscar"], name="ci", days=1)
    small, large = small_then_large(
        client,
        "/api/v1/orgs",
        lambda: add_children(admin, tree["town"], 60),
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert small == large
    body = client.get("/api/v1/orgs", HTTP_AUTHORIZATION=f"Bearer {secret}").json()
    assert body["count"] == 4 + 60  # town, A, B, group A and the new branches
