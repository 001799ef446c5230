"""The periodic sweeps (core.sweeps): expiring letters and re-election reminders, run once by
`dangjian sweep` and on a timer by the worker's thread; idempotent however often they run."""

import datetime
import io
import threading
import time

import pytest
from django.core.management import call_command
from django.db import OperationalError
from django.utils import timezone

from dangjian.committees import services as committees
from dangjian.core import sweeps
from dangjian.core.models import AuditEvent, Notification
from dangjian.core.rules import add_years
from dangjian.transfers import services as transfers
from dangjian.transfers.models import State, Transfer

EXPIRE = "dangjian.transfers.services.expire_letters"
REMIND = "dangjian.committees.reminders.send_reelection_reminders"
STUCK = "dangjian.transfers.notices.remind_stuck_transfers"
MEETINGS = "dangjian.meetings.sweep.remind_due"
DEADLINES = "dangjian.feedback.sweep.sweep_deadlines"


def days_ago(n: int) -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=n)


@pytest.fixture
def stale_letter(people, roster):
    """A letter issued 40 days ago, valid for 30: due to expire."""
    return transfers.issue_letter(
        actor=people["alice"], member=roster["zhang"], counterpart="外县党委", on=days_ago(40)
    )


@pytest.fixture
def due_term(people, tree):
    """Branch A's term ends in 30 days: alice (A) and oscar (the township) are reminded."""
    return committees.record_term(
        actor=people["alice"],
        org=tree["branch_a"],
        form="committee",
        elected_on=add_years(timezone.localdate() + datetime.timedelta(days=30), -3),
    )


@pytest.fixture
def no_meetings_due(monkeypatch):
    """Reminders of organisational life depend on the day of the month (their own tests are in
    tests/meetings/test_sweep.py): here they find no period ending or just ended."""
    from dangjian.meetings import sweep

    monkeypatch.setattr(sweep, "targets", lambda today, lead: [])


@pytest.mark.django_db
def test_run_all_runs_every_sweep_once_and_again_does_nothing(
    stale_letter, due_term, no_meetings_due
):
    assert sweeps.run_all() == {EXPIRE: 1, REMIND: 2, STUCK: 0, MEETINGS: 0, DEADLINES: 0}
    assert sweeps.run_all() == {EXPIRE: 0, REMIND: 0, STUCK: 0, MEETINGS: 0, DEADLINES: 0}
    stale_letter.refresh_from_db()
    assert stale_letter.state == State.EXPIRED
    assert AuditEvent.objects.filter(action="letter.expire").count() == 1
    assert Notification.objects.filter(kind="reelection").count() == 2


@pytest.mark.django_db
def test_a_broken_sweep_does_not_stop_the_others(monkeypatch, stale_letter):
    monkeypatch.setattr(sweeps, "SWEEPS", ["dangjian.core.sweeps.no_such_sweep", EXPIRE])
    assert sweeps.run_all() == {"dangjian.core.sweeps.no_such_sweep": -1, EXPIRE: 1}


def test_no_interval_no_thread():
    assert sweeps.start_thread(0) is None
    assert sweeps.start_thread(-5) is None
    assert "dangjian-sweeps" not in [t.name for t in threading.enumerate()]


@pytest.mark.django_db(transaction=True)
def test_the_worker_thread_expires_a_real_letter(stale_letter):
    thread = sweeps.start_thread(0.05)
    assert thread.name == "dangjian-sweeps" and thread.daemon
    try:
        deadline = time.monotonic() + 60
        expired = False
        while not expired and time.monotonic() < deadline:
            time.sleep(0.05)
            try:
                expired = Transfer.objects.filter(pk=stale_letter.pk, state=State.EXPIRED).exists()
            except OperationalError:  # SQLite's shared in-memory test database, busy writing
                continue
    finally:
        thread.stop.set()
        thread.join(30)
    assert expired
    assert not thread.is_alive()
    # it ran more than once, and expired the letter once
    assert AuditEvent.objects.filter(action="letter.expire").count() == 1


@pytest.mark.django_db
def test_sweep_command_says_what_it_did(stale_letter, due_term, no_meetings_due):
    out = io.StringIO()
    call_command("sweep", stdout=out)
    assert out.getvalue().splitlines() == [
        "expire_letters: 1",
        "send_reelection_reminders: 2",
        "remind_stuck_transfers: 0",
        "remind_due: 0",
        "sweep_deadlines: 0",
    ]
    out = io.StringIO()
    call_command("sweep", stdout=out)
    assert out.getvalue().splitlines() == [
        "expire_letters: 0",
        "send_reelection_reminders: 0",
        "remind_stuck_transfers: 0",
        "remind_due: 0",
        "sweep_deadlines: 0",
    ]


@pytest.mark.django_db
def test_sweep_command_reports_a_failed_sweep(monkeypatch):
    monkeypatch.setattr(sweeps, "SWEEPS", ["dangjian.core.sweeps.no_such_sweep", EXPIRE])
    out, err = io.StringIO(), io.StringIO()
    call_command("sweep", stdout=out, stderr=err)
    assert out.getvalue().splitlines() == ["expire_letters: 0"]
    assert "no_such_sweep: failed" in err.getvalue()


@pytest.mark.django_db(transaction=True)  # the worker closes its connection when done
def test_a_batch_worker_starts_no_sweep_thread():
    call_command("worker", "--batch", stdout=io.StringIO(), stderr=io.StringIO())
    assert "dangjian-sweeps" not in [t.name for t in threading.enumerate()]
