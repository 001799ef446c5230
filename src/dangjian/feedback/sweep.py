"""The deadline sweep of requests from the public (run by every worker, see core.sweeps):
overdue requests are escalated to the committee above, those due within a day are reminded.
Each request is claimed by a conditional UPDATE, so two workers never act on it twice."""

from django.utils import timezone

from . import services


def sweep_deadlines(now=None) -> int:
    now = now or timezone.now()
    return len(services.claim_overdue(now)) + len(services.claim_due_soon(now))
