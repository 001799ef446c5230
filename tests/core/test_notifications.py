"""Notifications: the bell in the navigation bar counts the unread ones (one query), the list
shows the user's own, and marking read works on the user's own only."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from dangjian.core.models import Notification

pytestmark = pytest.mark.django_db


def notify(user, n, *, url="/committees/", prefix="k"):
    return [
        Notification.objects.create(
            user=user, kind="test", key=f"{prefix}{i}", title=f"通知{i}", url=url
        )
        for i in range(n)
    ]


def bell(response) -> str | None:
    import re

    found = re.search(r'data-testid="unread-count">([^<]*)<', response.content.decode())
    return found.group(1) if found else None


def test_the_bell_counts_unread_notifications(people, client_for):
    alice = people["alice"]
    c = client_for(alice)
    assert bell(c.get(reverse("core:home"))) is None
    notes = notify(alice, 2)
    notify(people["bob"], 3, prefix="b")  # somebody else's do not count
    assert bell(c.get(reverse("core:home"))) == "2"
    c.post(reverse("core:notification_read", args=[notes[0].pk]))
    assert bell(c.get(reverse("core:home"))) == "1"


def test_the_bell_stops_counting_at_99(people, client_for):
    Notification.objects.bulk_create(
        Notification(user=people["alice"], kind="t", key=f"x{i}", title="t") for i in range(120)
    )
    assert bell(client_for(people["alice"]).get(reverse("core:home"))) == "99+"


def test_the_bell_costs_one_query(people, client_for):
    c = client_for(people["alice"])
    c.get(reverse("core:profile"))
    with CaptureQueriesContext(connection) as captured:
        c.get(reverse("core:profile"))
    notify(people["alice"], 30)
    with CaptureQueriesContext(connection) as more:
        c.get(reverse("core:profile"))
    assert len(more.captured_queries) == len(captured.captured_queries)
    assert sum("core_notification" in q["sql"] for q in more.captured_queries) == 1


def test_anonymous_pages_have_no_bell(client, db):
    response = client.get(reverse("core:login"))
    assert 'data-testid="bell"' not in response.content.decode()


def test_the_list_shows_own_notifications_and_opens_their_link(people, client_for):
    alice = people["alice"]
    mine = notify(alice, 2, url="/committees/orgs/1/")
    notify(people["bob"], 1, prefix="b")
    c = client_for(alice)
    page = c.get(reverse("core:notifications"))
    assert page.status_code == 200
    assert {n.pk for n in page.context["page"]} == {n.pk for n in mine}
    assert page.content.decode().count('data-read="0"') == 2
    opened = c.post(reverse("core:notification_read", args=[mine[0].pk]), {"go": "1"})
    assert opened.status_code == 302 and opened.url == "/committees/orgs/1/"
    mine[0].refresh_from_db()
    assert mine[0].read_at is not None
    first = mine[0].read_at
    # reading again keeps the first time
    c.post(reverse("core:notification_read", args=[mine[0].pk]))
    mine[0].refresh_from_db()
    assert mine[0].read_at == first


def test_a_link_elsewhere_is_never_followed(people, client_for):
    (note,) = notify(people["alice"], 1, url="https://evil.example/")
    c = client_for(people["alice"])
    assert "evil.example" not in c.get(reverse("core:notifications")).content.decode()
    response = c.post(reverse("core:notification_read", args=[note.pk]), {"go": "1"})
    assert response.status_code == 302 and response.url == reverse("core:notifications")


def test_mark_all_as_read(people, client_for):
    notify(people["alice"], 3)
    (bobs,) = notify(people["bob"], 1, prefix="b")
    c = client_for(people["alice"])
    assert c.post(reverse("core:notifications_read")).status_code == 302
    assert not Notification.objects.filter(user=people["alice"], read_at__isnull=True).exists()
    bobs.refresh_from_db()
    assert bobs.read_at is None


def test_nobody_reads_anybody_elses_notification(people, client_for):
    (bobs,) = notify(people["bob"], 1, prefix="b")
    c = client_for(people["alice"])
    assert c.post(reverse("core:notification_read", args=[bobs.pk])).status_code == 404
    assert c.get(reverse("core:notification_read", args=[bobs.pk])).status_code == 405
    bobs.refresh_from_db()
    assert bobs.read_at is None


def test_the_list_is_paginated_with_a_fixed_number_of_queries(people, client_for, settings):
    c = client_for(people["alice"])
    notify(people["alice"], 3)
    c.get(reverse("core:notifications"))
    with CaptureQueriesContext(connection) as small:
        c.get(reverse("core:notifications"))
    notify(people["alice"], settings.PAGE_SIZE + 5, prefix="m")
    with CaptureQueriesContext(connection) as large:
        page = c.get(reverse("core:notifications"))
    assert len(small.captured_queries) == len(large.captured_queries)
    assert len(page.context["page"]) == settings.PAGE_SIZE
    assert c.get(reverse("core:notifications"), {"page": 2}).status_code == 200


def test_anonymous_is_sent_to_login(client, people):
    (note,) = notify(people["alice"], 1)
    for url in (
        reverse("core:notifications"),
        reverse("core:notifications_read"),
        reverse("core:notification_read", args=[note.pk]),
    ):
        response = client.post(url) if "read" in url else client.get(url)
        assert response.status_code == 302 and "/login/" in response.url
    note.refresh_from_db()
    assert note.read_at is None


def test_reminders_reach_the_bell(people, tree, admin, client_for):
    """The re-election sweep writes notifications the bell counts and the list links."""
    import datetime

    from django.utils import timezone

    from dangjian.committees import reminders, services
    from dangjian.core import rules

    elected = rules.add_years(timezone.localdate(), -3) + datetime.timedelta(days=10)
    services.record_term(actor=admin, org=tree["branch_a"], form="secretary", elected_on=elected)
    reminders.send_reelection_reminders()
    c = client_for(people["alice"])
    assert bell(c.get(reverse("core:home"))) == "1"
    page = c.get(reverse("core:notifications")).content.decode()
    assert tree["branch_a"].name in page
