"""Every read of transfers, mobile members and members out of contact, scoped to the user.

A transfer is seen by both sides: the sending organisation's scope and the receiving one's. The
receiving side sees what the transfer says (name, sex, category, from where) but not the member's
record, which stays in the sender's scope until it accepts.
"""

import datetime

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from dangjian.core import selectors
from dangjian.core.errors import NotFound
from dangjian.core.models import BRANCH_KINDS, Organization, OrgStatus
from dangjian.core.rules import add_months
from dangjian.members import rules as member_rules
from dangjian.members.models import EventKind, Member, StandingEvent

from .models import Direction, MobileState, MobileStay, State, Transfer


def _either_side(user, action: str, first: str, second: str) -> Q | None:
    """Rows whose `first` or `second` organisation path lies in the user's scope for `action`;
    None when the user sees nothing, Q() when everything."""
    prefixes = selectors.scope_for(user, action)
    if not prefixes:
        return None
    if "" in prefixes:
        return Q()
    condition = Q()
    for prefix in prefixes:
        condition |= selectors.subtree_range(first, prefix) | selectors.subtree_range(
            second, prefix
        )
    return condition


def transfers(user, action: str = "transfer.view") -> QuerySet:
    condition = _either_side(user, action, "from_org__path", "to_org__path")
    qs = Transfer.objects.select_related("from_org", "to_org", "letter_issuer")
    if condition is None:
        return qs.none()
    return qs.filter(condition)


def get_transfer(user, pk, action: str = "transfer.view") -> Transfer:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound("transfer not found") from None
    found = transfers(user, action).filter(pk=pk).first()
    if found is None:
        raise NotFound("transfer not found")
    return found


def _in_scope(user, field: str, org: Organization | None) -> QuerySet:
    qs = selectors.restrict(
        Transfer.objects.select_related("from_org", "to_org", "letter_issuer"),
        user,
        "transfer.view",
        field,
    )
    if org is not None:
        qs = qs.filter(selectors.subtree_range(field, org.path))
    return qs


def outgoing(user, org: Organization | None = None, *, state: str | None = None) -> QuerySet:
    """Transfers and letters leaving the user's organisations (or `org`'s subtree)."""
    qs = _in_scope(user, "from_org__path", org).filter(
        direction__in=(Direction.INTERNAL, Direction.OUTGOING)
    )
    if state:
        qs = qs.filter(state=state)
    return qs.order_by("-started_on", "-id")


def incoming(user, org: Organization | None = None, *, state: str | None = None) -> QuerySet:
    """Transfers and letters arriving at the user's organisations (or `org`'s subtree)."""
    qs = _in_scope(user, "to_org__path", org).filter(
        direction__in=(Direction.INTERNAL, Direction.INCOMING)
    )
    if state:
        qs = qs.filter(state=state)
    return qs.order_by("-started_on", "-id")


def stuck(user, today: datetime.date | None = None) -> QuerySet:
    """Pending transfers older than the configured days, and letters past their validity that
    the sweep has not expired yet."""
    today = today or timezone.localdate()
    limit = today - datetime.timedelta(days=settings.TRANSFER_STUCK_DAYS)
    return (
        transfers(user)
        .filter(state=State.PENDING)
        .filter(Q(started_on__lt=limit) | Q(valid_until__lt=today))
        .order_by("started_on", "id")
    )


def batch(user, batch_id, action: str = "transfer.view") -> QuerySet:
    return transfers(user, action).filter(batch=batch_id).order_by("person_name", "id")


def open_transfer_of(member: Member) -> Transfer | None:
    return Transfer.objects.filter(member=member, state=State.PENDING).first()


def transfer_targets(user, text: str, *, limit: int = 20) -> QuerySet:
    """Organisations a transfer can go to: any active branch of the whole tree, found by code or
    name (names of organisations are not secret; their members are)."""
    text = (text or "").replace("\x00", "").strip()
    if not text or not selectors.scope_for(user, "transfer.manage"):
        return Organization.objects.none()
    return (
        Organization.objects.filter(status=OrgStatus.ACTIVE, kind__in=BRANCH_KINDS)
        .filter(Q(code__iexact=text) | Q(name__icontains=text) | Q(short_name__icontains=text))
        .order_by("depth", "path")[:limit]
    )


# Mobile members -----------------------------------------------------------------------------


def mobile_stays(user) -> QuerySet:
    condition = _either_side(user, "transfer.view", "home_org__path", "host_org__path")
    qs = MobileStay.objects.select_related("home_org", "host_org", "member")
    if condition is None:
        return qs.none()
    return qs.filter(condition)


def get_stay(user, pk) -> MobileStay:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound("not found") from None
    found = mobile_stays(user).filter(pk=pk).first()
    if found is None:
        raise NotFound("not found")
    return found


def mobile_out(user, org: Organization | None = None, *, active: bool = True) -> QuerySet:
    qs = selectors.restrict(
        MobileStay.objects.select_related("home_org", "host_org"),
        user,
        "transfer.view",
        "home_org__path",
    ).filter(member__isnull=False)
    if org is not None:
        qs = qs.filter(selectors.subtree_range("home_org__path", org.path))
    if active:
        qs = qs.filter(state=MobileState.ACTIVE)
    return qs.order_by("-since", "-id")


def mobile_in(user, org: Organization | None = None, *, active: bool = True) -> QuerySet:
    qs = selectors.restrict(
        MobileStay.objects.select_related("home_org", "host_org"),
        user,
        "transfer.view",
        "host_org__path",
    ).filter(host_org__isnull=False)
    if org is not None:
        qs = qs.filter(selectors.subtree_range("host_org__path", org.path))
    if active:
        qs = qs.filter(state=MobileState.ACTIVE)
    return qs.order_by("-since", "-id")


def guests_of(org: Organization, on: datetime.date | None = None) -> QuerySet:
    """Incoming mobile members taking part in `org`'s life on a day (meetings and dues use
    this; they never count as voting members here). No user: callers have checked scope."""
    on = on or timezone.localdate()
    return (
        MobileStay.objects.filter(host_org=org, since__lte=on)
        .filter(Q(returned_on__isnull=True) | Q(returned_on__gt=on))
        .order_by("person_name", "id")
    )


# Out of contact -----------------------------------------------------------------------------


def out_of_contact(user, org: Organization | None = None) -> QuerySet:
    """Members out of contact in scope, with the date their standing was last suspended."""
    last_suspended = (
        StandingEvent.objects.filter(member=OuterRef("pk"), kind=EventKind.SUSPENDED)
        .order_by("-occurred_on", "-id")
        .values("occurred_on")[:1]
    )
    qs = selectors.restrict(
        Member.objects.filter(status="active", out_of_contact=True), user, "member.view", "org_path"
    )
    if org is not None:
        qs = qs.filter(selectors.subtree_range("org_path", org.path))
    return (
        qs.select_related("organization")
        .annotate(suspended_on=Subquery(last_suspended))
        .order_by("out_of_contact_since", "id")
    )


def with_flags(members, today: datetime.date | None = None) -> list:
    """Each member with `.flag` ("suspend", "remove" or "") and `.flag_due`."""
    today = today or timezone.localdate()
    rows = []
    for m in members:
        suspended_on = m.suspended_on if m.standing == "suspended" else None
        m.flag, m.flag_due = member_rules.contact_flag(m.out_of_contact_since, suspended_on, today)
        rows.append(m)
    return rows


def has_open_transfer() -> Exists:
    return Exists(Transfer.objects.filter(member=OuterRef("pk"), state=State.PENDING))


def _latest_day(today: datetime.date, months: int) -> datetime.date:
    """The latest day d with add_months(d, months) <= today (month ends make it a search)."""
    day = add_months(today, -months)
    while add_months(day + datetime.timedelta(days=1), months) <= today:
        day += datetime.timedelta(days=1)
    return day


def with_flag(qs: QuerySet, flag: str, today: datetime.date | None = None) -> QuerySet:
    """Members of `out_of_contact(...)` whose `members.rules.contact_flag` is `flag`
    ("suspend", "remove", or "" for none yet), in SQL so the list filters and pages on it.
    The same dates as the pure function: tested against it row by row."""
    today = today or timezone.localdate()
    suspend_by = _latest_day(today, member_rules.SUSPEND_AFTER_MONTHS)
    remove_months = member_rules.REMOVE_AFTER_YEARS * 12
    remove_by = _latest_day(today, remove_months)
    lost_by = _latest_day(remove_by, member_rules.SUSPEND_AFTER_MONTHS)
    # A suspended standing without a recorded suspension counts as not suspended, as in with_flags.
    not_suspended = Q(standing="normal") | Q(suspended_on__isnull=True)
    suspend = not_suspended & Q(out_of_contact_since__lte=suspend_by)
    remove = Q(standing="suspended", suspended_on__lte=remove_by, out_of_contact_since__lte=lost_by)
    if flag == "suspend":
        return qs.filter(suspend)
    if flag == "remove":
        return qs.filter(remove)
    return qs.exclude(suspend).exclude(remove)
