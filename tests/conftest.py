"""Shared fixtures. Every page and endpoint is tried by three people (see STYLE.md):

- alice: secretary of branch A;
- oscar: organisation administrator of the township committee above A and B;
- bob:   secretary of branch B, A's sibling.
"""

import datetime
import os
from zoneinfo import ZoneInfo

import pytest
import time_machine

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API in tests

PASSWORD = "correct-horse-battery"

# The dues tests speak of dates around the day they were written ("tomorrow" is 2026-11-26, the
# year's ledger has months still to come): they run on that day, with the clock ticking, so they
# mean the same thing whenever the suite runs.
DUES_TODAY = datetime.datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def dues_clock():
    with time_machine.travel(DUES_TODAY, tick=True):
        yield DUES_TODAY.date()


@pytest.fixture
def make_user(db):
    from dangjian.core.models import User

    def make(username, **extra):
        user = User(username=username, display_name=extra.pop("display_name", username))
        mobile = extra.pop("mobile", "")
        if mobile:
            user.set_mobile(mobile)
        for key, value in extra.items():
            setattr(user, key, value)
        user.set_password(PASSWORD)
        user.save()
        return user

    return make


@pytest.fixture
def activity_types(db):
    """The builtin kinds of organisational life. A data migration makes them, but a test run in
    a transaction empties every table after it: make them again when they are gone."""
    import importlib

    from django.apps import apps

    from dangjian.meetings.models import ActivityType

    if not ActivityType.objects.filter(builtin=True).exists():
        migration = importlib.import_module("dangjian.meetings.migrations.0002_builtin_types")
        migration.add_types(apps, None)
    return {t.code: t for t in ActivityType.objects.all()}


@pytest.fixture
def admin(make_user):
    return make_user("root", is_superuser=True, is_staff=True)


@pytest.fixture
def tree(db, admin):
    """county ─ town ─┬ branch_a ─ group_a
                    └ branch_b
    county ─ other_town"""
    from dangjian.core import services

    def org(parent, code, name, kind):
        return services.create_organization(
            actor=admin, parent=parent, code=code, name=name, kind=kind
        )

    county = org(None, "C01", "某某县委", "committee")
    town = org(county, "T01", "城关镇党委", "committee")
    branch_a = org(town, "B01", "东街社区党支部", "branch")
    branch_b = org(town, "B02", "西街社区党支部", "branch")
    group_a = org(branch_a, "G01", "第一党小组", "group")
    other_town = org(county, "T02", "河口镇党委", "committee")
    for item in (county, town, branch_a, branch_b, group_a, other_town):
        item.refresh_from_db()
    return {
        "county": county,
        "town": town,
        "branch_a": branch_a,
        "branch_b": branch_b,
        "group_a": group_a,
        "other_town": other_town,
    }


@pytest.fixture
def people(tree, make_user, admin):
    from dangjian.core import services

    alice = make_user("alice", display_name="张丽", mobile="13812345678")
    oscar = make_user("oscar", display_name="欧阳明")
    bob = make_user("bob", display_name="李波")
    services.assign_role(actor=admin, user=alice, org=tree["branch_a"], role="secretary")
    services.assign_role(actor=admin, user=oscar, org=tree["town"], role="org_admin")
    services.assign_role(actor=admin, user=bob, org=tree["branch_b"], role="secretary")
    return {"alice": alice, "oscar": oscar, "bob": bob}


@pytest.fixture
def client_for(client):
    from django.test import Client

    def login(user):
        c = Client()
        c.force_login(user)
        return c

    return login


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test its own cache keys: the cache outlives a test, organisation paths repeat from
    test to test, and with Redis the parallel test processes share one server (clearing it
    would pull the floor from under the other process)."""
    import uuid

    from django.core.cache import caches

    cache = caches["default"]
    before = cache.key_prefix
    cache.key_prefix = f"{before}:test-{uuid.uuid4().hex}"
    yield
    cache.key_prefix = before


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Real hashing costs about a second per account; the tests check permissions, not hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def make_member(admin):
    """make_member(org, name, birth="1980-05-01", sex=1, joined_on="2005-07-01", full_on=...)
    records a member through the service (with its timeline), as the system administrator."""
    import datetime
    import itertools

    from dangjian.members import services as member_services
    from tests.idnumbers import make_id

    counter = itertools.count(1)

    def make(
        org, name, *, birth="1980-05-01", sex=1, joined_on="2005-07-01", full_on="auto", **extra
    ):
        joined = datetime.date.fromisoformat(joined_on)
        if full_on == "auto":
            full = joined.replace(year=joined.year + 1)
        else:
            full = datetime.date.fromisoformat(full_on) if full_on else None
        data = {
            "name": name,
            "id_number": extra.pop("id_number", None) or make_id(birth, sex, seq=next(counter)),
            "joined_on": joined,
            "full_on": full,
            "category": "full" if full else "probationary",
            **extra,
        }
        return member_services.create_member(actor=admin, organization=org, data=data)

    return make


@pytest.fixture
def roster(people, tree, make_member):
    """Three members in branch A, two in branch B."""
    a, b = tree["branch_a"], tree["branch_b"]
    return {
        "zhang": make_member(a, "张三", birth="1985-03-12", phone="13900001111"),
        "li": make_member(
            a, "李四", birth="1990-11-02", sex=2, full_on=None, joined_on="2025-09-01"
        ),
        "wang": make_member(a, "王五", birth="1962-01-20", ethnicity="03"),
        "zhao": make_member(b, "赵六", birth="1978-06-30", sex=2),
        "qian": make_member(b, "钱七", birth="1995-12-01", joined_on="2018-07-01"),
    }


def pytest_collection_modifyitems(config, items):
    """Tests marked `postgres` run only when the database is PostgreSQL (CI runs the suite on
    both); elsewhere they are deselected and reported as such, never silently skipped."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        return
    kept = [item for item in items if item.get_closest_marker("postgres") is None]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept
