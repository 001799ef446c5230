"""Every read of member records, restricted to what the acting user may see.

`member_list(user, filters)` is the one list: pages, the API and exports use it. Every filter is
a plain condition on an indexed column of the member table (the derived state is stored on the
record), so the list stays fast at a million members.
"""

import datetime
import re
from dataclasses import dataclass, field, fields

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from dangjian.core import codes, crypto, selectors
from dangjian.core.errors import NotFound
from dangjian.core.idnumber import InvalidIdNumber, parse_id_number
from dangjian.core.models import AuditEvent, Organization

from . import rules
from .models import Member, StandingEvent

SORTS = {
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "joined_on": ("joined_on", "id"),
    "-joined_on": ("-joined_on", "-id"),
    "birth_date": ("birth_date", "id"),
    "-birth_date": ("-birth_date", "-id"),
    "organization": ("org_path", "name", "id"),
    "-organization": ("-org_path", "-name", "-id"),
    "id": ("id",),
    "-id": ("-id",),
}
DEFAULT_SORT = "organization"


@dataclass
class MemberFilter:
    """The filters of the member list, as typed values. Empty values filter nothing."""

    org: int | None = None
    exact_org: bool = False
    category: str = ""
    standing: str = ""
    status: str = "active"  # "" for every status
    sex: str = ""
    age_min: int | None = None
    age_max: int | None = None
    education: str = ""
    ethnicity: str = ""  # "han", "minority" or a code
    years_min: int | None = None  # 党龄
    years_max: int | None = None
    joined_from: datetime.date | None = None
    joined_to: datetime.date | None = None
    job_category: str = ""
    mobile: bool | None = None
    out_of_contact: bool | None = None
    q: str = ""
    sort: str = DEFAULT_SORT
    today: datetime.date = field(default_factory=timezone.localdate)

    @classmethod
    def from_params(cls, params) -> tuple["MemberFilter", dict[str, str]]:
        """Read filters from query parameters; returns (filter, errors by parameter)."""
        errors: dict[str, str] = {}
        values = {}

        def text(name):
            return str(params.get(name) or "").replace("\x00", "").strip()

        for f in fields(cls):
            raw = text(f.name)
            if f.name in ("today", "org") or raw == "":
                if f.name == "status" and f.name in params:
                    values["status"] = ""
                continue
            if f.type == (int | None):
                if not re.fullmatch(r"[0-9]{1,3}", raw):
                    errors[f.name] = "whole number expected"
                    continue
                values[f.name] = int(raw)
            elif f.type == (bool | None):
                if raw.lower() in ("1", "true", "yes", "on"):
                    values[f.name] = True
                elif raw.lower() in ("0", "false", "no", "off"):
                    values[f.name] = False
                else:
                    errors[f.name] = "yes or no expected"
            elif f.type is bool:
                values[f.name] = raw.lower() in ("1", "true", "yes", "on")
            elif f.type == (datetime.date | None):
                try:
                    values[f.name] = datetime.date.fromisoformat(raw)
                except ValueError:
                    errors[f.name] = "date expected (YYYY-MM-DD)"
            else:
                values[f.name] = raw[:64]
        if "org" in values or text("org"):
            raw = text("org")
            if raw and not re.fullmatch(r"[0-9]{1,18}", raw):
                errors["org"] = "organisation id expected"
                values.pop("org", None)
            elif raw:
                values["org"] = int(raw)
        if values.get("sort") and values["sort"] not in SORTS:
            errors["sort"] = "unknown sort"
            values.pop("sort")
        return cls(**values), errors


def members(user, action: str = "member.view") -> QuerySet:
    return selectors.restrict(Member.objects.all(), user, action, "org_path")


def get_member(user, pk, action: str = "member.view") -> Member:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound("member not found") from None
    found = members(user, action).select_related("organization").filter(pk=pk).first()
    if found is None:
        raise NotFound("member not found")
    return found


def own_member(user) -> Member | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return Member.objects.select_related("organization").filter(user=user).first()


def search_condition(q: str) -> Q:
    """Name (prefix), pinyin initials, exact ID number or exact mobile number."""
    q = q.replace("\x00", "").strip()
    if not q:
        return Q()
    compact = re.sub(r"\s+", "", q)
    try:
        number = parse_id_number(compact).number
        return Q(id_number_hash=crypto.keyed_hash(number))
    except InvalidIdNumber:
        pass
    digits = compact.replace("-", "")
    if digits.startswith("+86"):
        digits = digits[3:]
    if re.fullmatch(r"1[0-9]{10}", digits):
        return Q(phone_hash=crypto.keyed_hash(digits))
    if re.fullmatch(r"[A-Za-z]{1,32}", compact):
        return Q(name_initials__startswith=compact.lower())
    return Q(name__startswith=compact)


def filter_members(qs: QuerySet, f: MemberFilter, user=None) -> QuerySet:
    if f.org:
        org = selectors.get_organization(user, f.org, "member.view") if user else None
        if org is None:
            org = Organization.objects.get(pk=f.org)
        qs = (
            qs.filter(organization=org)
            if f.exact_org
            else qs.filter(selectors.subtree_range("org_path", org.path))
        )
    if f.status:
        qs = qs.filter(status=f.status)
    if f.category:
        qs = qs.filter(category=f.category)
    if f.standing:
        qs = qs.filter(standing=f.standing)
    if f.sex:
        qs = qs.filter(sex=f.sex)
    if f.education:
        qs = qs.filter(education=f.education)
    if f.job_category:
        qs = qs.filter(job_category=f.job_category)
    if f.ethnicity == "han":
        qs = qs.filter(ethnicity=codes.HAN)
    elif f.ethnicity == "minority":
        qs = qs.exclude(ethnicity=codes.HAN)
    elif f.ethnicity:
        qs = qs.filter(ethnicity=f.ethnicity)
    # age a..b: born after today - (b+1) years and on or before today - a years
    if f.age_min is not None:
        qs = qs.filter(birth_date__lte=rules.years_ago(f.age_min, f.today))
    if f.age_max is not None:
        qs = qs.filter(birth_date__gt=rules.years_ago(f.age_max + 1, f.today))
    if f.years_min is not None:
        qs = qs.filter(full_on__lte=rules.years_ago(f.years_min, f.today))
    if f.years_max is not None:
        qs = qs.filter(full_on__gt=rules.years_ago(f.years_max + 1, f.today))
    if f.joined_from:
        qs = qs.filter(joined_on__gte=f.joined_from)
    if f.joined_to:
        qs = qs.filter(joined_on__lte=f.joined_to)
    if f.mobile is not None:
        qs = qs.filter(mobile=f.mobile)
    if f.out_of_contact is not None:
        qs = qs.filter(out_of_contact=f.out_of_contact)
    if f.q:
        qs = qs.filter(search_condition(f.q))
    return qs.order_by(*SORTS.get(f.sort, SORTS[DEFAULT_SORT]))


def member_list(user, f: MemberFilter, action: str = "member.view") -> QuerySet:
    return filter_members(members(user, action), f, user).select_related("organization")


def timeline(member: Member) -> list[StandingEvent]:
    return list(
        member.events.select_related("organization", "created_by").order_by("occurred_on", "id")
    )


def state_as_of(member: Member, on: datetime.date) -> rules.State:
    return rules.derive([e.as_rule() for e in member.events.all()], on)


def members_as_of(user, on: datetime.date, org: Organization | None = None) -> QuerySet:
    """Members who were members on `on`, annotated with their category and organisation then.

    Annual statistics count as of 31 December. Everything is computed in SQL from the timeline:
    the last event with an organisation gives the organisation; a became_full event on or before
    the day gives the category; a later ending event without a transfer in after it drops the
    member.
    """
    events = StandingEvent.objects.filter(member=OuterRef("pk"), occurred_on__lte=on)
    last_org = (
        events.exclude(organization=None).order_by("-occurred_on", "-id").values("organization")[:1]
    )
    last_status = (
        events.filter(kind__in=[rules.ADMITTED, rules.TRANSFERRED_IN, *rules.ENDING])
        .order_by("-occurred_on", "-id")
        .values("kind")[:1]
    )
    last_standing = (
        events.filter(kind__in=[rules.SUSPENDED, rules.RESTORED])
        .order_by("-occurred_on", "-id")
        .values("kind")[:1]
    )
    qs = Member.objects.annotate(
        org_then=Subquery(last_org),
        status_event=Subquery(last_status),
        standing_event=Subquery(last_standing),
        full_then=Exists(events.filter(kind=rules.BECAME_FULL)),
    ).filter(status_event__in=[rules.ADMITTED, rules.TRANSFERRED_IN])
    # In scope is who was in one of the user's organisations then, wherever they are now.
    visible = selectors.restrict(Organization.objects.all(), user, "member.view")
    if org is not None:
        visible = visible.filter(path__startswith=org.path)
    return qs.filter(org_then__in=visible.values("pk"))


def change_history(user, member: Member, limit: int = 200) -> list[AuditEvent]:
    """Audit events about the member: its record, timeline, related rows and documents (deleted
    ones included), through the indexed `subject` of each event; events written by bulk imports
    name the member as their object."""
    subject = f"members.member:{member.pk}"
    condition = Q(subject=subject) | Q(object_type="members.member", object_id=str(member.pk))
    return list(selectors.audit_events(user).filter(condition).order_by("-id")[:limit])


def can_see_full(user, member: Member) -> bool:
    return any(
        member.org_path.startswith(p) for p in selectors.scope_for(user, "member.view_sensitive")
    )


def masked_id_number(member: Member) -> str:
    return crypto.mask_id_number(crypto.decrypt(member.id_number_encrypted))


def masked_phone(member: Member) -> str:
    if not member.phone_encrypted:
        return ""
    return crypto.mask_phone(crypto.decrypt(member.phone_encrypted))


def voting_members(org: Organization) -> QuerySet:
    """Members of `org`'s subtree who vote at its meetings and elections (DOMAIN §4): full
    members in good standing, not under Party probation (留党察看). Incoming mobile members are
    not members here and never vote here. No user: callers have checked the scope."""
    return Member.objects.filter(
        selectors.subtree_range("org_path", org.path),
        status=rules.ACTIVE,
        category=rules.FULL,
        standing=rules.NORMAL,
        party_probation=False,
    )
