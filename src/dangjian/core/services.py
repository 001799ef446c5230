"""Every change to core data: organisations, roles, accounts and API tokens.

Each service checks permission, writes in one transaction and records an audit event. Pages, the
API, the command line and background tasks all call these functions.
"""

import datetime
import hashlib
import re
import secrets

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat, Substr
from django.utils import timezone
from django.utils.translation import gettext as _

from . import audit, permissions, selectors
from .errors import Conflict, Forbidden, NotFound, ValidationFailed
from .models import (
    ALLOWED_PARENT_KINDS,
    ApiToken,
    AuditEvent,
    Organization,
    OrgKind,
    OrgStatus,
    RoleAssignment,
    UnitType,
    User,
)
from .text import MOBILE

ORG_FIELDS = [
    "code",
    "name",
    "short_name",
    "kind",
    "unit_type",
    "established_on",
    "contact_person",
    "contact_phone",
    "status",
    "dissolved_on",
    "display_order",
    "path",
]
EDITABLE_ORG_FIELDS = {
    "code",
    "name",
    "short_name",
    "kind",
    "unit_type",
    "established_on",
    "contact_person",
    "contact_phone",
    "display_order",
}
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
DISPLAY_ORDER_MAX = 2**31 - 1  # the column is a 32-bit integer


def _require(actor, action: str, org: Organization | None) -> None:
    """NotFound when the org is invisible to the actor, Forbidden when visible but not allowed."""
    if org is None:
        if selectors.scope_for(actor, action) != [""]:
            raise Forbidden(_("Only a system administrator may create a top-level organisation."))
        return
    if selectors.can(actor, action, org):
        return
    if selectors.can(actor, "org.view", org):
        raise Forbidden(_("You may not do this at “%(org)s”.") % {"org": org.name})
    raise NotFound(_("Organisation not found."))


def _clean_org_values(values: dict) -> dict:
    clean = {}
    for key, value in values.items():
        if key not in EDITABLE_ORG_FIELDS:
            raise ValidationFailed(_("Unknown field."), field=key)
        if isinstance(value, str):
            value = value.strip()
        clean[key] = value
    if "code" in clean:
        if not _CODE.match(clean["code"] or ""):
            raise ValidationFailed(
                _("The code must be 1 to 32 letters, digits, dots, dashes or underscores."),
                field="code",
            )
    if "name" in clean and not clean["name"]:
        raise ValidationFailed(_("The full name is required."), field="name")
    if "name" in clean and len(clean["name"]) > 128:
        raise ValidationFailed(_("The full name is at most 128 characters."), field="name")
    if "short_name" in clean and len(clean["short_name"] or "") > 64:
        raise ValidationFailed(_("The short name is at most 64 characters."), field="short_name")
    if "kind" in clean and clean["kind"] not in OrgKind.values:
        raise ValidationFailed(_("Unknown kind of organisation."), field="kind")
    if "unit_type" in clean and clean["unit_type"] not in UnitType.values:
        raise ValidationFailed(_("Unknown unit type."), field="unit_type")
    established = clean.get("established_on")
    if established is not None:
        if not isinstance(established, datetime.date):
            raise ValidationFailed(_("Enter a valid date."), field="established_on")
        if established > timezone.localdate():
            raise ValidationFailed(
                _("The date of establishment cannot be in the future."), field="established_on"
            )
    if "display_order" in clean:
        try:
            clean["display_order"] = int(clean["display_order"] or 0)
        except (TypeError, ValueError, OverflowError):
            raise ValidationFailed(_("Enter a whole number."), field="display_order") from None
        if not -DISPLAY_ORDER_MAX <= clean["display_order"] <= DISPLAY_ORDER_MAX:
            raise ValidationFailed(
                _("Enter a number between %(low)d and %(high)d.")
                % {"low": -DISPLAY_ORDER_MAX, "high": DISPLAY_ORDER_MAX},
                field="display_order",
            )
    for key in ("contact_person", "contact_phone"):
        if key in clean:
            clean[key] = clean[key] or ""
            if len(clean[key]) > (64 if key == "contact_person" else 32):
                raise ValidationFailed(_("This value is too long."), field=key)
    return clean


def _check_code_free(code: str, exclude_pk=None) -> None:
    qs = Organization.objects.filter(code__iexact=code)
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    if qs.exists():
        raise Conflict(
            _("The code “%(code)s” is already used by another organisation.") % {"code": code},
            code="duplicate_code",
            field="code",
        )


def _check_placement(kind: str, parent: Organization | None) -> None:
    parent_kind = parent.kind if parent else None
    if parent_kind not in ALLOWED_PARENT_KINDS[kind]:
        kind_label = OrgKind(kind).label
        if parent is None:
            message = _("A %(kind)s cannot stand at the top of the tree.") % {"kind": kind_label}
        else:
            message = _("A %(kind)s cannot stand under a %(parent)s.") % {
                "kind": kind_label,
                "parent": OrgKind(parent.kind).label,
            }
        raise ValidationFailed(message, code="kind_not_allowed", field="kind")
    if parent is not None and not parent.is_active:
        raise ValidationFailed(
            _("“%(org)s” is dissolved.") % {"org": parent.name}, code="parent_dissolved"
        )


def _free_child_path(parent: Organization | None) -> str:
    """The path of a new last child of `parent` (or of a new root).

    Treebeard would give the step after the current last child, which may be a path that an
    organisation held before it moved away. Its audit events keep that path (the log is
    append-only), so they would fall into the newcomer's subtree and scope: skip such paths."""
    level = Organization.objects.filter(depth=parent.depth + 1 if parent else 1)
    if parent is not None:
        level = level.filter(path__startswith=parent.path)
    last = level.order_by("-path").only("path").first()
    if last is not None:
        path = last._inc_path()
    elif parent is not None:
        path = Organization._get_path(parent.path, parent.depth + 1, 1)
    else:
        path = Organization._get_path(None, 1, 1)
    while AuditEvent.objects.filter(selectors.subtree_range("org_path", path)).exists():
        path = Organization(path=path)._inc_path()
    return path


def _parent_id(org: Organization) -> int | None:
    if org.depth <= 1:
        return None
    return Organization.objects.filter(path=org.parent_path).values_list("pk", flat=True).first()


def _lock(org: Organization) -> Organization:
    """Re-read the organisation under a row lock so concurrent tree edits queue up."""
    return Organization.objects.select_for_update().get(pk=org.pk)


@transaction.atomic
def create_organization(*, actor, parent: Organization | None, **values) -> Organization:
    _require(actor, "org.create", parent)
    for required in ("code", "name", "kind"):
        if not values.get(required):
            raise ValidationFailed(_("This field is required."), field=required)
    clean = _clean_org_values(values)
    if parent is not None:
        parent = _lock(parent)
    _check_placement(clean["kind"], parent)
    _check_code_free(clean["code"])
    try:
        with transaction.atomic():
            org = Organization(
                **clean, path=_free_child_path(parent), depth=parent.depth + 1 if parent else 1
            )
            org.save()
            if parent is not None:
                Organization.objects.filter(pk=parent.pk).update(numchild=F("numchild") + 1)
    except IntegrityError:
        # Lost a race for the same code.
        raise Conflict(
            _("The code “%(code)s” is already used by another organisation.")
            % {"code": clean["code"]},
            code="duplicate_code",
            field="code",
        ) from None
    audit.record(actor, "org.create", org, after=audit.snapshot(org, ORG_FIELDS), org_path=org.path)
    return org


@transaction.atomic
def update_organization(*, actor, org: Organization, **values) -> Organization:
    _require(actor, "org.change", org)
    clean = _clean_org_values(values)
    org = _lock(org)
    before = audit.snapshot(org, ORG_FIELDS)
    if "code" in clean and clean["code"].lower() != org.code.lower():
        _check_code_free(clean["code"], exclude_pk=org.pk)
    if "kind" in clean and clean["kind"] != org.kind:
        parent = (
            Organization.objects.filter(path=org.parent_path).first() if org.depth > 1 else None
        )
        _check_placement(clean["kind"], parent)
        child_kinds = set(
            Organization.objects.filter(path__startswith=org.path, depth=org.depth + 1)
            .values_list("kind", flat=True)
            .distinct()
        )
        for child_kind in child_kinds:
            if clean["kind"] not in ALLOWED_PARENT_KINDS[child_kind]:
                raise ValidationFailed(
                    _("Its children could not stay under a %(kind)s.")
                    % {"kind": OrgKind(clean["kind"]).label},
                    code="kind_not_allowed",
                    field="kind",
                )
    for key, value in clean.items():
        setattr(org, key, value)
    org.save()
    old, new = audit.diff(before, audit.snapshot(org, ORG_FIELDS))
    if new:
        audit.record(actor, "org.update", org, before=old, after=new, org_path=org.path)
    return org


@transaction.atomic
def move_organization(*, actor, org: Organization, new_parent: Organization) -> Organization:
    """Move an organisation (with its subtree) under another one."""
    _require(actor, "org.move", org)
    _require(actor, "org.move", new_parent)
    org = _lock(org)
    new_parent = _lock(new_parent)
    if new_parent.path.startswith(org.path):
        raise ValidationFailed(
            _("An organisation cannot be moved under itself or one of its own sub-organisations."),
            code="move_into_own_subtree",
            field="parent",
        )
    if org.parent_path == new_parent.path:
        raise ValidationFailed(
            _("It already stands there."), code="move_same_parent", field="parent"
        )
    _check_placement(org.kind, new_parent)
    before = audit.snapshot(org, ORG_FIELDS) | {"parent": _parent_id(org)}
    old_path, old_parent_path = org.path, org.parent_path
    new_path = _free_child_path(new_parent)
    # The two prefixes are disjoint (the new parent is outside the subtree), so rewriting the
    # subtree in one UPDATE never collides on the unique path.
    Organization.objects.filter(path__startswith=old_path).update(
        path=Concat(Value(new_path), Substr(F("path"), len(old_path) + 1)),
        depth=F("depth") + (new_parent.depth + 1 - org.depth),
    )
    if old_parent_path:
        Organization.objects.filter(path=old_parent_path).update(numchild=F("numchild") - 1)
    Organization.objects.filter(pk=new_parent.pk).update(numchild=F("numchild") + 1)
    org.refresh_from_db()
    _repath_members(old_path, org.path)
    after = audit.snapshot(org, ORG_FIELDS) | {"parent": new_parent.pk}
    audit.record(actor, "org.move", org, before=before, after=after, org_path=org.path)
    return org


# Tables that keep a copy of an organisation's path for subtree scans, as (model label, field).
# Apps add theirs in AppConfig.ready(); moving an organisation rewrites every one of them.
PATH_COPIES: list[tuple[str, str]] = [("members.Member", "org_path")]


def _repath_members(old_path: str, new_path: str) -> None:
    from django.apps import apps

    for label, field in PATH_COPIES:
        apps.get_model(label).objects.filter(selectors.subtree_range(field, old_path)).update(
            **{field: Concat(Value(new_path), Substr(F(field), len(old_path) + 1))}
        )


@transaction.atomic
def dissolve_organization(
    *,
    actor,
    org: Organization,
    on: datetime.date | None = None,
    move_members_to: Organization | None = None,
) -> Organization:
    """Dissolve an empty organisation, or move its members elsewhere in the same transaction.

    Refused while a transfer from or to its subtree is under way (it would name an organisation
    that no longer exists) or while mobile members of elsewhere take part in its life (they
    would be left at a dissolved organisation): decide those first, or restructure, which moves
    the guests. Its current term and offices end on the day."""
    from dangjian.members.models import Member

    _require(actor, "org.dissolve", org)
    org = _lock(org)
    on = on or timezone.localdate()
    if not org.is_active:
        raise ValidationFailed(_("It is already dissolved."), code="already_dissolved")
    if on > timezone.localdate():
        raise ValidationFailed(_("The date of dissolution cannot be in the future."), field="on")
    active_children = Organization.objects.filter(
        path__startswith=org.path, depth__gt=org.depth, status=OrgStatus.ACTIVE
    ).count()
    if active_children:
        raise ValidationFailed(
            _("It still has %(n)d active sub-organisations: dissolve or move them first.")
            % {"n": active_children},
            code="has_children",
        )
    _check_no_movement(org)
    members = Member.objects.filter(selectors.subtree_range("org_path", org.path), status="active")
    count = members.count()
    if count and move_members_to is None:
        raise ValidationFailed(
            _("It still has %(n)d members: choose where they move to.") % {"n": count},
            code="has_members",
            field="move_members_to",
        )
    if move_members_to is not None:
        _require(actor, "org.dissolve", move_members_to)
        target = _lock(move_members_to)
        if not target.is_active or target.path.startswith(org.path):
            raise ValidationFailed(
                _("Members can only move to another active organisation."),
                code="bad_target",
                field="move_members_to",
            )
        moved = list(members.select_for_update())
        items = []
        for member in moved:
            items.append(
                (
                    member,
                    {"organization": member.organization_id},
                    {"organization": target.pk},
                    target.path,
                )
            )
        members.update(organization=target, org_path=target.path)
        _record_transfers(actor, [m.pk for m in moved], target, on)
        audit.record_many(actor, "member.move", items)
        _move_stays_home(actor, [m.pk for m in moved], target, on)
    _end_offices_of(actor, org, on)
    _end_term_of(actor, org, on)
    before = audit.snapshot(org, ORG_FIELDS)
    org.status = OrgStatus.DISSOLVED
    org.dissolved_on = on
    org.save(update_fields=["status", "dissolved_on", "updated_at"])
    old, new = audit.diff(before, audit.snapshot(org, ORG_FIELDS))
    audit.record(actor, "org.dissolve", org, before=old, after=new, org_path=org.path)
    return org


def _check_no_movement(org: Organization) -> None:
    """Transfers under way from or to the subtree, and mobile members of elsewhere hosted in
    it, keep an organisation from being dissolved."""
    from dangjian.transfers.models import MobileState, MobileStay, State, Transfer

    pending = (
        Transfer.objects.filter(state=State.PENDING)
        .filter(
            selectors.subtree_range("from_org__path", org.path)
            | selectors.subtree_range("to_org__path", org.path)
        )
        .count()
    )
    if pending:
        raise ValidationFailed(
            _(
                "%(n)d transfers from or to it are under way: accept, return or cancel them "
                "first (Transfers)."
            )
            % {"n": pending},
            code="transfers_pending",
        )
    guests = MobileStay.objects.filter(
        selectors.subtree_range("host_org__path", org.path), state=MobileState.ACTIVE
    ).count()
    if guests:
        raise ValidationFailed(
            _(
                "%(n)d mobile members of elsewhere take part in its life: end their stays first "
                "(Mobile members), or merge it into another organisation, which takes them."
            )
            % {"n": guests},
            code="guests_present",
        )


def _move_stays_home(actor, member_ids: list[int], target: Organization, on) -> None:
    """Members away as mobile members belong, while away, to the organisation they moved to
    (or are back, when it is where they stay)."""
    from dangjian.transfers.services import rehome_stays

    rehome_stays(actor, member_ids, target, on)


def _end_term_of(actor, org: Organization, on) -> None:
    """The current term of office of a dissolved organisation ends with it."""
    from dangjian.committees.models import Term

    term = Term.objects.select_for_update().filter(organization=org, ended_on__isnull=True).first()
    if term is None:
        return
    term.ended_on = max(on, term.elected_on)
    term.save(update_fields=["ended_on"])
    audit.record(
        actor,
        "term.end",
        term,
        before={"ended_on": None},
        after={"ended_on": term.ended_on.isoformat()},
        org_path=org.path,
    )


def _end_offices_of(actor, org: Organization, on) -> None:
    """A dissolved organisation has no office-holders any more (their history stays)."""
    from dangjian.committees.models import OfficeHolder

    holders = list(OfficeHolder.objects.filter(organization=org, ended_on__isnull=True))
    if not holders:
        return
    reason = _("organisation dissolved")
    for holder in holders:
        holder.ended_on = max(on, holder.started_on)
        holder.end_reason = reason
    OfficeHolder.objects.bulk_update(holders, ["ended_on", "end_reason"])
    audit.record_many(
        actor,
        "office.end",
        [
            (
                h,
                {"ended_on": None},
                {"ended_on": h.ended_on.isoformat(), "end_reason": reason},
                org.path,
            )
            for h in holders
        ],
    )


def _record_transfers(actor, member_ids: list[int], target: Organization, on) -> None:
    """The timeline of each moved member gets a transfer to the new organisation."""
    from dangjian.members.models import StandingEvent

    creator = actor if isinstance(actor, User) and actor.pk else None
    StandingEvent.objects.bulk_create(
        [
            StandingEvent(
                member_id=pk,
                kind="transferred",
                occurred_on=on,
                organization=target,
                detail=_("organisation dissolved"),
                created_by=creator,
            )
            for pk in member_ids
        ],
        batch_size=1000,
    )
    from dangjian.members.signals import timelines_changed

    timelines_changed.send(sender=StandingEvent, member_ids=list(member_ids), since=on)


# Roles ---------------------------------------------------------------------------------------


def _may_grant(actor, org: Organization, role: str) -> bool:
    """Rank alone is not enough: a lower-ranked role may still carry an action the actor lacks
    (an auditor may export the audit log, a secretary may not), and granting it to oneself
    would be a way round."""
    outranked = permissions.rank_of(role) > selectors.max_rank_at(actor, org)
    return not outranked and permissions.actions_of(role) <= selectors.actions_at(actor, org)


@transaction.atomic
def assign_role(*, actor, user: User, org: Organization, role: str) -> RoleAssignment:
    _require(actor, "role.assign", org)
    if role not in permissions.ROLES:
        raise ValidationFailed(_("Unknown role."), field="role")
    if not _may_grant(actor, org, role):
        raise Forbidden(_("You may not grant a role above your own."), field="role")
    if not org.is_active:
        raise ValidationFailed(_("“%(org)s” is dissolved.") % {"org": org.name})
    assignment, created = RoleAssignment.objects.get_or_create(
        user=user, organization=org, role=role, defaults={"granted_by": actor}
    )
    if not created:
        raise Conflict(_("This person already holds that role here."), code="duplicate_role")
    audit.record(
        actor,
        "role.assign",
        assignment,
        after={"user": user.username, "organization": org.code, "role": role},
        org_path=org.path,
    )
    selectors.forget_roles(user)
    return assignment


@transaction.atomic
def revoke_role(*, actor, assignment: RoleAssignment) -> None:
    org = assignment.organization
    _require(actor, "role.assign", org)
    if not _may_grant(actor, org, assignment.role):
        raise Forbidden(_("You may not revoke a role above your own."))
    before = {
        "user": assignment.user.username,
        "organization": org.code,
        "role": assignment.role,
    }
    audit.record(actor, "role.revoke", assignment, before=before, org_path=org.path)
    assignment.delete()
    selectors.forget_roles(assignment.user)


# Accounts ------------------------------------------------------------------------------------


@transaction.atomic
def create_user(
    *,
    actor,
    username: str,
    password: str,
    display_name: str = "",
    mobile: str = "",
    is_superuser: bool = False,
    validate: bool = True,
) -> User:
    username = (username or "").strip()
    if not username:
        raise ValidationFailed(_("This field is required."), field="username")
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict(_("This user name is taken."), code="duplicate_username", field="username")
    user = User(username=username, display_name=display_name.strip())
    if mobile:
        mobile = normalise_mobile(mobile)
        user.set_mobile(mobile)
        if User.objects.filter(mobile_hash=user.mobile_hash).exists():
            raise Conflict(
                _("This mobile number belongs to another account."),
                code="duplicate_mobile",
                field="mobile",
            )
    if validate:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ValidationFailed(" ".join(exc.messages), field="password") from None
    user.set_password(password)
    user.is_superuser = is_superuser
    user.is_staff = is_superuser
    user.save()
    audit.record(
        actor,
        "user.create",
        user,
        after={"username": username, "display_name": user.display_name, "superuser": is_superuser},
    )
    return user


def normalise_mobile(text: str) -> str:
    digits = re.sub(r"[\s-]", "", text or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    if not MOBILE.match(digits):
        raise ValidationFailed(_("Enter a mainland mobile number of 11 digits."), field="mobile")
    return digits


@transaction.atomic
def record_password_change(*, user: User) -> None:
    """Called after Django's password form saved the new password."""
    audit.record(user, "user.password_change", user)


# API tokens ----------------------------------------------------------------------------------

TOKEN_PREFIX = "djt_"


def token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def create_api_token(*, actor: User, name: str, days: int) -> tuple[ApiToken, str]:
    """Returns the token row and the secret, which is shown once and never stored."""
    name = (name or "").strip()
    if not name:
        raise ValidationFailed(_("Give the token a name."), field="name")
    if len(name) > 64:
        raise ValidationFailed(_("This value is too long."), field="name")
    try:
        days = int(days)
    except (TypeError, ValueError):
        raise ValidationFailed(_("Enter a whole number."), field="days") from None
    if not 1 <= days <= settings.API_TOKEN_MAX_DAYS:
        raise ValidationFailed(
            _("The validity must be 1 to %(max)d days.") % {"max": settings.API_TOKEN_MAX_DAYS},
            field="days",
        )
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=actor,
        name=name,
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        digest=token_digest(secret),
        expires_at=timezone.now() + datetime.timedelta(days=days),
    )
    audit.record(
        actor,
        "token.create",
        token,
        after={"name": name, "expires_at": token.expires_at.isoformat()},
    )
    return token, secret


@transaction.atomic
def revoke_api_token(*, actor: User, token: ApiToken) -> None:
    if token.user_id != actor.pk:
        raise NotFound(_("Token not found."))
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(
            actor, "token.revoke", token, after={"revoked_at": token.revoked_at.isoformat()}
        )


def authenticate_token(secret: str) -> User | None:
    if not secret or not secret.startswith(TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=token_digest(secret), revoked_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    # Touch at most once a minute: no write per request under load.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


# Notifications -------------------------------------------------------------------------------


def mark_notifications_read(*, user: User, pk=None):
    """Mark one of the user's notifications (or all, without pk) as read. Personal inbox state,
    so not audited. Returns the notification, None when it is not the user's."""
    from .models import Notification

    mine = Notification.objects.filter(user=user)
    now = timezone.now()
    if pk is None:
        mine.filter(read_at__isnull=True).update(read_at=now)
        return None
    note = mine.filter(pk=pk).first()
    if note is not None and note.read_at is None:
        mine.filter(pk=note.pk, read_at__isnull=True).update(read_at=now)
        note.read_at = now
    return note


# Working-day calendar ------------------------------------------------------------------------

CALENDAR_FIELDS = ["date", "kind", "name", "note"]
CALENDAR_YEARS = (1990, 2100)  # a year outside is a typing mistake (0026, 20260)


def _require_calendar(actor) -> None:
    from . import workdays

    if not workdays.can_manage(actor):
        raise Forbidden(_("Only administrators of the whole platform may change the calendar."))


def _clean_calendar_date(day, field: str = "day") -> datetime.date:
    if isinstance(day, str):
        try:
            day = datetime.date.fromisoformat(day.strip())
        except ValueError:
            day = None
    # A datetime is a date too, but a calendar day is not a moment.
    if not isinstance(day, datetime.date) or isinstance(day, datetime.datetime):
        raise ValidationFailed(_("Enter a valid date."), code="invalid_date", field=field)
    low, high = CALENDAR_YEARS
    if not low <= day.year <= high:
        raise ValidationFailed(
            _("Enter a date between %(low)d and %(high)d.") % {"low": low, "high": high},
            code="invalid_date",
            field=field,
        )
    return day


@transaction.atomic
def set_calendar_day(*, actor, day, kind: str, name: str = "", note: str = ""):
    """Marks a day as a holiday or a make-up working day (adds it, or changes its entry). No
    cache to clear: the cached calendar is keyed by a version read from the table."""
    from . import text
    from .models import CalendarDay, CalendarDayKind

    _require_calendar(actor)
    day = _clean_calendar_date(day)
    if kind not in CalendarDayKind.values:
        raise ValidationFailed(_("Choose holiday or make-up working day."), field="kind")
    if kind == CalendarDayKind.WORKDAY and day.weekday() < 5:
        raise ValidationFailed(
            _("A make-up working day is a Saturday or a Sunday: weekdays are worked anyway."),
            code="workday_on_weekday",
            field="kind",
        )
    name = text.clean_text(name, "name", 32, label=_("name"))
    note = text.clean_text(note, "note", 200, label=_("note"))
    entry = CalendarDay.objects.select_for_update().filter(date=day).first()
    if entry is None:
        try:
            with transaction.atomic():
                entry = CalendarDay.objects.create(date=day, kind=kind, name=name, note=note)
        except IntegrityError:
            raise Conflict(
                _("Someone else just entered this day: reload and try again."),
                code="duplicate_day",
                field="day",
            ) from None
        audit.record(actor, "calendar.set", entry, after=audit.snapshot(entry, CALENDAR_FIELDS))
        return entry
    before = audit.snapshot(entry, CALENDAR_FIELDS)
    entry.kind, entry.name, entry.note = kind, name, note
    old, new = audit.diff(before, audit.snapshot(entry, CALENDAR_FIELDS))
    if new:
        entry.save()
        audit.record(actor, "calendar.set", entry, before=old, after=new)
    return entry


@transaction.atomic
def remove_calendar_day(*, actor, day) -> None:
    """Takes a day out of the calendar: it becomes an ordinary weekday or weekend day again."""
    from .models import CalendarDay

    _require_calendar(actor)
    day = _clean_calendar_date(day)
    entry = CalendarDay.objects.select_for_update().filter(date=day).first()
    if entry is None:
        raise NotFound(_("This day is not in the calendar."), field="day")
    audit.record(actor, "calendar.remove", entry, before=audit.snapshot(entry, CALENDAR_FIELDS))
    entry.delete()
