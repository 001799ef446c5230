"""Every change to committees, terms, office-holders and elections.

Recording is done by the organisation itself (`org.officers` there); approving an election or
moving a re-election date is done by the committee above (`org.officers` at the parent), so
nobody approves their own election.
"""

import datetime

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from dangjian.core import audit, rules, selectors
from dangjian.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from dangjian.core.models import Organization, OrgKind, OrgStatus
from dangjian.core.text import clean_text
from dangjian.members.models import Category, Member, Standing

from .models import (
    SINGLE_POSITIONS,
    Candidate,
    Election,
    ElectionKind,
    ElectionStatus,
    Form,
    OfficeHolder,
    Position,
    Term,
)

TERM_FIELDS = [
    "organization",
    "form",
    "elected_on",
    "term_years",
    "rule_version",
    "ends_on",
    "due_on",
    "shift_reason",
    "shift_reference",
    "ended_on",
]
HOLDER_FIELDS = [
    "organization",
    "member",
    "person_name",
    "position",
    "started_on",
    "ended_on",
    "end_reason",
    "reference",
]
ELECTION_FIELDS = [
    "organization",
    "kind",
    "form",
    "held_on",
    "seats",
    "voters_expected",
    "voters_present",
    "valid",
    "margin_ok",
    "problems",
    "status",
    "decided_on",
    "decision_reference",
    "decision_note",
]


def _user(actor):
    return actor if getattr(actor, "pk", None) else None


def _require(actor, org: Organization, action: str = "org.officers") -> None:
    if selectors.can(actor, action, org):
        return
    if selectors.can(actor, "org.view", org):
        raise Forbidden(_("You may not do this at “%(org)s”.") % {"org": org.name})
    raise NotFound(_("Organisation not found."))


def parent_of(org: Organization) -> Organization | None:
    if org.depth <= 1:
        return None
    return Organization.objects.filter(path=org.parent_path).first()


def _require_above(actor, org: Organization) -> None:
    """Approval belongs to the committee above: `org.officers` at the parent organisation."""
    parent = parent_of(org)
    if parent is None:
        if selectors.scope_for(actor, "org.officers") == [""]:
            return
    elif selectors.can(actor, "org.officers", parent):
        return
    if selectors.can(actor, "org.view", org):
        raise Forbidden(_("Only the committee above may approve this."))
    raise NotFound(_("Organisation not found."))


def _check_org(org: Organization) -> None:
    if org.status != OrgStatus.ACTIVE:
        raise ValidationFailed(_("“%(org)s” is dissolved.") % {"org": org.name}, code="dissolved")
    if org.kind == OrgKind.GROUP:
        raise ValidationFailed(
            _("A Party group has a group leader, not an elected committee."), code="group"
        )


# The founding of the Party: no election, term or office of it comes earlier.
EARLIEST = datetime.date(1921, 7, 1)


def _not_before_founding(day: datetime.date, field: str) -> None:
    if day < EARLIEST:
        raise ValidationFailed(
            _("The date cannot be before the founding of the Party (%(day)s).")
            % {"day": EARLIEST.isoformat()},
            code="before_founding",
            field=field,
        )


def _check_date(day, field: str, *, not_before: datetime.date | None = None) -> datetime.date:
    if isinstance(day, datetime.datetime):  # a date and time compares with neither
        day = timezone.localtime(day).date() if timezone.is_aware(day) else day.date()
    if not isinstance(day, datetime.date):
        raise ValidationFailed(_("Enter a valid date."), code="required", field=field)
    if day > timezone.localdate():
        raise ValidationFailed(
            _("The date cannot be in the future."), code="future_date", field=field
        )
    _not_before_founding(day, field)
    if not_before is not None and day < not_before:
        raise ValidationFailed(
            _("The date cannot be before %(day)s.") % {"day": not_before.isoformat()},
            code="too_early",
            field=field,
        )
    return day


def _text(value, field: str, limit: int) -> str:
    return clean_text(value, field, limit)


def _eligible(member: Member, org: Organization, field: str = "member") -> None:
    """Only full members in good standing of the organisation's subtree hold its offices (of
    the branch, for a Party group: members belong to branches, never to their groups)."""
    home = org.parent_path if org.kind == OrgKind.GROUP else org.path
    if not member.org_path.startswith(home) or member.status != "active":
        raise ValidationFailed(
            _("%(name)s is not a member of “%(org)s”.") % {"name": member.name, "org": org.name},
            code="not_a_member",
            field=field,
        )
    if (
        member.category != Category.FULL
        or member.standing != Standing.NORMAL
        or member.party_probation  # 留党察看: may not be elected
    ):
        raise ValidationFailed(
            _("%(name)s is not a full member in good standing and cannot hold office.")
            % {"name": member.name},
            code="not_eligible",
            field=field,
        )


def current_term(org: Organization) -> Term | None:
    return Term.objects.filter(organization=org, ended_on__isnull=True).first()


def _new_term(actor, org, form, elected_on, election=None) -> Term:
    previous = Term.objects.select_for_update().filter(organization=org, ended_on__isnull=True)
    previous = previous.first()
    if previous is not None:
        # The same day again is the same term entered twice.
        if elected_on <= previous.elected_on:
            raise ValidationFailed(
                _("The current term began on %(day)s; a new one must begin later.")
                % {"day": previous.elected_on.isoformat()},
                code="before_current_term",
                field="elected_on",
            )
        before = audit.snapshot(previous, TERM_FIELDS)
        previous.ended_on = elected_on
        previous.save(update_fields=["ended_on"])
        audit.record(
            actor,
            "term.end",
            previous,
            before={"ended_on": before["ended_on"]},
            after={"ended_on": elected_on.isoformat()},
            org_path=org.path,
        )
    rule = rules.term_rule(elected_on)
    ends_on = rules.term_end(org.kind, org.unit_type, elected_on)
    term = Term.objects.create(
        organization=org,
        form=form,
        elected_on=elected_on,
        term_years=rules.term_years(org.kind, org.unit_type, elected_on),
        rule_version=rule.version,
        ends_on=ends_on,
        due_on=ends_on,
        election=election,
        created_by=_user(actor),
    )
    audit.record(
        actor, "term.create", term, after=audit.snapshot(term, TERM_FIELDS), org_path=org.path
    )
    return term


@transaction.atomic
def record_term(*, actor, org: Organization, form: str, elected_on) -> Term:
    """Enter a term from the paper record (an election held before the platform)."""
    _require(actor, org)
    org = Organization.objects.select_for_update().get(pk=org.pk)
    _check_org(org)
    if form not in Form.values:
        raise ValidationFailed(_("Choose the form."), code="invalid_form", field="form")
    elected_on = _check_date(elected_on, "elected_on")
    return _new_term(actor, org, form, elected_on)


@transaction.atomic
def shift_due_date(*, actor, term: Term, due_on, reason: str, reference: str = "") -> Term:
    """Move a re-election date (approved by the committee above): at most a year either way."""
    org = term.organization
    _require_above(actor, org)
    term = Term.objects.select_for_update().get(pk=term.pk)
    if term.ended_on is not None:
        raise ValidationFailed(_("This term has ended."), code="term_ended")
    if not isinstance(due_on, datetime.date):
        raise ValidationFailed(_("Enter a valid date."), code="required", field="due_on")
    _not_before_founding(due_on, "due_on")
    if not rules.shift_allowed(term.ends_on, due_on):
        raise ValidationFailed(
            _("Re-election can move at most one year from the end of the term (%(day)s).")
            % {"day": term.ends_on.isoformat()},
            code="shift_too_far",
            field="due_on",
        )
    reason = _text(reason, "reason", 255)
    if not reason:
        raise ValidationFailed(_("Give the reason."), code="required", field="reason")
    before = audit.snapshot(term, TERM_FIELDS)
    term.due_on = due_on
    term.shift_reason = reason
    term.shift_reference = _text(reference, "reference", 64)
    term.save(update_fields=["due_on", "shift_reason", "shift_reference"])
    old, new = audit.diff(before, audit.snapshot(term, TERM_FIELDS))
    audit.record(actor, "term.shift", term, before=old, after=new, org_path=org.path)
    return term


def _position_taken(org: Organization, position: str, exclude_pk=None):
    if position not in SINGLE_POSITIONS:
        return None
    qs = OfficeHolder.objects.filter(organization=org, position=position, ended_on__isnull=True)
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    return qs.first()


@transaction.atomic
def appoint(
    *,
    actor,
    org: Organization,
    member: Member,
    position: str,
    started_on,
    reference: str = "",
    term: Term | None = None,
) -> OfficeHolder:
    """Put a member in a position. A single position (secretary...) must be free first."""
    _require(actor, org)
    org = Organization.objects.select_for_update().get(pk=org.pk)
    if org.status != OrgStatus.ACTIVE:
        raise ValidationFailed(_("“%(org)s” is dissolved.") % {"org": org.name}, code="dissolved")
    if position not in Position.values:
        raise ValidationFailed(_("Choose the position."), code="invalid_position", field="position")
    if (position == Position.GROUP_LEADER) != (org.kind == OrgKind.GROUP):
        raise ValidationFailed(
            _("A Party group has a group leader; other organisations have committee positions."),
            code="position_not_here",
            field="position",
        )
    started_on = _check_date(started_on, "started_on")
    member = Member.objects.get(pk=member.pk)  # as it is now, not as the caller last saw it
    _eligible(member, org)
    taken = _position_taken(org, position)
    if taken is not None:
        raise Conflict(
            _("%(name)s already holds this position: end that first.")
            % {"name": taken.person_name},
            code="position_taken",
            field="position",
        )
    if OfficeHolder.objects.filter(
        organization=org, member=member, position=position, ended_on__isnull=True
    ).exists():
        raise Conflict(
            _("%(name)s already holds this position.") % {"name": member.name},
            code="already_holds",
            field="member",
        )
    term = term if term is not None else current_term(org)
    try:
        with transaction.atomic():
            holder = OfficeHolder.objects.create(
                organization=org,
                term=term,
                member=member,
                person_name=member.name,
                position=position,
                started_on=started_on,
                reference=_text(reference, "reference", 64),
            )
    except IntegrityError:
        raise Conflict(
            _("Someone else filled this position just now."),
            code="position_taken",
            field="position",
        ) from None
    audit.record(
        actor,
        "office.appoint",
        holder,
        after=audit.snapshot(holder, HOLDER_FIELDS),
        org_path=org.path,
    )
    return holder


@transaction.atomic
def end_office(*, actor, holder: OfficeHolder, ended_on, reason: str = "") -> OfficeHolder:
    org = holder.organization
    _require(actor, org)
    holder = OfficeHolder.objects.select_for_update().get(pk=holder.pk)
    if holder.ended_on is not None:
        raise ValidationFailed(_("This person has already left the position."), code="ended")
    _check_date(ended_on, "ended_on", not_before=holder.started_on)
    before = audit.snapshot(holder, HOLDER_FIELDS)
    holder.ended_on = ended_on
    holder.end_reason = _text(reason, "reason", 128)
    holder.save(update_fields=["ended_on", "end_reason"])
    old, new = audit.diff(before, audit.snapshot(holder, HOLDER_FIELDS))
    audit.record(actor, "office.end", holder, before=old, after=new, org_path=org.path)
    return holder


def _end_holders(actor, org: Organization, on: datetime.date, reason: str, *, keep_groups=True):
    """End every current office of `org` (used by elections and restructuring)."""
    holders = OfficeHolder.objects.select_for_update().filter(
        organization=org, ended_on__isnull=True
    )
    if keep_groups:
        holders = holders.exclude(position=Position.GROUP_LEADER)
    items = []
    late = []  # took office after `on` (appointed after the election day, say): end that day
    for holder in holders:
        ended_on = max(on, holder.started_on)
        if ended_on != on:
            late.append(holder.pk)
        items.append(
            (
                holder,
                {"ended_on": None},
                {"ended_on": ended_on.isoformat(), "end_reason": reason},
                org.path,
            )
        )
    holders.update(ended_on=on, end_reason=reason[:128])
    if late:
        OfficeHolder.objects.filter(pk__in=late).update(ended_on=F("started_on"))
    audit.record_many(actor, "office.end", items)
    return len(items)


# Elections ---------------------------------------------------------------------------------


# Bounds of the numbers of an election: no committee has a hundred seats, no meeting a million
# voters; beyond them the columns would overflow.
MAX_SEATS = 99
MAX_VOTERS = 1_000_000
MAX_CANDIDATES = 200


def _int(value, field: str, most: int) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValidationFailed(_("Enter a whole number."), code="not_a_number", field=field)
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise ValidationFailed(
            _("Enter a whole number."), code="not_a_number", field=field
        ) from None
    if number < 0:
        raise ValidationFailed(_("Enter a number of 0 or more."), code="negative", field=field)
    if number > most:
        raise ValidationFailed(
            _("Enter a number of at most %(n)d.") % {"n": most}, code="too_large", field=field
        )
    return number


def election_problem_message(code: str) -> str:
    return {
        "quorum": _("Not more than four fifths of the voters expected were present."),
        "margin": _("Candidates must exceed the seats by at least 20%."),
        "tie": _("Candidates are tied for the last seat: a further round is needed."),
        "unfilled": _("Fewer candidates than seats won more than half of the votes."),
    }.get(code, code)


@transaction.atomic
def record_election(*, actor, org: Organization, data: dict) -> Election:
    """Record an election meeting and work out who is elected (DOMAIN §4).

    data: kind, form, held_on, seats, voters_expected, voters_present and candidates, a list of
    {"member": Member, "votes": int, "position": str}. Numbers that do not add up are refused
    with the field named; a valid but failed election (no quorum, too few candidates) is stored
    with its problems and cannot be approved."""
    _require(actor, org)
    org = Organization.objects.select_for_update().get(pk=org.pk)
    _check_org(org)
    kind = data.get("kind") or ElectionKind.GENERAL
    if kind not in ElectionKind.values:
        raise ValidationFailed(_("Choose the kind of election."), code="invalid_kind", field="kind")
    form = data.get("form") or Form.COMMITTEE
    if form not in Form.values:
        raise ValidationFailed(_("Choose the form."), code="invalid_form", field="form")
    held_on = _check_date(data.get("held_on"), "held_on")
    seats = _int(data.get("seats"), "seats", MAX_SEATS)
    expected = _int(data.get("voters_expected"), "voters_expected", MAX_VOTERS)
    present = _int(data.get("voters_present"), "voters_present", MAX_VOTERS)
    if seats < 1:
        raise ValidationFailed(
            _("An election fills at least one seat."), code="no_seats", field="seats"
        )
    if form == Form.SECRETARY and seats != 1:
        raise ValidationFailed(
            _("A secretary-only election fills one seat."), code="one_seat", field="seats"
        )
    if present > expected:
        raise ValidationFailed(
            _("More voters present than expected."), code="too_many_present", field="voters_present"
        )
    if kind == ElectionKind.BY_ELECTION and current_term(org) is None:
        raise ValidationFailed(
            _("A by-election needs a current term: record the term first."),
            code="no_current_term",
            field="kind",
        )
    candidates = data.get("candidates") or []
    if not candidates:
        raise ValidationFailed(_("Add the candidates."), code="no_candidates", field="candidates")
    votes: dict[int, int] = {}
    # The records as they are now, not as the caller last saw them.
    current = Member.objects.in_bulk(
        [row.get("member").pk for row in candidates if isinstance(row.get("member"), Member)]
    )
    for i, row in enumerate(candidates):
        member = row.get("member")
        field = f"candidates.{i}"
        if not isinstance(member, Member) or member.pk not in current:
            raise ValidationFailed(_("Choose the member."), code="required", field=field)
        member = current[member.pk]
        if member.pk in votes:
            raise ValidationFailed(
                _("%(name)s is listed twice.") % {"name": member.name},
                code="duplicate",
                field=field,
            )
        _eligible(member, org, field)
        n = _int(row.get("votes"), field, MAX_VOTERS)
        if n > present:
            raise ValidationFailed(
                _("%(name)s has more votes than voters present.") % {"name": member.name},
                code="too_many_votes",
                field=field,
            )
        position = row.get("position") or Position.MEMBER
        if position not in Position.values or position == Position.GROUP_LEADER:
            raise ValidationFailed(_("Choose the position."), code="invalid_position", field=field)
        votes[member.pk] = n
    if sum(votes.values()) > present * seats:
        raise ValidationFailed(
            _("More votes in total than %(present)d voters with %(seats)d votes each can cast.")
            % {"present": present, "seats": seats},
            code="votes_exceed_ballots",
            field="candidates",
        )
    try:
        outcome = rules.election_outcome(
            seats, votes, expected, present, contested=(form == Form.COMMITTEE)
        )
    except ValueError as exc:  # every case is caught above; keep the promise of no 500
        raise ValidationFailed(str(exc), code="numbers", field="candidates") from None
    elected = set(outcome.elected)
    positions = [
        (row.get("position") or Position.MEMBER)
        for row in candidates
        if row["member"].pk in elected
    ]
    for single in SINGLE_POSITIONS:
        if positions.count(single) > 1:
            raise ValidationFailed(
                _("Two elected candidates cannot both be %(position)s.")
                % {"position": Position(single).label},
                code="position_twice",
                field="candidates",
            )
    if form == Form.SECRETARY:
        positions = [Position.SECRETARY]
    election = Election.objects.create(
        organization=org,
        kind=kind,
        form=form,
        held_on=held_on,
        seats=seats,
        voters_expected=expected,
        voters_present=present,
        valid=outcome.valid,
        margin_ok=outcome.margin_ok,
        problems=list(outcome.problems),
        rule_version=rules.term_rule(held_on).version,
        created_by=_user(actor),
    )
    rows = []
    for row in candidates:
        member = current[row["member"].pk]
        position = row.get("position") or Position.MEMBER
        if form == Form.SECRETARY:
            position = Position.SECRETARY
        rows.append(
            Candidate(
                election=election,
                member=member,
                person_name=member.name,
                votes=votes[member.pk],
                elected=member.pk in elected,
                position=position,
            )
        )
    Candidate.objects.bulk_create(rows)
    after = audit.snapshot(election, ELECTION_FIELDS)
    after["candidates"] = [
        {"member": c.member_id, "name": c.person_name, "votes": c.votes, "elected": c.elected}
        for c in rows
    ]
    audit.record(actor, "election.record", election, after=after, org_path=org.path)
    return election


@transaction.atomic
def decide_election(
    *,
    actor,
    election: Election,
    approve: bool,
    decided_on=None,
    reference: str = "",
    note: str = "",
) -> Election:
    """The committee above approves (or not). Approval of a re-election starts the new term:
    the old term and its offices end on the day of the election, the elected take office."""
    org = election.organization
    _require_above(actor, org)
    election = Election.objects.select_for_update().get(pk=election.pk)
    if election.status != ElectionStatus.RECORDED:
        raise Conflict(_("This election has already been decided."), code="already_decided")
    decided_on = _check_date(
        decided_on or timezone.localdate(), "decided_on", not_before=election.held_on
    )
    if approve:
        problems = [p for p in election.problems if p != "unfilled"]
        if problems:
            raise ValidationFailed(
                " ".join(election_problem_message(p) for p in problems),
                code="cannot_approve",
            )
        if not election.candidates.filter(elected=True).exists():
            raise ValidationFailed(_("Nobody was elected."), code="cannot_approve")
    before = audit.snapshot(election, ELECTION_FIELDS)
    election.status = ElectionStatus.APPROVED if approve else ElectionStatus.REJECTED
    election.decided_on = decided_on
    election.decision_reference = _text(reference, "reference", 64)
    election.decision_note = _text(note, "note", 255)
    election.decided_by = _user(actor)
    election.save()
    old, new = audit.diff(before, audit.snapshot(election, ELECTION_FIELDS))
    audit.record(
        actor,
        "election.approve" if approve else "election.reject",
        election,
        before=old,
        after=new,
        org_path=org.path,
    )
    if approve:
        _take_office(actor, election)
    return election


def _take_office(actor, election: Election) -> None:
    org = Organization.objects.select_for_update().get(pk=election.organization_id)
    if org.status != OrgStatus.ACTIVE:
        raise ValidationFailed(_("“%(org)s” is dissolved.") % {"org": org.name}, code="dissolved")
    elected = list(election.candidates.filter(elected=True))
    if election.kind == ElectionKind.GENERAL:
        _end_holders(actor, org, election.held_on, _("term ended"))
        term = _new_term(actor, org, election.form, election.held_on, election=election)
    else:
        term = current_term(org)
        for candidate in elected:
            taken = _position_taken(org, candidate.position)
            if taken is not None:
                raise Conflict(
                    _("%(name)s still holds the position of %(position)s: end that first.")
                    % {"name": taken.person_name, "position": candidate.get_position_display()},
                    code="position_taken",
                )
            if OfficeHolder.objects.filter(
                organization=org,
                member_id=candidate.member_id,
                position=candidate.position,
                ended_on__isnull=True,
            ).exists():
                raise Conflict(
                    _("%(name)s already holds the position of %(position)s.")
                    % {"name": candidate.person_name, "position": candidate.get_position_display()},
                    code="already_holds",
                )
    members = Member.objects.in_bulk([c.member_id for c in elected])
    holders = []
    for candidate in elected:
        member = members[candidate.member_id]
        _eligible(member, org)
        holders.append(
            OfficeHolder(
                organization=org,
                term=term,
                member=member,
                person_name=member.name,
                position=candidate.position,
                started_on=election.held_on,
                reference=election.decision_reference,
            )
        )
    OfficeHolder.objects.bulk_create(holders)
    audit.record_many(
        actor,
        "office.appoint",
        [(h, None, audit.snapshot(h, HOLDER_FIELDS), org.path) for h in holders],
    )
