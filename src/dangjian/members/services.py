"""Every change to member records. Pages, the API, imports and commands call these functions.

Each service checks the actor's permission at the member's organisation, writes in one
transaction and records an audit event. The Party-standing timeline is written only here:
`record_event` checks the event against the state on its date (rules.check), stores it and then
stores the derived state on the record.
"""

import datetime
import re

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from dangjian.core import audit, codes, crypto, selectors, text
from dangjian.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from dangjian.core.idnumber import InvalidIdNumber, parse_id_number
from dangjian.core.models import BRANCH_KINDS, Organization, OrgStatus, User
from dangjian.core.text import MOBILE, has_control_characters

from . import rules
from .models import (
    Category,
    EventKind,
    FamilyMember,
    HistoryEntry,
    Member,
    MemberDocument,
    RewardDiscipline,
    StandingEvent,
)
from .signals import timelines_changed

# Fields of the record a person types (the derived state is written by the timeline).
RECORD_FIELDS = [
    "name",
    "sex",
    "ethnicity",
    "birth_date",
    "education",
    "degree",
    "school",
    "native_place",
    "work_started_on",
    "job_category",
    "work_unit",
    "title",
    "party_post",
    "telephone",
    "home_address",
    "note",
]
DERIVED_FIELDS = [
    "organization",
    "status",
    "category",
    "standing",
    "joined_on",
    "full_on",
    "out_of_contact",
    "out_of_contact_since",
    "mobile",
    "mobile_destination",
    "party_probation",
]
SELF_SERVICE_FIELDS = ["phone", "telephone", "home_address"]
DOCUMENT_TYPES = {
    "application/pdf": ".pdf",
    "image/jpeg": ".jpg",
    "image/png": ".png",
}
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024


_MAX_LENGTHS = {
    f.name: f.max_length
    for f in Member._meta.get_fields()
    if f.name in RECORD_FIELDS and getattr(f, "max_length", None) and f.name != "name"
}


class RecordInvalid(ValidationFailed):
    """Several fields are wrong at once. `errors` maps each field to its messages."""

    def __init__(self, errors: dict[str, list[str]], code: str = "invalid"):
        field, messages = next(iter(errors.items()))
        super().__init__(messages[0], code=code, field=field)
        self.errors = errors
        self.codes: dict[str, str] = {}


def id_number_message(exc: InvalidIdNumber) -> str:
    """What is wrong with an ID number, in the user's language."""
    p = exc.params
    return {
        "length": _("An ID number has 18 characters; this one has %(n)s.") % {"n": p.get("length")},
        "characters": _("An ID number is 17 digits followed by a digit or X."),
        "region": _("Region code %(code)s names no province.") % {"code": p.get("region")},
        "date": _("The birth date %(date)s in the ID number is not a real date.")
        % {"date": p.get("date")},
        "check": _("Wrong check character %(found)s (it should be %(expected)s).")
        % {"found": p.get("found"), "expected": p.get("expected")},
    }.get(exc.code, str(exc))


def problem_message(code: str) -> str:
    return {
        "birth_date_mismatch": _("The birth date does not agree with the ID number."),
        "sex_mismatch": _("The sex does not agree with the ID number."),
        "too_young": _("The member was younger than 18 on the day of joining."),
        "full_before_joining": _("Becoming full must come after joining."),
        "full_on_required": _("A full member needs the date of becoming full."),
        "probationary_with_full_on": _("A probationary member has no date of becoming full."),
        "duplicate_id_number": _("A member with this ID number is already recorded."),
        "future_date": _("The date lies in the future."),
    }[code]


def normalise_phone(text: str | None) -> str:
    digits = re.sub(r"[\s-]", "", str(text or ""))
    if digits.startswith("+86"):
        digits = digits[3:]
    return digits


def name_initials(name: str) -> str:
    from pypinyin import Style, lazy_pinyin

    return "".join(p[0] for p in lazy_pinyin(name, style=Style.FIRST_LETTER) if p).lower()[:32]


def clean_record(data: dict, *, instance: Member | None = None, today=None) -> dict:
    """Check a record (a new one, or the changed fields of `instance`) and return clean values.

    Accepts the record fields plus id_number, phone, category, joined_on and full_on. Fills the
    birth date and sex from the ID number when they are missing. Raises RecordInvalid naming
    every faulty field.
    """
    today = today or timezone.localdate()
    errors: dict[str, list[str]] = {}
    codes_found: dict[str, str] = {}
    out = dict(data)

    def fail(field, message, code="invalid"):
        errors.setdefault(field, []).append(message)
        codes_found.setdefault(field, code)

    def current(field):
        if field in out:
            return out[field]
        return getattr(instance, field, None) if instance else None

    if "name" in out or instance is None:
        name = re.sub(r"\s+", "", str(out.get("name") or ""))
        if not name:
            fail("name", _("Enter the name."), "required")
        elif len(name) > 64:
            fail("name", _("A name has at most 64 characters."))
        out["name"] = name

    parsed = None
    if "id_number" in out or instance is None:
        try:
            parsed = parse_id_number(out.get("id_number"), today=today)
            out["id_number"] = parsed.number
        except InvalidIdNumber as exc:
            if not str(out.get("id_number") or "").strip():
                fail("id_number", _("Enter the ID number."), "required")
            else:
                fail("id_number", id_number_message(exc), "invalid_id_number")
    elif instance is not None:
        parsed = parse_id_number(member_id_number(instance), today=today)

    if parsed is not None:
        if not out.get("birth_date") and (instance is None or "id_number" in out):
            out["birth_date"] = parsed.birth_date
        if not out.get("sex") and (instance is None or "id_number" in out):
            out["sex"] = str(parsed.sex)

    for field in ("sex", "ethnicity", "education", "job_category"):
        if field in out:
            value = out[field]
            if value in (None, ""):
                if field == "ethnicity":
                    out[field] = codes.HAN
                elif field == "sex":
                    fail(field, _("Choose the sex."), "required")
                else:
                    out[field] = ""
                continue
            code = codes.lookup(field, value)
            if code is None:
                fail(field, _("Unknown value %(value)s.") % {"value": value}, "unknown_code")
            else:
                out[field] = code
        elif instance is None and field == "ethnicity":
            out[field] = codes.HAN

    for field in ("birth_date", "joined_on", "full_on", "work_started_on"):
        value = out.get(field)
        if isinstance(value, datetime.date) and value > today:
            fail(field, problem_message("future_date"), "future_date")
    if instance is not None:
        for field in ("birth_date", "joined_on"):
            if field in out and not out[field]:
                fail(field, _("This field is required."), "required")
    for field, limit in _MAX_LENGTHS.items():
        value = out.get(field)
        if isinstance(value, str) and len(value) > limit:
            fail(
                field,
                _("At most %(n)d characters (this has %(m)d).") % {"n": limit, "m": len(value)},
                "too_long",
            )

    if instance is None:
        if not out.get("joined_on"):
            fail("joined_on", _("Enter the date of joining."), "required")
        if not out.get("birth_date") and "id_number" not in errors:
            fail("birth_date", _("Enter the birth date."), "required")
        if out.get("category") not in (Category.FULL, Category.PROBATIONARY):
            out["category"] = Category.FULL if out.get("full_on") else Category.PROBATIONARY

    if "phone" in out:
        phone = normalise_phone(out["phone"])
        if phone and not MOBILE.match(phone):
            fail("phone", _("Enter a mainland mobile number of 11 digits."), "invalid_phone")
        out["phone"] = phone

    for field, value in out.items():
        # Tabs and line breaks come with spreadsheet cells and are kept; other control
        # characters are refused (importing._fast_clean makes the same check).
        if isinstance(value, str) and has_control_characters(value, lines=True):
            fail(field, _("This value contains characters that are not allowed."), "invalid_text")

    if not errors:
        for field, code in rules.record_problems(
            birth_date=current("birth_date"),
            sex=current("sex"),
            id_birth=parsed.birth_date if parsed else None,
            id_sex=parsed.sex if parsed else None,
            joined_on=current("joined_on"),
            full_on=current("full_on"),
            category=out.get("category") or (instance.category if instance else None),
        ):
            fail(field, problem_message(code), code)

    if errors:
        exc = RecordInvalid(errors, code=next(iter(codes_found.values())))
        exc.codes = codes_found
        raise exc
    return out


def member_id_number(member: Member) -> str:
    return crypto.decrypt(member.id_number_encrypted)


def member_phone(member: Member) -> str:
    return crypto.decrypt(member.phone_encrypted) if member.phone_encrypted else ""


def _audit_view(member: Member) -> dict:
    data = audit.snapshot(member, RECORD_FIELDS + DERIVED_FIELDS)
    data["id_number"] = crypto.mask_id_number(member_id_number(member))
    phone = member_phone(member)
    data["phone"] = crypto.mask_phone(phone) if phone else ""
    return data


def _require(actor, action: str, org: Organization) -> None:
    if not selectors.can(actor, action, org):
        if selectors.can(actor, "member.view", org) or selectors.can(actor, "org.view", org):
            raise Forbidden(_("You may not change member records here."))
        raise NotFound(_("Organisation not found."))


def _check_organization(org: Organization) -> None:
    if org.status != OrgStatus.ACTIVE:
        raise ValidationFailed(
            _("The organisation is dissolved."), code="organization_dissolved", field="organization"
        )
    if org.kind not in BRANCH_KINDS:
        raise ValidationFailed(
            _("Members belong to a branch or joint branch."),
            code="not_a_branch",
            field="organization",
        )


def _apply_state(member: Member, events: list[rules.Event]) -> None:
    """Store the state the timeline gives on the record (org_path follows the organisation)."""
    state = rules.derive(events)
    if state.organization_id and state.organization_id != member.organization_id:
        member.org_path = Organization.objects.get(pk=state.organization_id).path
    member.status = state.status if state.status != rules.NOT_YET else rules.ACTIVE
    member.category = state.category or member.category
    member.standing = state.standing
    if state.organization_id:
        member.organization_id = state.organization_id
    member.joined_on = state.joined_on or member.joined_on
    member.full_on = state.full_on
    member.out_of_contact = state.out_of_contact
    member.out_of_contact_since = state.out_of_contact_since
    member.mobile = state.mobile
    member.party_probation = state.party_probation
    member.mobile_destination = state.mobile_destination[:128]


def _set_secrets(member: Member, clean: dict) -> None:
    if "id_number" in clean:
        member.id_number_encrypted = crypto.encrypt(clean["id_number"])
        member.id_number_hash = crypto.keyed_hash(clean["id_number"])
    if "phone" in clean:
        phone = clean["phone"]
        member.phone_encrypted = crypto.encrypt(phone) if phone else ""
        member.phone_hash = crypto.keyed_hash(phone) if phone else ""


def _duplicate_check(clean: dict, instance: Member | None) -> None:
    if "id_number" not in clean:
        return
    others = Member.objects.filter(id_number_hash=crypto.keyed_hash(clean["id_number"]))
    if instance is not None:
        others = others.exclude(pk=instance.pk)
    if others.exists():
        exc = RecordInvalid(
            {"id_number": [problem_message("duplicate_id_number")]}, code="duplicate_id_number"
        )
        exc.codes = {"id_number": "duplicate_id_number"}
        raise exc


@transaction.atomic
def create_member(
    *,
    actor,
    organization: Organization,
    data: dict,
    arrived_on: datetime.date | None = None,
    arrived_from: str = "",
    reference: str = "",
) -> Member:
    """Record a member: the record and the first events (admitted, and became full if so).

    With `arrived_on`, the member was admitted and may have become full outside the platform
    (`arrived_from`) and arrives here that day: the timeline says so (admitted with no
    organisation of the platform, then transferred in), so asked about an earlier date the
    platform does not count them in `organization`."""
    _require(actor, "member.change", organization)
    _check_organization(organization)
    clean = clean_record(data)
    _duplicate_check(clean, None)
    member = Member(organization=organization, org_path=organization.path)
    for field in RECORD_FIELDS:
        if field in clean:
            setattr(member, field, clean[field])
    member.name_initials = name_initials(member.name)
    member.category = clean["category"]
    member.joined_on = clean["joined_on"]
    member.full_on = clean.get("full_on")
    _set_secrets(member, clean)
    try:
        with transaction.atomic():
            member.save()
    except IntegrityError:
        raise Conflict(problem_message("duplicate_id_number"), field="id_number") from None
    events = [
        StandingEvent(
            member=member,
            kind=EventKind.ADMITTED,
            occurred_on=member.joined_on,
            organization=None if arrived_on else organization,
            detail=arrived_from[:255] if arrived_on else "",
            created_by=_user(actor),
        )
    ]
    if member.full_on:
        events.append(
            StandingEvent(
                member=member,
                kind=EventKind.BECAME_FULL,
                occurred_on=member.full_on,
                created_by=_user(actor),
            )
        )
    if arrived_on:
        if arrived_on < member.joined_on or arrived_on > timezone.localdate():
            raise ValidationFailed(
                _("The member arrives after joining the Party and not in the future."),
                code="arrival_date",
                field="arrived_on",
            )
        events.append(
            StandingEvent(
                member=member,
                kind=EventKind.TRANSFERRED_IN,
                occurred_on=arrived_on,
                organization=organization,
                detail=arrived_from[:255],
                reference=reference[:64],
                created_by=_user(actor),
            )
        )
    StandingEvent.objects.bulk_create(events)
    timelines_changed.send(
        sender=StandingEvent, member_ids=[member.pk], since=min(e.occurred_on for e in events)
    )
    audit.record(
        actor,
        "member.create",
        member,
        after=_audit_view(member),
        org_path=member.org_path,
        subject=subject_of(member),
    )
    return member


def subject_of(member: Member) -> str:
    """The audit subject of everything about a member (core.AuditEvent.subject)."""
    return f"members.member:{member.pk}"


def _user(actor):
    return actor if isinstance(actor, User) and actor.pk else None


@transaction.atomic
def update_member(*, actor, member: Member, data: dict) -> Member:
    """Change record fields. Dates of joining and of becoming full correct their events."""
    member = Member.objects.select_for_update().get(pk=member.pk)
    _require(actor, "member.change", member.organization)
    before = _audit_view(member)
    allowed = set(RECORD_FIELDS) | {"id_number", "phone", "joined_on", "full_on"}
    unknown = set(data) - allowed
    if unknown:
        raise ValidationFailed(
            _("These fields cannot be changed here: %(f)s") % {"f": ", ".join(sorted(unknown))},
            field=sorted(unknown)[0],
        )
    clean = clean_record(data, instance=member)
    _duplicate_check(clean, member)
    for field in RECORD_FIELDS:
        if field in clean:
            setattr(member, field, clean[field])
    member.name_initials = name_initials(member.name)
    _set_secrets(member, clean)
    moved = set()
    old_dates = {"joined_on": member.joined_on, "full_on": member.full_on}
    if "joined_on" in clean and clean["joined_on"] != member.joined_on:
        moved.add("joined_on")
        StandingEvent.objects.filter(member=member, kind=EventKind.ADMITTED).update(
            occurred_on=clean["joined_on"]
        )
        member.joined_on = clean["joined_on"]
    if "full_on" in clean and clean["full_on"] != member.full_on:
        full = StandingEvent.objects.filter(member=member, kind=EventKind.BECAME_FULL)
        if clean["full_on"] is None:
            full.delete()
        elif full.exists():
            full.update(occurred_on=clean["full_on"])
        else:
            StandingEvent.objects.create(
                member=member,
                kind=EventKind.BECAME_FULL,
                occurred_on=clean["full_on"],
                created_by=_user(actor),
            )
    if "full_on" in clean and clean["full_on"] != member.full_on:
        moved.add("full_on")
    if moved:
        timeline = [e.as_rule() for e in member.events.all()]
        try:
            rules.validate(timeline)
        except rules.TimelineError as exc:
            field = "joined_on" if "joined_on" in moved else "full_on"
            raise ValidationFailed(timeline_message(exc.code), code=exc.code, field=field) from None
        _apply_state(member, timeline)
    member.save()
    if moved:
        # The events were moved by QuerySet.update (no post_save): what is derived from the
        # timeline (the dues ledger: the months owed from admission) follows from the earlier
        # of the old and the new date.
        days = [old_dates[f] for f in moved] + [clean.get(f) for f in moved]
        days = [d for d in days if d is not None]
        if days:
            timelines_changed.send(sender=StandingEvent, member_ids=[member.pk], since=min(days))
    after = _audit_view(member)
    b, a = audit.diff(before, after)
    if a:
        audit.record(
            actor,
            "member.update",
            member,
            before=b,
            after=a,
            org_path=member.org_path,
            subject=subject_of(member),
        )
    return member


@transaction.atomic
def update_own_contact(*, actor, data: dict) -> Member:
    """A member corrects their own phone numbers and address; nothing else."""
    member = Member.objects.select_for_update().filter(user=actor).first()
    if member is None:
        raise NotFound(_("No member record is linked to your account."))
    unknown = set(data) - set(SELF_SERVICE_FIELDS)
    if unknown:
        raise Forbidden(_("You may change only your contact details."))
    before = _audit_view(member)
    clean = clean_record(data, instance=member)
    for field in ("telephone", "home_address"):
        if field in clean:
            setattr(member, field, str(clean[field] or ""))
    _set_secrets(member, clean)
    member.save()
    b, a = audit.diff(before, _audit_view(member))
    if a:
        audit.record(
            actor,
            "member.self_update",
            member,
            before=b,
            after=a,
            org_path=member.org_path,
            subject=subject_of(member),
        )
    return member


@transaction.atomic
def record_event(
    *,
    actor,
    member: Member,
    kind: str,
    on: datetime.date,
    organization: Organization | None = None,
    detail: str = "",
    reference: str = "",
) -> StandingEvent:
    """Add one event to the timeline and store the state that follows.

    Transfers and mobile stays are not recorded here: they are the transfer and mobile member
    services' own events (TRANSFERS_OWN), written with the rows that keep them in step. An end
    of membership waits for a pending transfer to be decided, and ends an active mobile stay on
    the same day."""
    _require(actor, "member.change", member.organization)
    if organization is not None:
        _require(actor, "member.change", organization)
    if kind in TRANSFERS_OWN:
        raise ValidationFailed(
            _(
                "Transfers and mobile members are recorded on their own pages (Transfers, "
                "Mobile members), which keep the timeline in step with them."
            ),
            code="use_transfers",
            field="kind",
        )
    if kind in MEMBERSHIP_ENDS:
        member = Member.objects.select_for_update().get(pk=member.pk)
        _no_pending_transfer(member)
        _end_mobile_stay(actor, member, kind, on)
    return append_event(
        actor=actor,
        member=member,
        kind=kind,
        on=on,
        organization=organization,
        detail=detail,
        reference=reference,
    )


# Events the transfers services write (with the Transfer and MobileStay rows they belong to).
TRANSFERS_OWN = frozenset(
    {
        EventKind.TRANSFERRED,
        EventKind.TRANSFERRED_IN,
        EventKind.TRANSFERRED_OUT,
        EventKind.MOBILE_OUT,
        EventKind.MOBILE_BACK,
    }
)
# The ends of a membership recorded here (a transfer out is the transfers services' own).
MEMBERSHIP_ENDS = frozenset(
    {
        EventKind.DECEASED,
        EventKind.REMOVED,
        EventKind.EXPELLED,
        EventKind.LEFT,
        EventKind.QUALIFICATION_CANCELLED,
    }
)


def _no_pending_transfer(member: Member) -> None:
    from dangjian.transfers.models import State, Transfer

    if Transfer.objects.filter(member=member, state=State.PENDING).exists():
        raise ValidationFailed(
            _("%(name)s has a transfer under way: accept, return or cancel it first (Transfers).")
            % {"name": member.name},
            code="transfer_pending",
            field="kind",
        )


def _end_mobile_stay(actor, member: Member, kind: str, on) -> None:
    """A membership that ends ends the member's time away too (on the same day, before it, so
    the timeline says the member is no longer away)."""
    from dangjian.transfers.models import MobileState, MobileStay

    if not isinstance(on, datetime.date) or on > timezone.localdate():
        return  # append_event refuses a missing or future date with its own message
    stay = MobileStay.objects.select_for_update().filter(member=member, state=MobileState.ACTIVE)
    stay = stay.first()
    if stay is None and not member.mobile:
        return
    # The end itself must fit first: its error is the one to show, not the return's.
    try:
        new = rules.Event(kind=kind, on=on, seq=10**12)
        rules.check([e.as_rule() for e in member.events.all()], new)
    except rules.TimelineError as exc:
        raise ValidationFailed(timeline_message(exc.code), code=exc.code, field="kind") from None
    if stay is not None and on < stay.since:
        raise ValidationFailed(
            _("%(name)s has been away as a mobile member since %(day)s: choose a later date.")
            % {"name": member.name, "day": stay.since.isoformat()},
            code="before_mobile_stay",
            field="occurred_on",
        )
    if member.mobile:  # the state now is the state on `on`: nothing may follow an end
        append_event(actor=actor, member=member, kind=EventKind.MOBILE_BACK, on=on)
    if stay is None:
        return
    stay.state = MobileState.RETURNED
    stay.returned_on = on
    stay.save(update_fields=["state", "returned_on"])
    audit.record(
        actor,
        "mobile.return",
        stay,
        before={"state": MobileState.ACTIVE, "returned_on": None},
        after={"state": MobileState.RETURNED, "returned_on": on.isoformat()},
        org_path=member.org_path,
        subject=subject_of(member),
    )


@transaction.atomic
def append_event(
    *,
    actor,
    member: Member,
    kind: str,
    on: datetime.date,
    organization: Organization | None = None,
    detail: str = "",
    reference: str = "",
    error_field: str = "kind",
) -> StandingEvent:
    """`record_event` without the permission check, for services that checked it their own way
    (the receiving side of a transfer accepts a member it could not yet edit)."""
    member = Member.objects.select_for_update().get(pk=member.pk)
    if kind not in rules.EVENT_KINDS:
        raise ValidationFailed(_("Unknown event."), code="unknown_event", field="kind")
    if on is None:
        raise ValidationFailed(_("Enter the date."), code="required", field="occurred_on")
    if on > timezone.localdate():
        raise ValidationFailed(problem_message("future_date"), code="future_date", field="on")
    if organization is not None:
        _check_organization(organization)
    existing = [e.as_rule() for e in member.events.all()]
    new = rules.Event(
        kind=kind, on=on, organization_id=getattr(organization, "pk", None), seq=10**12
    )
    try:
        rules.check(existing, new)
        rules.validate([*existing, new])  # and every later event still fits
    except rules.TimelineError as exc:
        raise ValidationFailed(
            timeline_message(exc.code), code=exc.code, field=error_field
        ) from None
    before = _audit_view(member)
    event = StandingEvent.objects.create(
        member=member,
        kind=kind,
        occurred_on=on,
        organization=organization,
        detail=detail[:255],
        reference=reference[:64],
        created_by=_user(actor),
    )
    _apply_state(member, [*existing, event.as_rule()])
    member.save()
    b, a = audit.diff(before, _audit_view(member))
    audit.record(
        actor,
        "member.event",
        event,
        before=b,
        after={
            "kind": kind,
            "on": on.isoformat(),
            "detail": detail,
            **(a or {}),
            "member": member.pk,
        },
        org_path=member.org_path,
        subject=subject_of(member),
        label=f"{member.name}: {EventKind(kind).label}",
    )
    return event


def timeline_message(code: str) -> str:
    return {
        "already_admitted": _("The member was already admitted."),
        "not_first": _("Admission must be the first event."),
        "already_active": _("The member is already an active member here."),
        "organization_required": _("Choose the organisation."),
        "not_active": _("The member is not an active member on that date."),
        "not_probationary": _("Only a probationary member can become full or be extended."),
        "full_before_joining": _("Becoming full must come after joining."),
        "already_suspended": _("The Party standing is already suspended."),
        "not_suspended": _("The Party standing is not suspended."),
        "already_out_of_contact": _("The member is already out of contact."),
        "not_out_of_contact": _("The member is not out of contact."),
        "already_mobile": _("The member is already away as a mobile member."),
        "not_mobile": _("The member is not away."),
        "later_events": _("There are later events on the timeline."),
        "same_organization": _("The member is already in that organisation."),
        "already_party_probation": _("The member is already on Party probation."),
        "not_party_probation": _("The member is not on Party probation."),
    }.get(code, code)


# Related tables: family, history, rewards and discipline --------------------------------------

RELATED = {
    "family": (FamilyMember, ["relation", "name", "birth_date", "political_status", "work_unit"]),
    "history": (HistoryEntry, ["kind", "started_on", "ended_on", "place", "role"]),
    "rewards": (RewardDiscipline, ["kind", "decided_on", "title", "issuer", "reference", "note"]),
}


@transaction.atomic
def save_related(*, actor, member: Member, kind: str, data: dict, instance=None):
    """Add or change a row of the family, history or rewards table of a member."""
    _require(actor, "member.change", member.organization)
    model, fields = RELATED[kind]
    if instance is not None and instance.member_id != member.pk:
        raise NotFound(_("Not found."))
    before = audit.snapshot(instance, fields) if instance else None
    row = instance or model(member=member)
    bad = [
        f
        for f in fields
        if isinstance(data.get(f), str)
        and has_control_characters(data[f], lines=f in text.MULTILINE_FIELDS)
    ]
    if bad:
        raise RecordInvalid(
            {f: [_("This value contains characters that are not allowed.")] for f in bad}
        )
    for field in fields:
        if field in data:
            setattr(row, field, data[field])
    start = getattr(row, "started_on", None)
    end = getattr(row, "ended_on", None)
    if start and end and end < start:
        raise ValidationFailed(_("The end lies before the start."), field="ended_on")
    try:
        row.full_clean(exclude=["member"])
    except DjangoValidationError as exc:
        errors = {field: [str(m) for m in messages] for field, messages in exc.message_dict.items()}
        raise RecordInvalid(errors) from None
    row.save()
    after = audit.snapshot(row, fields)
    b, a = audit.diff(before, after)
    audit.record(
        actor,
        f"member.{kind}_{'update' if instance else 'add'}",
        row,
        before=b,
        after={**(a or {}), "member": member.pk},
        org_path=member.org_path,
        subject=subject_of(member),
        label=f"{member.name}: {getattr(row, 'name', '') or getattr(row, 'title', '') or ''}",
    )
    return row


@transaction.atomic
def delete_related(*, actor, member: Member, row) -> None:
    _require(actor, "member.change", member.organization)
    if row.member_id != member.pk:
        raise NotFound(_("Not found."))
    fields = next(f for m, f in RELATED.values() if isinstance(row, m))
    before = {**audit.snapshot(row, fields), "member": member.pk}
    audit.record(
        actor,
        f"member.{row._meta.model_name}_delete",
        row,
        before=before,
        org_path=member.org_path,
        subject=subject_of(member),
        label=member.name,
    )
    row.delete()


def _sniff(head: bytes) -> str | None:
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return None


@transaction.atomic
def add_document(*, actor, member: Member, title: str, upload) -> MemberDocument:
    """Attach a scan or PDF. The type is read from the file's first bytes, not its name."""
    _require(actor, "member.change", member.organization)
    title = (title or "").strip()[:128] or getattr(upload, "name", "")[:128]
    if not title:
        raise ValidationFailed(_("Enter a title."), field="title")
    if upload is None or upload.size == 0:
        raise ValidationFailed(_("Choose a file."), field="file")
    if upload.size > MAX_DOCUMENT_BYTES:
        raise ValidationFailed(_("A document may have at most 20 MB."), field="file")
    head = upload.read(16)
    upload.seek(0)
    content_type = _sniff(head)
    if content_type is None:
        raise ValidationFailed(_("Attach a PDF, JPEG or PNG file."), field="file")
    doc = MemberDocument(
        member=member,
        title=title,
        content_type=content_type,
        size=upload.size,
        uploaded_by=_user(actor),
    )
    doc.file.save(f"member-{member.pk}{DOCUMENT_TYPES[content_type]}", upload, save=False)
    doc.save()
    audit.record(
        actor,
        "member.document_add",
        doc,
        after={
            "title": title,
            "content_type": content_type,
            "size": upload.size,
            "member": member.pk,
        },
        org_path=member.org_path,
        subject=subject_of(member),
        label=f"{member.name}: {title}",
    )
    return doc


@transaction.atomic
def delete_document(*, actor, member: Member, document: MemberDocument) -> None:
    _require(actor, "member.change", member.organization)
    if document.member_id != member.pk:
        raise NotFound(_("Not found."))
    audit.record(
        actor,
        "member.document_delete",
        document,
        before={"title": document.title, "size": document.size, "member": member.pk},
        org_path=member.org_path,
        subject=subject_of(member),
        label=f"{member.name}: {document.title}",
    )
    document.file.delete(save=False)
    document.delete()


@transaction.atomic
def set_photo(*, actor, member: Member, upload) -> Member:
    from PIL import Image, UnidentifiedImageError

    _require(actor, "member.change", member.organization)
    if upload is None or upload.size > 5 * 1024 * 1024:
        raise ValidationFailed(_("A photo may have at most 5 MB."), field="photo")
    try:
        image = Image.open(upload)
        image.verify()
        upload.seek(0)
        image = Image.open(upload).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError):
        raise ValidationFailed(_("The file is not a picture."), field="photo") from None
    import io

    image.thumbnail((600, 800))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)  # re-encoded: no metadata (location) kept
    from django.core.files.base import ContentFile

    if member.photo:
        member.photo.delete(save=False)
    member.photo.save(f"member-{member.pk}.jpg", ContentFile(buffer.getvalue()), save=False)
    member.save(update_fields=["photo", "updated_at"])
    audit.record(
        actor, "member.photo", member, org_path=member.org_path, subject=subject_of(member)
    )
    return member


# Personal data ---------------------------------------------------------------------------------


def reveal(*, actor, member: Member) -> dict:
    """The full ID and phone numbers, for a user whose role grants them; the view is audited."""
    if not selectors.can(actor, "member.view_sensitive", member.organization):
        raise Forbidden(_("Your role does not show full ID and phone numbers."))
    with transaction.atomic():
        audit.record(
            actor, "member.reveal", member, org_path=member.org_path, subject=subject_of(member)
        )
    return {"id_number": member_id_number(member), "phone": member_phone(member)}


def rotate_data_key(new_key: str, *, progress=None, batch_size: int = 2000) -> int:
    """Re-encrypt every ID and phone number (members and accounts) under `new_key`.

    Runs in one transaction: either every value is sealed under the new key or none is. The
    caller stores the new key (settings.DATA_KEY file) after this returns.
    """
    old_key = settings.DATA_KEY
    total = 0
    with transaction.atomic():
        rows = Member.objects.values_list("pk", "id_number_encrypted", "phone_encrypted")
        count = Member.objects.count()
        batch = []
        for pk, id_enc, phone_enc in rows.iterator(chunk_size=batch_size):
            id_plain = crypto.decrypt(id_enc)
            phone_plain = crypto.decrypt(phone_enc) if phone_enc else ""
            with settings_key(new_key):
                batch.append(
                    Member(
                        pk=pk,
                        id_number_encrypted=crypto.encrypt(id_plain),
                        id_number_hash=crypto.keyed_hash(id_plain),
                        phone_encrypted=crypto.encrypt(phone_plain) if phone_plain else "",
                        phone_hash=crypto.keyed_hash(phone_plain) if phone_plain else "",
                    )
                )
            if len(batch) >= batch_size:
                total += _flush(batch)
                batch = []
                if progress:
                    progress(total, count)
        total += _flush(batch)
        users = []
        for user in User.objects.exclude(mobile_encrypted="").only("pk", "mobile_encrypted"):
            plain = crypto.decrypt(user.mobile_encrypted)
            with settings_key(new_key):
                user.mobile_encrypted = crypto.encrypt(plain)
                user.mobile_hash = crypto.keyed_hash(plain)
            users.append(user)
        User.objects.bulk_update(users, ["mobile_encrypted", "mobile_hash"], batch_size=batch_size)
        others = sum(
            _rotate_sealed(label, pairs, new_key, batch_size) for label, pairs in crypto.SEALED
        )
        with settings_key(new_key):
            audit.record(
                None,
                "data_key.rotate",
                User(pk=0, username="system"),
                after={"members": total, "accounts": len(users), "other_rows": others},
                label="data key",
            )
        if progress:
            progress(total, count)
    assert settings.DATA_KEY == old_key
    return total


def _rotate_sealed(label: str, pairs, new_key: str, batch_size: int) -> int:
    """Re-encrypt the sealed columns of another app's model (crypto.SEALED)."""
    from django.apps import apps

    model = apps.get_model(label)
    fields = [f for pair in pairs for f in pair if f]
    encrypted = [enc for enc, _hash in pairs]
    nonempty = Q()
    for enc in encrypted:
        nonempty |= ~Q(**{enc: ""})
    rows, count = [], 0
    for obj in (
        model.objects.filter(nonempty).only("pk", *encrypted).iterator(chunk_size=batch_size)
    ):
        for enc, hashed in pairs:
            token = getattr(obj, enc)
            if not token:
                continue
            plain = crypto.decrypt(token)
            with settings_key(new_key):
                setattr(obj, enc, crypto.encrypt(plain))
                if hashed:
                    setattr(obj, hashed, crypto.keyed_hash(plain))
        rows.append(obj)
        if len(rows) >= batch_size:
            model.objects.bulk_update(rows, fields)
            count, rows = count + len(rows), []
    if rows:
        model.objects.bulk_update(rows, fields)
        count += len(rows)
    return count


def _flush(batch: list[Member]) -> int:
    fields = ["id_number_encrypted", "id_number_hash", "phone_encrypted", "phone_hash"]
    if batch:
        Member.objects.bulk_update(batch, fields, batch_size=len(batch))
    return len(batch)


class settings_key:
    """Use another DATA_KEY inside a `with` block (key rotation)."""

    def __init__(self, key: str):
        self.key = key

    def __enter__(self):
        self.old = settings.DATA_KEY
        settings.DATA_KEY = self.key

    def __exit__(self, *exc):
        settings.DATA_KEY = self.old
