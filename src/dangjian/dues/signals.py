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


def _resync_many(member_ids: list[int], org_ids: set, from_year: int) -> None:
    if not member_ids:
        return
    years = set(
        LedgerLine.objects.filter(member_id__in=member_ids, year__gte=from_year)
        .values_list("year", flat=True)
        .distinct()
    )
    org_ids = {o for o in org_ids if o}
    if org_ids:
        years |= set(
            MonthTotal.objects.filter(organization_id__in=org_ids, year__gte=from_year)
            .values_list("year", flat=True)
            .distinct()
        )
    if years:
        ledger.sync(member_ids, years)


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

    org_ids = set(
        Member.objects.filter(pk__in=member_ids).values_list("organization_id", flat=True)
    )
    _resync_many(list(member_ids), org_ids, since.year)
