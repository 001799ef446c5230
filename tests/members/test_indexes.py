"""Indexes that lists and sweeps rely on, checked on the query plans they serve."""

import datetime

import pytest
from django.db import connection

from dangjian.core.models import Notification
from dangjian.members import services as member_services
from dangjian.transfers import selectors as transfer_selectors

pytestmark = pytest.mark.django_db


def plan(qs) -> str:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Tiny test tables make a sequential scan cheapest: ask whether the index can serve.
            cursor.execute("SET enable_seqscan = off")
            try:
                return qs.explain()
            finally:
                cursor.execute("RESET enable_seqscan")
    return qs.explain()


def test_the_out_of_contact_list_of_a_subtree_reads_its_partial_index(people, tree, roster):
    member_services.record_event(
        actor=people["alice"],
        member=roster["wang"],
        kind="lost_contact",
        on=datetime.date(2025, 1, 10),
    )
    qs = transfer_selectors.out_of_contact(people["oscar"], tree["branch_a"])
    assert [m.name for m in qs] == ["王五"]
    assert "member_out_of_contact" in plan(qs)


def test_sent_notifications_are_found_by_key(people):
    qs = Notification.objects.filter(key__in=["reelection:1:2026-01-01:due"], kind="reelection")
    assert "notification_key" in plan(qs.values_list("user_id", "key"))
