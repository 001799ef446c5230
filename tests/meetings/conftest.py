"""Members with accounts and meetings for the tests of organisational life."""

import datetime

import pytest
from django.utils import timezone

from dangjian.meetings import services


@pytest.fixture
def types(activity_types):
    return activity_types


@pytest.fixture(autouse=True)
def _builtin_types(request):
    """Every test of this package that uses the database finds the builtin kinds there."""
    if request.node.get_closest_marker("django_db") or {"db", "transactional_db"} & set(
        request.fixturenames
    ):
        request.getfixturevalue("activity_types")


@pytest.fixture
def accounts(roster, make_user):
    """zhang and wang of branch A can log in (members, no role)."""
    out = {}
    for key in ("zhang", "wang", "li"):
        user = make_user(f"{key}_user")
        roster[key].user = user
        roster[key].save(update_fields=["user"])
        out[key] = user
    return out


def at(days: float = 0, hour: int = 14) -> datetime.datetime:
    """A moment `days` from today at `hour`, Beijing time."""
    day = timezone.localdate() + datetime.timedelta(days=days)
    return timezone.make_aware(datetime.datetime(day.year, day.month, day.day, hour))


@pytest.fixture
def meeting(people, tree, types, roster):
    """Branch A's general meeting, under way: it began half an hour ago, for two hours."""
    now = timezone.now().replace(second=0, microsecond=0)
    return services.schedule(
        actor=people["alice"],
        organization=tree["branch_a"],
        activity_type=types["general_meeting"],
        topic="讨论发展党员",
        starts_at=now - datetime.timedelta(minutes=30),
        ends_at=now + datetime.timedelta(minutes=90),
        place="党员活动室",
    )
