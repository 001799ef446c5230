"""Every change to transfers, introduction letters, mobile members and contact decisions.

The sending side starts (transfer.manage where the member is); the receiving side accepts or
returns (transfer.manage at the receiving organisation). The member's timeline and organisation
change in the same transaction as the transfer's state, under a row lock on the transfer, so two
people accepting at once cannot both succeed.

Row locks are taken in one order: organisations first (from the top of the tree down, then by
id), then the member, then the member's mobile stay. Restructuring locks organisations before
their members too, so a merge and a transfer meeting on one branch queue instead of deadlocking;
a deadlock PostgreSQL still finds (another order elsewhere) answers 409 "try again", never 500.
"""

import datetime
import functools
import re
import unicodedata

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from dangjian.committees.models import OfficeHolder
from dangjian.core import audit, crypto, ratelimit, rules, selectors
from dangjian.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from dangjian.core.idnumber import InvalidIdNumber, parse_id_number
from dangjian.core.models import BRANCH_KINDS, Organization, OrgKind, OrgStatus
from dangjian.core.ratelimit import RateLimited
from dangjian.core.text import clean_text
from dangjian.members import rules as member_rules
from dangjian.members import services as member_services
from dangjian.members.models import EventKind, Member

from . import notices
from .models import Direction, MobileState, MobileStay, State, Transfer, new_batch

TRANSFER_FIELDS = [
    "direction",
    "state",
    "member",
    "person_name",
    "from_org",
    "to_org",
    "counterpart",
    "reason",
    "started_on",
    "decided_on",
    "decision_note",
    "letter_number",
    "addressee",
    "valid_until",
    "receipt_on",
]
MOBILE_FIELDS = [
    "member",
    "person_name",
    "home_org",
    "home_text",
    "host_org",
    "destination",
    "card_number",
    "since",
    "expected_return",
    "returned_on",
    "state",
    "note",
]


def _user(actor):
    return actor if getattr(actor, "pk", None) else None


def _require(
    actor, org: Organization | None, action: str = "transfer.manage", *, seen_from=()
) -> None:
    """NotFound unless the actor sees the thing (from `org` or from the other side,
    `seen_from`); Forbidden when seen but the action belongs to someone else."""
    if org is not None and selectors.can(actor, action, org):
        return
    if org is not None and selectors.can(actor, "transfer.view", org):
        raise Forbidden(_("You may not do this at “%(org)s”.") % {"org": org.name})
    if any(o is not None and selectors.can(actor, "transfer.view", o) for o in seen_from):
        raise Forbidden(_("This is for the other side of the transfer to do."))
    raise NotFound(_("Not found."))


# C0 control characters (and what XML cannot hold: lone surrogates, U+FFFE, U+FFFF) break the
# printed letter and mean nothing in a name; tab and line breaks only where lines are allowed.


def _label(field: str) -> str:
    """The name of a field as the forms show it."""
    if field == "reference":
        return str(_("document number"))
    for model in (Transfer, MobileStay):
        try:
            return str(model._meta.get_field(field).verbose_name)
        except FieldDoesNotExist:
            continue
    return field


def _text(value, field: str, limit: int, *, required: bool = False, lines: bool = False) -> str:
    return clean_text(value, field, limit, required=required, lines=lines, label=_label(field))


def _date(day, field: str, *, not_before: datetime.date | None = None) -> datetime.date:
    if day is None:
        day = timezone.localdate()
    if isinstance(day, datetime.datetime):  # a date and time compares with neither
        day = timezone.localtime(day).date() if timezone.is_aware(day) else day.date()
    if not isinstance(day, datetime.date):
        raise ValidationFailed(_("Enter a valid date."), code="required", field=field)
    if day > timezone.localdate():
        raise ValidationFailed(
            _("The date cannot be in the future."), code="future_date", field=field
        )
    if not_before is not None and day < not_before:
        raise ValidationFailed(
            _("The date cannot be before %(day)s.") % {"day": not_before.isoformat()},
            code="too_early",
            field=field,
        )
    return day


def _target(org: Organization | None, field: str = "to_org") -> Organization:
    """An organisation members can be received by: active, a branch or joint branch."""
    if org is None:
        raise ValidationFailed(
            _("Choose the receiving organisation."), code="no_such_organization", field=field
        )
    org = Organization.objects.select_for_update().filter(pk=org.pk).first()
    if org is None:
        raise ValidationFailed(
            _("That organisation does not exist."), code="no_such_organization", field=field
        )
    if org.status != OrgStatus.ACTIVE:
        raise ValidationFailed(
            _("“%(org)s” is dissolved.") % {"org": org.name},
            code="organization_dissolved",
            field=field,
        )
    if org.kind not in BRANCH_KINDS:
        raise ValidationFailed(
            _("Members are received by a branch or joint branch, not by a %(kind)s.")
            % {"kind": OrgKind(org.kind).label},
            code="not_a_branch",
            field=field,
        )
    return org


def _lock_member(member: Member) -> Member:
    member = (
        Member.objects.select_for_update(of=("self",))
        .select_related("organization")
        .get(pk=member.pk)
    )
    if member.status != "active":
        raise ValidationFailed(
            _("%(name)s is not an active member.") % {"name": member.name}, code="not_active"
        )
    return member


def _lock_orgs(*orgs: Organization | None) -> None:
    """Lock these organisations' rows in the house order (top of the tree first, then by id)."""
    pks = {o.pk for o in orgs if o is not None}
    if pks:
        list(Organization.objects.select_for_update().filter(pk__in=pks).order_by("depth", "pk"))


def _lock_member_in(member: Member, *others: Organization | None, issuer: bool = False) -> Member:
    """The member under a row lock, taken after the locks of the organisation they are in and of
    `others` (and of the committee issuing its letters), as restructuring takes them: a merge
    moving the member and a transfer starting meet at the organisation and queue. A member who
    moved between the read and the lock answers 409: try again."""
    current = Member.objects.select_related("organization").get(pk=member.pk)
    org = current.organization
    _lock_orgs(org, *others, issuing_committee(org) if issuer else None)
    member = _lock_member(member)
    if member.organization_id != org.pk:
        raise Conflict(
            _("%(name)s moved to another organisation just now: try again.")
            % {"name": member.name},
            code="member_moved",
            field="member",
        )
    return member


def _deadlock_is_conflict(service):
    """A deadlock PostgreSQL broke by rolling this transaction back answers 409 (try again)."""

    @functools.wraps(service)
    def run(*args, **kwargs):
        try:
            return service(*args, **kwargs)
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) != "40P01":
                raise
            raise Conflict(
                _("Someone changed these records at the same moment: try again."), code="busy"
            ) from None

    return run


def _no_open_transfer(member: Member) -> None:
    if Transfer.objects.filter(member=member, state=State.PENDING).exists():
        raise Conflict(
            _("%(name)s already has a transfer under way.") % {"name": member.name},
            code="transfer_open",
            field="member",
        )


def _record(actor, action, transfer: Transfer, org: Organization | None, before=None) -> None:
    after = audit.snapshot(transfer, TRANSFER_FIELDS)
    old, new = audit.diff(before, after) if before else (None, after)
    subject = member_services.subject_of(transfer.member) if transfer.member_id else None
    audit.record(
        actor,
        action,
        transfer,
        before=old,
        after=new,
        org_path=org.path if org is not None else "",
        subject=subject,
    )


def _create(**values) -> Transfer:
    try:
        with transaction.atomic():
            return Transfer.objects.create(**values)
    except IntegrityError:
        member = values.get("member")
        if values.get("letter_seq") and not (
            member and Transfer.objects.filter(member=member, state=State.PENDING).exists()
        ):
            raise Conflict(
                _("Another letter took this number just now: try again."),
                code="letter_number_taken",
            ) from None
        raise Conflict(
            _("This member already has a transfer under way."), code="transfer_open"
        ) from None


def _end_offices(
    actor, member: Member, new_path: str | None, on: datetime.date, reason: str = ""
) -> None:
    """A member who leaves an organisation leaves its offices (those of organisations that do
    not contain the new place; all of them when `new_path` is None)."""
    holders = OfficeHolder.objects.select_for_update(of=("self",)).filter(
        member=member, ended_on__isnull=True
    )
    items = []
    for holder in holders.select_related("organization"):
        if new_path and new_path.startswith(holder.organization.path):
            continue
        before = {"ended_on": None}
        holder.ended_on = max(on, holder.started_on)
        holder.end_reason = (reason or _("transferred"))[:128]
        holder.save(update_fields=["ended_on", "end_reason"])
        after = {"ended_on": holder.ended_on.isoformat(), "end_reason": holder.end_reason}
        items.append((holder, before, after, holder.organization.path))
    audit.record_many(actor, "office.end", items)


def _carry_stays(actor, transfer: Transfer, on: datetime.date) -> None:
    """A member away as a mobile member stays away after a transfer: within the platform the
    receiving organisation becomes their home (unless it is the host: then the member is no
    longer away, and the stay ends with a return on the timeline); out of the platform the stay
    ends with the transfer (the member is no longer ours to list)."""
    stays = MobileStay.objects.select_for_update().filter(
        member_id=transfer.member_id, state=MobileState.ACTIVE
    )
    for stay in stays:
        before = audit.snapshot(stay, MOBILE_FIELDS)
        if transfer.direction == Direction.INTERNAL and stay.host_org_id == transfer.to_org_id:
            back_on = max(on, stay.since)
            member_services.append_event(
                actor=actor,
                member=transfer.member,
                kind=EventKind.MOBILE_BACK,
                on=back_on,
                detail=_("transferred to the host organisation"),
                error_field="decided_on",
            )
            stay.state = MobileState.RETURNED
            stay.returned_on = back_on
            stay.save(update_fields=["state", "returned_on"])
            action, side = "mobile.return", transfer.to_org
        elif transfer.direction == Direction.INTERNAL:
            stay.home_org = transfer.to_org
            stay.save(update_fields=["home_org"])
            action, side = "mobile.move", transfer.to_org
        else:
            stay.state = MobileState.CONVERTED
            stay.returned_on = max(on, stay.since)
            stay.transfer = transfer
            stay.save(update_fields=["state", "returned_on", "transfer"])
            action, side = "mobile.convert", transfer.from_org
        old, new = audit.diff(before, audit.snapshot(stay, MOBILE_FIELDS))
        audit.record(
            actor,
            action,
            stay,
            before=old,
            after=new,
            org_path=side.path,
            subject=member_services.subject_of(transfer.member),
        )


# Within the platform -----------------------------------------------------------------------


@_deadlock_is_conflict
@transaction.atomic
def start_transfer(
    *, actor, member: Member, to_org: Organization | None, on=None, reason: str = "", batch=None
) -> Transfer:
    """The sending branch asks the receiving organisation to take the member."""
    _require(actor, member.organization)
    reason = _text(reason, "reason", 255)
    member = _lock_member_in(member, to_org)
    to_org = _target(to_org)
    on = _date(on, "started_on")
    if to_org.pk == member.organization_id:
        raise ValidationFailed(
            _("The member is already in that organisation."),
            code="same_organization",
            field="to_org",
        )
    _no_open_transfer(member)
    transfer = _create(
        direction=Direction.INTERNAL,
        member=member,
        person_name=member.name,
        sex=member.sex,
        category=member.category,
        from_org=member.organization,
        to_org=to_org,
        reason=reason,
        started_on=on,
        started_by=_user(actor),
        batch=batch,
    )
    _record(actor, "transfer.start", transfer, member.organization)
    notices.transfer_started(transfer, actor)
    return transfer


@_deadlock_is_conflict
@transaction.atomic
def start_group_transfer(
    *, actor, members: list[Member], to_org: Organization | None, on=None, reason: str = ""
) -> list[Transfer]:
    """Transfer several members at once (all or none), as one batch the receiver can accept
    in one step."""
    if not members:
        raise ValidationFailed(_("Choose the members."), code="required", field="members")
    batch = new_batch()
    return [
        start_transfer(actor=actor, member=m, to_org=to_org, on=on, reason=reason, batch=batch)
        for m in members
    ]


def _lock_transfer(transfer: Transfer) -> Transfer:
    return (
        # of=self: the joined rows may be null (outer join), which PostgreSQL cannot lock.
        Transfer.objects.select_for_update(of=("self",))
        .select_related("member", "from_org", "to_org")
        .get(pk=transfer.pk)
    )


def _pending(transfer: Transfer) -> None:
    if transfer.state != State.PENDING:
        raise Conflict(
            _("This transfer is already %(state)s.")
            % {"state": State(transfer.state).label.lower()},
            code="already_decided",
        )


@_deadlock_is_conflict
@transaction.atomic
def accept_transfer(*, actor, transfer: Transfer, on=None) -> Transfer:
    """The receiving side accepts: the member's timeline and organisation change now."""
    if transfer.direction != Direction.INTERNAL:
        raise ValidationFailed(_("Only a transfer within the platform is accepted here."))
    _require(actor, transfer.to_org, seen_from=(transfer.from_org,))
    transfer = _lock_transfer(transfer)
    _pending(transfer)
    on = _date(on, "decided_on", not_before=transfer.started_on)
    to_org = _target(transfer.to_org)
    member = Member.objects.select_for_update().get(pk=transfer.member_id)
    if member.organization_id != transfer.from_org_id:
        # Moved meanwhile (a restructuring, a dissolution): accepting would move the member out
        # of an organisation that never saw this transfer.
        raise Conflict(
            _("%(name)s is no longer in “%(org)s”: this transfer cannot be accepted; return it.")
            % {"name": member.name, "org": transfer.from_org.name},
            code="member_moved",
        )
    before = audit.snapshot(transfer, TRANSFER_FIELDS)
    try:
        member_services.append_event(
            actor=actor,
            member=transfer.member,
            kind=EventKind.TRANSFERRED,
            on=on,
            organization=to_org,
            detail=transfer.reason or _("transfer accepted"),
        )
    except ValidationFailed as exc:
        raise ValidationFailed(
            _("The member's timeline does not allow this transfer: %(why)s") % {"why": exc.message},
            code=exc.code,
        ) from None
    _end_offices(actor, transfer.member, to_org.path, on)
    _carry_stays(actor, transfer, on)
    transfer.state = State.COMPLETED
    transfer.decided_on = on
    transfer.decided_by = _user(actor)
    transfer.save(update_fields=["state", "decided_on", "decided_by"])
    _record(actor, "transfer.accept", transfer, to_org, before)
    notices.transfer_answered(transfer, actor)
    return transfer


@_deadlock_is_conflict
@transaction.atomic
def accept_batch(*, actor, transfers: list[Transfer], on=None) -> int:
    for transfer in transfers:
        accept_transfer(actor=actor, transfer=transfer, on=on)
    return len(transfers)


@_deadlock_is_conflict
@transaction.atomic
def return_transfer(*, actor, transfer: Transfer, reason: str) -> Transfer:
    """The receiving side sends it back; refusing without a reason is not allowed."""
    if transfer.direction != Direction.INTERNAL:
        raise ValidationFailed(_("Only a transfer within the platform is returned here."))
    _require(actor, transfer.to_org, seen_from=(transfer.from_org,))
    reason = _text(reason, "reason", 255, required=True)
    transfer = _lock_transfer(transfer)
    _pending(transfer)
    before = audit.snapshot(transfer, TRANSFER_FIELDS)
    transfer.state = State.RETURNED
    transfer.decided_on = timezone.localdate()
    transfer.decided_by = _user(actor)
    transfer.decision_note = reason
    transfer.save(update_fields=["state", "decided_on", "decided_by", "decision_note"])
    _record(actor, "transfer.return", transfer, transfer.to_org, before)
    notices.transfer_answered(transfer, actor)
    return transfer


@_deadlock_is_conflict
@transaction.atomic
def cancel_transfer(*, actor, transfer: Transfer, reason: str = "") -> Transfer:
    """The side that started it withdraws it (a transfer, a letter, or a registered incoming
    letter)."""
    side = transfer.to_org if transfer.direction == Direction.INCOMING else transfer.from_org
    _require(actor, side, seen_from=(transfer.from_org, transfer.to_org))
    transfer = _lock_transfer(transfer)
    _pending(transfer)
    before = audit.snapshot(transfer, TRANSFER_FIELDS)
    transfer.state = State.CANCELLED
    transfer.decided_on = timezone.localdate()
    transfer.decided_by = _user(actor)
    transfer.decision_note = _text(reason, "reason", 255)
    transfer.save(update_fields=["state", "decided_on", "decided_by", "decision_note"])
    _record(actor, "transfer.cancel", transfer, side, before)
    notices.transfer_cancelled(transfer, actor)
    return transfer


# Letters out of the platform ----------------------------------------------------------------


def issuing_committee(org: Organization) -> Organization:
    """The committee whose letters the branch uses: the nearest Party committee above it (or
    its topmost organisation when there is none)."""
    ancestors = list(Organization.objects.filter(path__in=org.ancestor_paths()).order_by("-depth"))
    for candidate in ancestors:
        if candidate.kind == OrgKind.COMMITTEE:
            return candidate
    return ancestors[-1] if ancestors else org


LETTER_MAX_DAYS = 92  # three months at most (DOMAIN §7); the calendar decides the exact end


def letter_valid_until(on: datetime.date, days: int | None) -> datetime.date:
    """The last day a letter issued on `on` is valid. Without `days`, the configured validity,
    cut to three months where the months after `on` are short."""
    default = days in (None, "")
    days = settings.LETTER_VALID_DAYS if default else days
    try:
        days = int(days)
    except (TypeError, ValueError, OverflowError):
        raise ValidationFailed(
            _("Enter a whole number."), code="not_a_number", field="valid_days"
        ) from None
    latest = rules.add_months(on, 3)
    if not 1 <= days <= LETTER_MAX_DAYS:
        raise ValidationFailed(
            _("A letter is valid for 1 day to 3 months."), code="validity", field="valid_days"
        )
    until = on + datetime.timedelta(days=days)
    if until > latest:
        if default:
            return latest
        raise ValidationFailed(
            _("A letter is valid for 1 day to 3 months."), code="validity", field="valid_days"
        )
    return until


@_deadlock_is_conflict
@transaction.atomic
def issue_letter(
    *,
    actor,
    member: Member,
    counterpart: str,
    addressee: str = "",
    on=None,
    valid_days: int | None = None,
    reason: str = "",
) -> Transfer:
    """An introduction letter to an organisation outside the platform, numbered per issuing
    committee and year. The member stays here until the receipt comes back."""
    _require(actor, member.organization)
    counterpart = _text(counterpart, "counterpart", 128, required=True)
    addressee = _text(addressee, "addressee", 128) or counterpart
    reason = _text(reason, "reason", 255)
    on = _date(on, "started_on")
    until = letter_valid_until(on, valid_days)
    # The issuing committee's row too (numbers in order), above the member's organisation.
    member = _lock_member_in(member, issuer=True)
    _no_open_transfer(member)
    issuer = issuing_committee(member.organization)
    Organization.objects.select_for_update().filter(pk=issuer.pk).first()
    last = Transfer.objects.filter(letter_issuer=issuer, letter_year=on.year).aggregate(
        n=Max("letter_seq")
    )["n"]
    seq = (last or 0) + 1
    transfer = _create(
        direction=Direction.OUTGOING,
        member=member,
        person_name=member.name,
        sex=member.sex,
        category=member.category,
        from_org=member.organization,
        counterpart=counterpart,
        addressee=addressee,
        reason=reason,
        started_on=on,
        started_by=_user(actor),
        letter_issuer=issuer,
        letter_year=on.year,
        letter_seq=seq,
        letter_number=f"{on.year}-{seq:04d}",
        valid_until=until,
    )
    _record(actor, "letter.issue", transfer, member.organization)
    return transfer


@_deadlock_is_conflict
@transaction.atomic
def record_receipt(*, actor, transfer: Transfer, on=None) -> Transfer:
    """The receipt came back: the member has left the platform."""
    if transfer.direction != Direction.OUTGOING:
        raise ValidationFailed(_("Only a letter out of the platform has a receipt."))
    _require(actor, transfer.from_org)
    transfer = _lock_transfer(transfer)
    _pending(transfer)
    on = _date(on, "receipt_on", not_before=transfer.started_on)
    before = audit.snapshot(transfer, TRANSFER_FIELDS)
    member_services.append_event(
        actor=actor,
        member=transfer.member,
        kind=EventKind.TRANSFERRED_OUT,
        error_field="receipt_on",
        on=on,
        detail=transfer.counterpart,
        reference=transfer.letter_number,
    )
    _end_offices(actor, transfer.member, None, on)
    _carry_stays(actor, transfer, on)
    transfer.state = State.COMPLETED
    transfer.receipt_on = on
    transfer.decided_on = on
    transfer.decided_by = _user(actor)
    transfer.save(update_fields=["state", "receipt_on", "decided_on", "decided_by"])
    _record(actor, "letter.receipt", transfer, transfer.from_org, before)
    return transfer


def expire_letters(today: datetime.date | None = None, *, limit: int = 1000) -> int:
    """Sweep: letters past their validity without a receipt expire (the member stays). Safe on
    several workers at once: each row is claimed under a lock, skipping rows another holds."""
    today = today or timezone.localdate()
    done = 0
    while True:
        with transaction.atomic():
            rows = list(
                Transfer.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(
                    state=State.PENDING,
                    direction__in=(Direction.OUTGOING, Direction.INCOMING),
                    valid_until__lt=today,
                )
                .select_related("from_org", "to_org", "member")
                .order_by("id")[:limit]
            )
            if not rows:
                return done
            for transfer in rows:
                before = audit.snapshot(transfer, TRANSFER_FIELDS)
                transfer.state = State.EXPIRED
                transfer.decided_on = today
                transfer.save(update_fields=["state", "decided_on"])
                side = (
                    transfer.from_org
                    if transfer.direction == Direction.OUTGOING
                    else transfer.to_org
                )
                _record(None, "letter.expire", transfer, side, before)
            done += len(rows)


# Letters into the platform ------------------------------------------------------------------

_NUMBER = re.compile(r"^[\w\-〔〕（）()\[\]【】第号/.· ]{1,64}$")


@_deadlock_is_conflict
@transaction.atomic
def register_incoming(
    *,
    actor,
    to_org: Organization,
    letter_number: str,
    counterpart: str,
    person_name: str,
    on=None,
    valid_until=None,
    reason: str = "",
    birth_date=None,
) -> Transfer:
    """Register a letter brought from outside the platform, before confirming the member.
    `birth_date`, when the letter gives one, must match the record brought back later."""
    _require(actor, to_org)
    to_org = _target(to_org)
    letter_number = _text(letter_number, "letter_number", 64, required=True)
    if not _NUMBER.match(letter_number):
        raise ValidationFailed(
            _("Enter the number as printed on the letter."),
            code="invalid_number",
            field="letter_number",
        )
    counterpart = _text(counterpart, "counterpart", 128, required=True)
    person_name = _text(person_name, "person_name", 64, required=True)
    reason = _text(reason, "reason", 255)
    on = _date(on, "started_on")
    data = {}
    if birth_date is not None:
        birth_date = _date(birth_date, "birth_date", not_before=datetime.date(1880, 1, 1))
        data["birth_date"] = birth_date.isoformat()
    if valid_until is not None:
        if not isinstance(valid_until, datetime.date):
            raise ValidationFailed(_("Enter a valid date."), code="required", field="valid_until")
        if valid_until < on:
            raise ValidationFailed(
                _("The letter expired on %(day)s: ask for a new one.")
                % {"day": valid_until.isoformat()},
                code="letter_expired",
                field="valid_until",
            )
    duplicate = Transfer.objects.filter(
        direction=Direction.INCOMING, counterpart=counterpart, letter_number=letter_number
    ).exclude(state=State.CANCELLED)
    if duplicate.exists():
        raise Conflict(
            _("Letter %(number)s from %(from)s is already registered.")
            % {"number": letter_number, "from": counterpart},
            code="duplicate_letter",
            field="letter_number",
        )
    try:
        with transaction.atomic():
            transfer = Transfer.objects.create(
                direction=Direction.INCOMING,
                person_name=person_name,
                to_org=to_org,
                counterpart=counterpart,
                letter_number=letter_number,
                reason=reason,
                started_on=on,
                started_by=_user(actor),
                valid_until=valid_until,
                incoming_data=data,
            )
    except IntegrityError:
        raise Conflict(
            _("Letter %(number)s from %(from)s is already registered.")
            % {"number": letter_number, "from": counterpart},
            code="duplicate_letter",
            field="letter_number",
        ) from None
    _record(actor, "letter.register", transfer, to_org)
    return transfer


@_deadlock_is_conflict
@transaction.atomic
def confirm_incoming(
    *, actor, transfer: Transfer, on=None, data: dict | None = None, member: Member | None = None
) -> Transfer:
    """Confirm an incoming letter: link the record of someone who left the platform before
    (`member`) or create the record from `data` (the member form)."""
    if transfer.direction != Direction.INCOMING:
        raise ValidationFailed(_("Only an incoming letter is confirmed here."))
    _require(actor, transfer.to_org, seen_from=(transfer.from_org,))
    transfer = _lock_transfer(transfer)
    _pending(transfer)
    on = _date(on, "decided_on", not_before=transfer.started_on)
    # Today, as the sweep does: a confirmation dated back does not revive an expired letter.
    if transfer.valid_until is not None and transfer.valid_until < timezone.localdate():
        raise ValidationFailed(
            _("The letter expired on %(day)s: ask for a new one.")
            % {"day": transfer.valid_until.isoformat()},
            code="letter_expired",
        )
    to_org = _target(transfer.to_org)
    before = audit.snapshot(transfer, TRANSFER_FIELDS)
    if member is not None:
        member = Member.objects.select_for_update().get(pk=member.pk)
        if not _matches_letter(member, transfer):
            raise ValidationFailed(
                _("This record is not of the person the letter names (%(name)s).")
                % {"name": transfer.person_name},
                code="not_the_person",
                field="member",
            )
        if member.status != "transferred_out":
            raise Conflict(
                _(
                    "%(name)s is an active member of the platform: the organisation that holds "
                    "the record starts a transfer instead."
                )
                % {"name": member.name},
                code="already_member",
                field="member",
            )
        member_services.append_event(
            actor=actor,
            member=member,
            kind=EventKind.TRANSFERRED_IN,
            error_field="decided_on",
            on=on,
            organization=to_org,
            detail=transfer.counterpart,
            reference=transfer.letter_number,
        )
    else:
        if not data:
            raise ValidationFailed(_("Fill in the member's record."), code="required")
        # A new record refused as a duplicate would say the ID number is known: the same
        # limit as the look-ups by ID number (counted in the cache, so a refusal counts too).
        _throttle(actor)
        # Admitted elsewhere, arriving here today by this letter: the timeline says so.
        member = member_services.create_member(
            actor=actor,
            organization=to_org,
            data=data,
            arrived_on=on,
            arrived_from=transfer.counterpart,
            reference=transfer.letter_number,
        )
    member.refresh_from_db()
    transfer.member = member
    transfer.person_name = member.name
    transfer.sex = member.sex
    transfer.category = member.category
    transfer.state = State.COMPLETED
    transfer.decided_on = on
    transfer.decided_by = _user(actor)
    transfer.save()
    _record(actor, "letter.confirm", transfer, to_org, before)
    return transfer


_DOTS = str.maketrans({"•": "·", "・": "·", "‧": "·", "∙": "·", "．": "·", ".": "·"})


def same_name(a: str, b: str) -> bool:
    """Two spellings of one person's name: width, spaces and the dot of names such as
    阿依古丽·买买提 aside."""

    def norm(text: str) -> str:
        text = unicodedata.normalize("NFKC", text or "").translate(_DOTS)
        return "".join(text.split()).casefold()

    return bool(norm(a)) and norm(a) == norm(b)


def _matches_letter(member: Member, transfer: Transfer) -> bool:
    """Is the record the person the incoming letter names: the same name, and the same birth
    date when the letter gives one?"""
    if not same_name(member.name, transfer.person_name):
        return False
    birth = (transfer.incoming_data or {}).get("birth_date")
    return not birth or member.birth_date.isoformat() == birth


LOOKUPS_ALLOWED = 20  # look-ups by ID number per person
LOOKUP_WINDOW = 600  # seconds


class TooManyLookups(RateLimited):
    code = "throttled"


def _throttle(actor) -> None:
    """At most LOOKUPS_ALLOWED look-ups per person in LOOKUP_WINDOW: trying ID numbers one after
    another is not a way to find out who left the platform."""
    try:
        ratelimit.hit(
            "transfers:lookup",
            str(getattr(actor, "pk", None)),
            limit=LOOKUPS_ALLOWED,
            window=LOOKUP_WINDOW,
        )
    except RateLimited as exc:
        raise TooManyLookups(
            exc.retry_after,
            _("Too many look-ups by ID number: try again in %(n)d minutes.") % {"n": exc.minutes},
            field="id_number",
        ) from None


def returning_member(*, actor, transfer: Transfer, id_number: str) -> Member | None:
    """The record of someone who left the platform earlier, looked up by ID number to confirm
    an incoming letter: only the record of the person the letter names (name, and birth date
    when the letter gives one), so a number alone finds nobody. Every look-up is audited (with
    the record found), and a person has LOOKUPS_ALLOWED of them every LOOKUP_WINDOW seconds."""
    if transfer.direction != Direction.INCOMING:
        raise ValidationFailed(_("Only an incoming letter is confirmed here."))
    _require(actor, transfer.to_org, seen_from=(transfer.from_org,))
    _throttle(actor)
    try:
        number = parse_id_number(id_number)
    except InvalidIdNumber as exc:
        raise ValidationFailed(
            member_services.id_number_message(exc), code="invalid_id_number", field="id_number"
        ) from None
    found = (
        Member.objects.filter(
            id_number_hash=crypto.keyed_hash(number.number), status="transferred_out"
        )
        .order_by("pk")
        .first()
    )
    birth = (transfer.incoming_data or {}).get("birth_date")
    if found is not None and (
        not _matches_letter(found, transfer) or (birth and number.birth_date.isoformat() != birth)
    ):
        found = None
    audit.record(
        actor,
        "letter.lookup",
        transfer,
        after={"id_number": crypto.mask_id_number(number.number), "found": found is not None},
        org_path=transfer.to_org.path if transfer.to_org else "",
        subject=member_services.subject_of(found) if found is not None else None,
    )
    return found


# Mobile members -----------------------------------------------------------------------------

MOBILE_MAX_MONTHS = 6


def _mobile_dates(since, expected_return) -> tuple[datetime.date, datetime.date | None]:
    since = _date(since, "since")
    if expected_return is not None:
        if not isinstance(expected_return, datetime.date):
            raise ValidationFailed(
                _("Enter a valid date."), code="required", field="expected_return"
            )
        if expected_return <= since:
            raise ValidationFailed(
                _("The return comes after the departure."),
                code="return_before_leaving",
                field="expected_return",
            )
        # Away six months or more at one place: that calls for a transfer (DOMAIN §7).
        if expected_return >= rules.add_months(since, MOBILE_MAX_MONTHS):
            raise ValidationFailed(
                _("Away for six months or more at one place: transfer the membership instead."),
                code="too_long",
                field="expected_return",
            )
    return since, expected_return


@_deadlock_is_conflict
@transaction.atomic
def register_mobile_out(
    *,
    actor,
    member: Member,
    destination: str = "",
    host_org: Organization | None = None,
    since=None,
    expected_return=None,
    card_number: str = "",
    note: str = "",
) -> MobileStay:
    """A member leaves for a while; the host (on the platform or not) takes them into its life."""
    _require(actor, member.organization)
    since, expected_return = _mobile_dates(since, expected_return)
    destination = _text(destination, "destination", 128)
    card_number = _text(card_number, "card_number", 32)
    note = _text(note, "note", 255)
    member = _lock_member_in(member, host_org)
    if host_org is not None:
        host_org = _target(host_org, "host_org")
        if host_org.pk == member.organization_id:
            raise ValidationFailed(
                _("The member is already in that organisation."),
                code="same_organization",
                field="host_org",
            )
        destination = destination or host_org.name
    if not destination:
        raise ValidationFailed(
            _("Say where the member goes."), code="required", field="destination"
        )
    if MobileStay.objects.filter(member=member, state=MobileState.ACTIVE).exists():
        raise Conflict(_("The member is already away."), code="already_mobile")
    member_services.append_event(
        actor=actor,
        member=member,
        kind=EventKind.MOBILE_OUT,
        on=since,
        detail=destination,
        error_field="since",
    )
    stay = MobileStay.objects.create(
        member=member,
        person_name=member.name,
        home_org=member.organization,
        host_org=host_org,
        destination=destination,
        card_number=card_number,
        since=since,
        expected_return=expected_return,
        note=note,
        created_by=_user(actor),
    )
    audit.record(
        actor,
        "mobile.out",
        stay,
        after=audit.snapshot(stay, MOBILE_FIELDS),
        org_path=member.org_path,
        subject=member_services.subject_of(member),
    )
    return stay


@_deadlock_is_conflict
@transaction.atomic
def register_mobile_in(
    *,
    actor,
    host_org: Organization,
    person_name: str,
    home_text: str,
    since=None,
    expected_return=None,
    card_number: str = "",
    note: str = "",
) -> MobileStay:
    """A member of an organisation outside the platform joins this organisation's life."""
    _require(actor, host_org)
    person_name = _text(person_name, "person_name", 64, required=True)
    home_text = _text(home_text, "home_text", 128, required=True)
    card_number = _text(card_number, "card_number", 32)
    note = _text(note, "note", 255)
    host_org = _target(host_org, "host_org")
    since, expected_return = _mobile_dates(since, expected_return)
    stay = MobileStay.objects.create(
        person_name=person_name,
        home_text=home_text,
        host_org=host_org,
        destination=host_org.name,
        card_number=card_number,
        since=since,
        expected_return=expected_return,
        note=note,
        created_by=_user(actor),
    )
    audit.record(
        actor, "mobile.in", stay, after=audit.snapshot(stay, MOBILE_FIELDS), org_path=host_org.path
    )
    return stay


def _stay_side(stay: MobileStay) -> Organization | None:
    return stay.home_org if stay.member_id else stay.host_org


@_deadlock_is_conflict
@transaction.atomic
def end_mobile(*, actor, stay: MobileStay, on=None) -> MobileStay:
    """The member is back (or, for a member of elsewhere, has left the host)."""
    side = _stay_side(stay)
    _require(actor, side, seen_from=(stay.home_org, stay.host_org))
    if stay.member_id:  # the member's row before the stay's, as everywhere
        Member.objects.select_for_update().filter(pk=stay.member_id).first()
    stay = MobileStay.objects.select_for_update().get(pk=stay.pk)
    if stay.state != MobileState.ACTIVE:
        raise Conflict(_("This stay has already ended."), code="already_ended")
    on = _date(on, "returned_on", not_before=stay.since)
    before = audit.snapshot(stay, MOBILE_FIELDS)
    if stay.member_id:
        member_services.append_event(
            actor=actor,
            member=stay.member,
            kind=EventKind.MOBILE_BACK,
            on=on,
            error_field="returned_on",
        )
    stay.state = MobileState.RETURNED
    stay.returned_on = on
    stay.save(update_fields=["state", "returned_on"])
    old, new = audit.diff(before, audit.snapshot(stay, MOBILE_FIELDS))
    audit.record(
        actor,
        "mobile.return",
        stay,
        before=old,
        after=new,
        org_path=side.path if side else "",
        subject=member_services.subject_of(stay.member) if stay.member_id else None,
    )
    return stay


@_deadlock_is_conflict
@transaction.atomic
def convert_mobile(
    *,
    actor,
    stay: MobileStay,
    on=None,
    to_org: Organization | None = None,
    counterpart: str = "",
    reason: str = "",
) -> Transfer:
    """The stay becomes a transfer: to the host on the platform (or `to_org`), or with a letter
    to `counterpart` outside it."""
    if not stay.member_id:
        raise ValidationFailed(
            _("Only a member of this platform is transferred from here."), code="not_ours"
        )
    _require(actor, stay.home_org, seen_from=(stay.host_org,))
    # Organisations, then the member, then the stay: the order of every other service here.
    target = to_org or stay.host_org
    _lock_member_in(stay.member, target, issuer=target is None)
    stay = (
        MobileStay.objects.select_for_update(of=("self",))
        .select_related("member", "host_org", "home_org")
        .get(pk=stay.pk)
    )
    if stay.state != MobileState.ACTIVE:
        raise Conflict(_("This stay has already ended."), code="already_ended")
    on = _date(on, "started_on", not_before=stay.since)
    target = to_org or stay.host_org
    before = audit.snapshot(stay, MOBILE_FIELDS)
    member_services.append_event(
        actor=actor, member=stay.member, kind=EventKind.MOBILE_BACK, on=on, error_field="started_on"
    )
    reason = reason or _("mobile member settled at %(place)s") % {"place": stay.destination}
    if target is not None:
        transfer = start_transfer(
            actor=actor, member=stay.member, to_org=target, on=on, reason=reason
        )
    else:
        transfer = issue_letter(
            actor=actor,
            member=stay.member,
            counterpart=counterpart or stay.destination,
            on=on,
            reason=reason,
        )
    stay.state = MobileState.CONVERTED
    stay.returned_on = on
    stay.transfer = transfer
    stay.save(update_fields=["state", "returned_on", "transfer"])
    old, new = audit.diff(before, audit.snapshot(stay, MOBILE_FIELDS))
    audit.record(
        actor,
        "mobile.convert",
        stay,
        before=old,
        after=new,
        org_path=stay.home_org.path,
        subject=member_services.subject_of(stay.member),
    )
    return transfer


# Out of contact ----------------------------------------------------------------------------

CONTACT_DECISIONS = {"suspend": EventKind.SUSPENDED, "remove": EventKind.REMOVED}


@_deadlock_is_conflict
@transaction.atomic
def decide_contact(*, actor, member: Member, decision: str, on=None, reference: str = "") -> Member:
    """A person decides on a flagged member out of contact: suspend the standing, or remove.
    The decision names its document (the branch meeting's resolution)."""
    _require(actor, member.organization, "member.change")
    if decision not in CONTACT_DECISIONS:
        raise ValidationFailed(_("Choose the decision."), code="invalid_decision", field="decision")
    reference = _text(reference, "reference", 64, required=True)
    member = Member.objects.select_for_update().get(pk=member.pk)
    if not member.out_of_contact:
        raise ValidationFailed(
            _("%(name)s is not out of contact.") % {"name": member.name}, code="not_out_of_contact"
        )
    if Transfer.objects.filter(member=member, state=State.PENDING).exists():
        # The other side would otherwise accept (or the receipt arrive for) someone removed.
        raise Conflict(
            _("%(name)s has a transfer under way: decide or cancel it first.")
            % {"name": member.name},
            code="transfer_open",
            field="decision",
        )
    on = _date(on, "on")
    suspended_on = (
        member.events.filter(kind=EventKind.SUSPENDED)
        .order_by("-occurred_on")
        .values_list("occurred_on", flat=True)
        .first()
        if member.standing == "suspended"
        else None
    )
    flag, due = member_rules.contact_flag(member.out_of_contact_since, suspended_on, on)
    if flag != decision:
        raise ValidationFailed(
            _("This decision is not due: it falls due on %(day)s.")
            % {"day": due.isoformat() if due else "—"},
            code="not_due",
            field="decision",
        )
    if decision == "remove":
        # The time away ends first, with a return on the timeline, as for any end of
        # membership (members.services._end_mobile_stay): nothing may follow a removal.
        member_services._end_mobile_stay(actor, member, EventKind.REMOVED, on)
    member_services.append_event(
        actor=actor,
        member=member,
        kind=CONTACT_DECISIONS[decision],
        error_field="on",
        on=on,
        detail=_("out of contact since %(day)s") % {"day": member.out_of_contact_since.isoformat()},
        reference=reference,
    )
    # Offices are held by full members in good standing: a suspended or removed member leaves
    # them on the day of the decision.
    _end_offices(actor, member, None, on, reason=_("out of contact"))
    member.refresh_from_db()
    return member


# Stays when organisations change (restructuring and dissolution call these) ----------------


def _back_home(actor, stay: MobileStay, on: datetime.date, detail: str) -> None:
    """The member's home and host are now the same organisation: the stay ends, with a return
    on the timeline (a member is never a guest of their own organisation)."""
    back_on = max(on, stay.since)
    if stay.member_id:
        member_services.append_event(
            actor=actor, member=stay.member, kind=EventKind.MOBILE_BACK, on=back_on, detail=detail
        )
    stay.state = MobileState.RETURNED
    stay.returned_on = back_on
    stay.save(update_fields=["state", "returned_on"])


def rehome_stays(actor, member_ids, target: Organization, on: datetime.date) -> int:
    """Members moved to `target` while away: `target` becomes their home, or, when it is
    where they are staying, they are back. Audited; returns the stays touched."""
    stays = list(
        MobileStay.objects.select_for_update(of=("self",))
        .filter(member_id__in=list(member_ids), state=MobileState.ACTIVE)
        .select_related("member")
        .order_by("id")
    )
    for stay in stays:
        before = audit.snapshot(stay, MOBILE_FIELDS)
        if stay.host_org_id == target.pk:
            _back_home(actor, stay, on, _("moved to the host organisation"))
            action = "mobile.return"
        else:
            stay.home_org = target
            stay.save(update_fields=["home_org"])
            action = "mobile.move"
        old, new = audit.diff(before, audit.snapshot(stay, MOBILE_FIELDS))
        audit.record(
            actor,
            action,
            stay,
            before=old,
            after=new,
            org_path=target.path,
            subject=member_services.subject_of(stay.member) if stay.member_id else None,
        )
    return len(stays)


def rehost_guests(actor, host: Organization, target: Organization, on: datetime.date) -> int:
    """Guests of `host` go on at `target`; a guest whose home is `target` is back home."""
    stays = list(
        MobileStay.objects.select_for_update(of=("self",))
        .filter(host_org=host, state=MobileState.ACTIVE)
        .select_related("member")
        .order_by("id")
    )
    for stay in stays:
        before = audit.snapshot(stay, MOBILE_FIELDS)
        if stay.member_id and stay.home_org_id == target.pk:
            _back_home(actor, stay, on, _("host merged into the home organisation"))
            action = "mobile.return"
        else:
            stay.host_org = target
            stay.destination = target.name[:128]
            stay.save(update_fields=["host_org", "destination"])
            action = "mobile.move"
        old, new = audit.diff(before, audit.snapshot(stay, MOBILE_FIELDS))
        audit.record(
            actor,
            action,
            stay,
            before=old,
            after=new,
            org_path=target.path,
            subject=member_services.subject_of(stay.member) if stay.member_id else None,
        )
    return len(stays)
