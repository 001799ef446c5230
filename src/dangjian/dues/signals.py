"""Keep ledgers in step when a timeline or a mobile stay changes.

A transfer, admission, death or stay changes who collects which month. Once a year's ledger
exists (for the member, or for the organisation they are now in), the member's lines of that
year and the years after it are brought in step in the same transaction (`ledger.sync`). Bulk
imports write no signals: generating the year again (idempotent) picks their members up.
"""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from dangjian.members.models import StandingEvent
from dangjian.members.signals import timelines_changed
from dangjian.transfers.models import MobileStay

from . import ledger
from .models import LedgerLine, MonthTotal


def _resync(member_id: int | None, org_ids: set, from_year: int) -> None:
    if member_id is not None:
        _resync_many([member_id], org_ids, from_year)


BATCH = 1000  # members brought in step at a time (a restructuring may move a great many)


def _batches(ids: list[int]):
    for i in range(0, len(ids), BATCH):
        yield ids[i : i + BATCH]


def _resync_many(member_ids: list[int], org_ids: set, from_year: int) -> None:
    member_ids = sorted(set(member_ids))
    if not member_ids:
        return
    years: set[int] = set()
    for batch in _batches(member_ids):
        years |= set(
            LedgerLine.objects.filter(member_id__in=batch, year__gte=from_year)
            .values_list("year", flat=True)
            .distinct()
        )
    org_ids = sorted({o for o in org_ids if o})
    for batch in _batches(org_ids):
        years |= set(
            MonthTotal.objects.filter(organization_id__in=batch, year__gte=from_year)
            .values_list("year", flat=True)
            .distinct()
        )
    if years:
        # In batches: one member's lines at a time would be slow, every member's at once
        # holds every timeline, base and line in memory (and one huge IN list).
        for batch in _batches(member_ids):
            ledger.sync(batch, years)


@receiver([post_save, post_delete], sender=StandingEvent)
def _event_changed(sender, instance: StandingEvent, **kwargs):
    _resync(instance.member_id, {instance.organization_id}, instance.occurred_on.year)


@receiver([post_save, post_delete], sender=MobileStay)
def _stay_changed(sender, instance: MobileStay, **kwargs):
    if instance.member_id is None:
        return
    _resync(instance.member_id, {instance.host_org_id, instance.home_org_id}, instance.since.year)


@receiver(timelines_changed)
def _timelines_changed(sender, member_ids, since, **kwargs):
    """Events written in bulk (new records, restructuring, dissolving): the members' current
    organisations tell which years' ledgers exist for them."""
    from dangjian.members.models import Member

    member_ids = sorted(set(member_ids))
    org_ids: set[int] = set()
    for batch in _batches(member_ids):
        org_ids |= set(
            Member.objects.filter(pk__in=batch).values_list("organization_id", flat=True)
        )
    _resync_many(member_ids, org_ids, since.year)
