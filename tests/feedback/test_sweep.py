"""The deadline sweep: overdue requests escalate to the committee above once, requests due
within a day are reminded once, and two workers sweeping at once act once."""

import datetime

import pytest
from django.utils import timezone

from dangjian.core import sweeps
from dangjian.core.models import AuditEvent, Notification
from dangjian.feedback import selectors, services
from dangjian.feedback.models import Entry, EntryKind, PublicRequest
from tests.races import race

HOUR = datetime.timedelta(hours=1)


def overdue(req) -> PublicRequest:
    PublicRequest.objects.filter(pk=req.pk).update(answer_due_at=timezone.now() - HOUR)
    return PublicRequest.objects.get(pk=req.pk)


def told(user, text) -> int:
    return Notification.objects.filter(user=user, title__contains=text).count()


def test_an_overdue_request_escalates_to_the_committee_above_once(submit, people, tree):
    req, _code = submit()
    req = overdue(req)
    assert services.claim_overdue() == [req.pk]
    req.refresh_from_db()
    assert req.escalated_at is not None and req.escalated_to == tree["town"]
    assert told(people["oscar"], req.number) == 1  # the township's administrator
    assert told(people["alice"], req.number) >= 1  # and the branch itself
    assert told(people["bob"], req.number) == 0
    assert services.claim_overdue() == []  # the next sweep leaves it alone
    assert Entry.objects.filter(request=req, kind=EntryKind.ESCALATED).count() == 1
    assert AuditEvent.objects.filter(action="feedback.escalate").count() == 1
    assert [r.pk for r in selectors.inbox(people["oscar"], view="escalated")] == [req.pk]


def test_answered_and_not_yet_due_requests_are_not_escalated(submit, people):
    answered, _c = submit()
    services.answer(actor=people["alice"], req=answered, reply="已处理")
    overdue(answered)
    submit()  # due in days
    assert services.claim_overdue() == []


def test_requests_due_within_a_day_are_reminded_once(submit, people):
    req, _code = submit()
    PublicRequest.objects.filter(pk=req.pk).update(answer_due_at=timezone.now() + 3 * HOUR)
    assert services.claim_due_soon() == [req.pk]
    assert services.claim_due_soon() == []
    assert Notification.objects.filter(user=people["alice"], key__contains=":soon:").count() == 1


def test_forwarding_starts_the_escalation_afresh(submit, people, tree):
    req, _code = submit()
    overdue(req)
    services.claim_overdue()
    req = services.forward(
        actor=people["oscar"],
        req=PublicRequest.objects.get(pk=req.pk),
        to_org=tree["branch_b"],
        reason="属西街",
    )
    assert req.escalated_at is None
    assert services.claim_overdue() == [req.pk]  # still late: escalated again from its new place


def test_the_sweep_is_registered_with_the_workers(submit):
    req, _code = submit()
    overdue(req)
    done = sweeps.run_all()
    assert done["dangjian.feedback.sweep.sweep_deadlines"] == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_sweeping_at_once_escalate_once(submit, people):
    req, _code = submit()
    req = overdue(req)
    now = timezone.now()
    results = race([req], lambda: services.claim_overdue(now), lambda: services.claim_overdue(now))
    assert sorted(r[0] for r in results) == ["ok", "ok"]
    assert sorted(len(r[1]) for r in results) == [0, 1]
    assert Entry.objects.filter(request=req, kind=EntryKind.ESCALATED).count() == 1
    assert told(people["oscar"], req.number) == 1
    assert AuditEvent.objects.filter(action="feedback.escalate").count() == 1
