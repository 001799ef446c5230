"""Restructuring: merge two organisations, split one, dissolve one.

Each change moves members (with a `transferred` event on their timelines), sub-organisations and
office-holders in one transaction, audited, and each has a preview that says what would move
without writing anything. Members with a transfer under way block the change until it is decided:
otherwise they could end up in two places.
"""

import datetime
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dangjian.core import audit, selectors
from dangjian.core import services as core_services
from dangjian.core.errors import Forbidden, NotFound, ValidationFailed
from dangjian.core.models import BRANCH_KINDS, Organization, OrgStatus
from dangjian.members.models import EventKind, Member, StandingEvent
from dangjian.members.services import subject_of
from dangjian.members.signals import timelines_changed

from .models import OfficeHolder, Term
from .services import TERM_FIELDS, _end_holders, _not_before_founding, _user

PREVIEW_NAMES = 50


@dataclass
class Preview:
    members: int = 0
    member_names: list = field(default_factory=list)
    guests: int = 0  # mobile members of elsewhere hosted here, who move with the members
    children: list = field(default_factory=list)  # organisations that move
    holders: list = field(default_factory=list)  # offices that end
    blocking: list = field(default_factory=list)  # transfers to decide first
    problems: list = field(default_factory=list)  # messages that stop the change

    @property
    def ok(self) -> bool:
        return not self.problems


def _require(actor, org: Organization) -> None:
    if selectors.can(actor, "org.dissolve", org):
        return
    if selectors.can(actor, "org.view", org):
        raise Forbidden(_("You may not restructure “%(org)s”.") % {"org": org.name})
    raise NotFound(_("Organisation not found."))


MAX_ID = 2**63 - 1


def _possible_ids(ids) -> list[int]:
    """The ids that can name a row: a larger number in a list of ids overflows on SQLite."""
    return [i for i in ids if isinstance(i, int) and not isinstance(i, bool) and 0 < i <= MAX_ID]


def _members_of(org: Organization, ids: list[int] | None = None):
    qs = Member.objects.filter(organization=org, status="active")
    if ids is not None:
        qs = qs.filter(pk__in=_possible_ids(ids))
    return qs.order_by("name", "id")


def _blocking(org: Organization, member_ids=None) -> list:
    from dangjian.transfers.models import State, Transfer

    qs = Transfer.objects.filter(state=State.PENDING).filter(
        selectors.subtree_range("from_org__path", org.path)
        | selectors.subtree_range("to_org__path", org.path)
    )
    if member_ids is not None:
        qs = qs.filter(member_id__in=_possible_ids(member_ids))
    return list(qs.order_by("id")[:PREVIEW_NAMES])


def _fill(preview: Preview, members_qs, org: Organization) -> None:
    preview.members = members_qs.count()
    preview.member_names = list(members_qs.values_list("name", flat=True)[:PREVIEW_NAMES])
    preview.holders = list(
        OfficeHolder.objects.filter(organization=org, ended_on__isnull=True).order_by("position")
    )


def _children(org: Organization) -> list[Organization]:
    return list(
        Organization.objects.filter(
            path__startswith=org.path, depth=org.depth + 1, status=OrgStatus.ACTIVE
        ).order_by("path")
    )


def preview_merge(*, actor, source: Organization, target: Organization) -> Preview:
    _require(actor, source)
    _require(actor, target)
    preview = Preview()
    _fill(preview, _members_of(source), source)
    preview.children = _children(source)
    preview.blocking = _blocking(source)
    if source.pk == target.pk or target.path.startswith(source.path):
        preview.problems.append(_("An organisation cannot be merged into itself or its own part."))
    if not source.is_active or not target.is_active:
        preview.problems.append(_("Both organisations must be active."))
    preview.guests = _guests(source)
    if (preview.members or preview.guests) and target.kind not in BRANCH_KINDS:
        preview.problems.append(
            _("Members can only move to a branch or joint branch: merge into a branch.")
        )
    for child in preview.children:
        try:
            core_services._check_placement(child.kind, target)
        except ValidationFailed as exc:
            preview.problems.append(f"{child.name}: {exc.message}")
    if preview.blocking:
        preview.problems.append(
            _("%(n)d transfers under way must be decided first.") % {"n": len(preview.blocking)}
        )
    return preview


def _move_members(actor, members, target: Organization, on: datetime.date, detail: str) -> int:
    moved = list(members.select_for_update())
    if not moved:
        return 0
    later = set(
        StandingEvent.objects.filter(
            member_id__in=[m.pk for m in moved], occurred_on__gt=on
        ).values_list("member_id", flat=True)
    )
    for member in moved:
        if member.pk in later or member.joined_on > on:
            raise ValidationFailed(
                _("%(name)s has timeline events after %(day)s: choose a later date.")
                % {"name": member.name, "day": on.isoformat()},
                code="later_events",
                field="on",
            )
    ids = [m.pk for m in moved]
    Member.objects.filter(pk__in=ids).update(organization=target, org_path=target.path)
    creator = _user(actor)
    StandingEvent.objects.bulk_create(
        [
            StandingEvent(
                member_id=pk,
                kind=EventKind.TRANSFERRED,
                occurred_on=on,
                organization=target,
                detail=detail[:255],
                created_by=creator,
            )
            for pk in ids
        ],
        batch_size=1000,
    )
    timelines_changed.send(sender=StandingEvent, member_ids=ids, since=on)
    audit.record_many(
        actor,
        "member.move",
        [
            (
                m,
                {"organization": m.organization_id},
                {"organization": target.pk},
                target.path,
                subject_of(m),
            )
            for m in moved
        ],
    )
    # Offices held elsewhere than where they now are end with the move.
    holders = OfficeHolder.objects.filter(member_id__in=ids, ended_on__isnull=True).select_related(
        "organization"
    )
    ended = [h for h in holders if not target.path.startswith(h.organization.path)]
    for holder in ended:
        holder.ended_on = max(on, holder.started_on)
        holder.end_reason = detail[:128]
        holder.save(update_fields=["ended_on", "end_reason"])
    audit.record_many(
        actor,
        "office.end",
        [
            (h, {"ended_on": None}, {"ended_on": h.ended_on.isoformat()}, h.organization.path)
            for h in ended
        ],
    )
    # Members away as mobile members now belong, while away, to the new organisation (or are
    # back, when it is where they stay).
    from dangjian.transfers.services import rehome_stays

    rehome_stays(actor, ids, target, on)
    return len(ids)


def _move_guests(actor, org: Organization, target: Organization, on: datetime.date) -> int:
    """Mobile members of elsewhere taking part in `org`'s life go on at `target` (those whose
    home is `target` are back home)."""
    from dangjian.transfers.services import rehost_guests

    return rehost_guests(actor, org, target, on)


def _guests(org: Organization) -> int:
    from dangjian.transfers.models import MobileState, MobileStay

    return MobileStay.objects.filter(host_org=org, state=MobileState.ACTIVE).count()


def _end_term(actor, org: Organization, on: datetime.date) -> None:
    """The current term of an organisation that ceases ends with it."""
    term = Term.objects.select_for_update().filter(organization=org, ended_on__isnull=True).first()
    if term is None:
        return
    before = audit.snapshot(term, TERM_FIELDS)
    term.ended_on = max(on, term.elected_on)
    term.save(update_fields=["ended_on"])
    old, new = audit.diff(before, audit.snapshot(term, TERM_FIELDS))
    audit.record(actor, "term.end", term, before=old, after=new, org_path=org.path)


def _date(on) -> datetime.date:
    on = on or timezone.localdate()
    if not isinstance(on, datetime.date):
        raise ValidationFailed(_("Enter a valid date."), code="required", field="on")
    if on > timezone.localdate():
        raise ValidationFailed(
            _("The date cannot be in the future."), code="future_date", field="on"
        )
    _not_before_founding(on, "on")
    return on


@transaction.atomic
def merge(*, actor, source: Organization, target: Organization, on=None) -> Organization:
    """Merge `source` into `target`: its members and sub-organisations move to `target`, its
    offices end, and it is dissolved."""
    on = _date(on)
    # Both rows in one statement, top of the tree first, then by id: the order the transfer
    # services lock organisations in, so a merge and a transfer at once queue, never deadlock.
    locked = {
        org.pk: org
        for org in Organization.objects.select_for_update()
        .filter(pk__in=[source.pk, target.pk])
        .order_by("depth", "pk")
    }
    source, target = locked[source.pk], locked[target.pk]
    preview = preview_merge(actor=actor, source=source, target=target)
    if not preview.ok:
        raise ValidationFailed(" ".join(str(p) for p in preview.problems), code="cannot_merge")
    detail = _("merged into %(org)s") % {"org": target.name}
    for child in preview.children:
        core_services.move_organization(actor=actor, org=child, new_parent=target)
    _move_members(actor, _members_of(source), target, on, detail)
    _move_guests(actor, source, target, on)
    _end_holders(actor, source, on, detail, keep_groups=False)
    _end_term(actor, source, on)
    source.refresh_from_db()
    core_services.dissolve_organization(actor=actor, org=source, on=on)
    audit.record(
        actor,
        "org.merge",
        source,
        after={"into": target.pk, "members": preview.members, "children": len(preview.children)},
        org_path=source.path,
    )
    return target


def preview_split(*, actor, source: Organization, member_ids: list[int]) -> Preview:
    _require(actor, source)
    preview = Preview()
    member_ids = list(member_ids or [])
    members = _members_of(source, member_ids)
    _fill(preview, members, source)
    preview.holders = [h for h in preview.holders if h.member_id in set(member_ids)]
    preview.blocking = _blocking(source, member_ids)
    if not member_ids:
        preview.problems.append(_("Choose the members who move to the new organisation."))
    elif preview.members != len(set(member_ids)):
        preview.problems.append(
            _("Some chosen people are not active members of “%(org)s”.") % {"org": source.name}
        )
    if source.kind not in BRANCH_KINDS:
        preview.problems.append(_("Only a branch or joint branch is split by moving members."))
    if preview.blocking:
        preview.problems.append(
            _("%(n)d transfers under way must be decided first.") % {"n": len(preview.blocking)}
        )
    return preview


@transaction.atomic
def split(
    *, actor, source: Organization, values: dict, member_ids: list[int], on=None
) -> Organization:
    """Split a branch: a new organisation beside it (same parent) takes the chosen members."""
    on = _date(on)
    source = Organization.objects.select_for_update().get(pk=source.pk)
    preview = preview_split(actor=actor, source=source, member_ids=member_ids)
    if not preview.ok:
        raise ValidationFailed(" ".join(str(p) for p in preview.problems), code="cannot_split")
    parent = (
        Organization.objects.filter(path=source.parent_path).first() if source.depth > 1 else None
    )
    values = {"kind": source.kind, "unit_type": source.unit_type, **values}
    new_org = core_services.create_organization(actor=actor, parent=parent, **values)
    if new_org.kind not in BRANCH_KINDS:
        raise ValidationFailed(
            _("The new organisation must be a branch or joint branch to take members."),
            code="not_a_branch",
            field="kind",
        )
    detail = _("split from %(org)s") % {"org": source.name}
    _move_members(actor, _members_of(source, member_ids), new_org, on, detail)
    audit.record(
        actor,
        "org.split",
        source,
        after={"new": new_org.pk, "members": preview.members},
        org_path=source.path,
    )
    return new_org


def preview_dissolve(
    *, actor, org: Organization, move_members_to: Organization | None = None
) -> Preview:
    _require(actor, org)
    preview = Preview()
    _fill(preview, _members_of(org), org)
    preview.children = _children(org)
    preview.blocking = _blocking(org)
    if preview.children:
        preview.problems.append(
            _("It still has %(n)d active sub-organisations: merge, move or dissolve them first.")
            % {"n": len(preview.children)}
        )
    if preview.members and move_members_to is None:
        preview.problems.append(_("Choose where its members move to."))
    preview.guests = _guests(org)
    if preview.guests and move_members_to is None:
        preview.problems.append(
            _("%(n)d mobile members of elsewhere take part here: choose where they go on.")
            % {"n": preview.guests}
        )
    if move_members_to is not None and move_members_to.kind not in BRANCH_KINDS:
        preview.problems.append(_("Members can only move to a branch or joint branch."))
    if preview.blocking:
        preview.problems.append(
            _("%(n)d transfers under way must be decided first.") % {"n": len(preview.blocking)}
        )
    return preview


@transaction.atomic
def dissolve(
    *, actor, org: Organization, on=None, move_members_to: Organization | None = None
) -> Organization:
    on = _date(on)
    org = Organization.objects.select_for_update().get(pk=org.pk)
    preview = preview_dissolve(actor=actor, org=org, move_members_to=move_members_to)
    if not preview.ok:
        raise ValidationFailed(" ".join(str(p) for p in preview.problems), code="cannot_dissolve")
    if move_members_to is not None:
        _require(actor, move_members_to)
        detail = _("organisation dissolved")
        target = Organization.objects.select_for_update().get(pk=move_members_to.pk)
        if not target.is_active or target.path.startswith(org.path):
            raise ValidationFailed(
                _("Members can only move to another active organisation."),
                code="bad_target",
                field="move_members_to",
            )
        _move_members(actor, _members_of(org), target, on, detail)
        _move_guests(actor, org, target, on)
    _end_holders(actor, org, on, _("organisation dissolved"), keep_groups=False)
    _end_term(actor, org, on)
    return core_services.dissolve_organization(actor=actor, org=org, on=on)
