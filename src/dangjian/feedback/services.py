"""Every change to requests from the public: submitting, following up and rating (the public),
and handling them (staff). Each checks its input and permission, writes in one transaction,
records an audit event and tells people on commit.

Public functions take the request found by `find_for_public` (tracking number and check code);
staff functions take the acting user and check `feedback.handle` where the request lies.
"""

import datetime
import re

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from dangjian.core import audit, crypto, notify, ratelimit, selectors, workdays
from dangjian.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from dangjian.core.models import Organization, OrgStatus, User
from dangjian.core.text import MOBILE, clean_text

from . import messages, photos, rules
from .models import (
    Category,
    DeadlinePolicy,
    Desk,
    Entry,
    EntryKind,
    Photo,
    PublicRequest,
    RoutingRule,
    Status,
)

TEXT_MAX = 2000
REPLY_MAX = 2000
NOTE_MAX = 1000
ADD_MAX = 1000

# Submissions allowed per address and per phone number, and look-ups of a tracking number.
SUBMIT_PER_IP = (5, 3600)
SUBMIT_PER_PHONE = (3, 3600)
LOOKUPS_PER_IP = (20, 600)
FAILURES_PER_NUMBER = (10, 3600)
# Additions: each tells the staff, so a code in the wrong hands must not flood them.
ADDITIONS_PER_IP = (10, 3600)
ADDITIONS_PER_REQUEST = (20, 86400)

REQUEST_FIELDS = [
    "category",
    "organization",
    "status",
    "assignee",
    "public_reply",
    "reject_reason",
    "merged_into",
    "featured",
    "rating",
    "rating_comment",
    "reopened",
    "escalated_at",
]

_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")


def _user(actor):
    return actor if getattr(actor, "pk", None) else None


def _text(value, field: str, limit: int, *, required=False, lines=False, label=None) -> str:
    return clean_text(value, field, limit, required=required, lines=lines, label=label)


def normalise_phone(text) -> str:
    """A mainland mobile (13812345678, +86 138 1234 5678) or a landline (0371-12345678);
    empty stays empty."""
    raw = re.sub(r"[\s()（）]", "", str(text or ""))
    raw = raw.translate({0xFF10 + i: ord("0") + i for i in range(10)} | {0xFF0D: ord("-")})
    if not raw:
        return ""
    if raw.startswith("+86"):
        raw = raw[3:]
    if MOBILE.match(raw.replace("-", "")):
        return raw.replace("-", "")
    if _LANDLINE.match(raw):
        return raw.replace("-", "")  # one spelling: one key for the limit per phone
    raise ValidationFailed(
        _("Enter a mobile number of 11 digits or a landline with its area code."),
        code="invalid_phone",
        field="phone",
    )


def is_mobile(phone: str) -> bool:
    return bool(MOBILE.match(phone or ""))


def _email(text) -> str:
    text = _text(text, "email", 254)
    if not text:
        return ""
    try:
        validate_email(text)
    except DjangoValidationError:
        raise ValidationFailed(
            _("Enter a valid e-mail address."), code="invalid_email", field="email"
        ) from None
    return text


def _category(value) -> str:
    if value not in Category.values:
        raise ValidationFailed(_("Choose a category."), code="invalid_category", field="category")
    return value


def _record(actor, action: str, req: PublicRequest, before=None, after=None) -> None:
    snap = audit.snapshot(req, REQUEST_FIELDS)
    before, after = audit.diff(before, after if after is not None else snap)
    audit.record(
        actor, action, req, before=before, after=after, org_path=req.org_path, label=req.number
    )


def _entry(req, kind, *, actor=None, text="", from_org=None, to_org=None) -> Entry:
    return Entry.objects.create(
        request=req, kind=kind, text=text, author=_user(actor), from_org=from_org, to_org=to_org
    )


# Deadlines ---------------------------------------------------------------------------------------


def deadline_overrides() -> dict[str, tuple[int, int]]:
    return {p.category: (p.ack_days, p.answer_days) for p in DeadlinePolicy.objects.all()}


def deadlines(category: str, submitted_at: datetime.datetime):
    """(acknowledge by, answer by, rule) in working days from the day of submission: the end of
    the n-th working day after it (DOMAIN's working-day calendar)."""
    day = timezone.localtime(submitted_at).date()
    ack, answer, rule = rules.deadline_days(category, day, deadline_overrides())
    return workdays.deadline(submitted_at, ack), workdays.deadline(submitted_at, answer), rule


# Routing -----------------------------------------------------------------------------------------


def route_rules() -> list[rules.RouteRule]:
    return [
        rules.RouteRule(
            id=r.pk,
            org_id=r.organization_id,
            org_path=r.organization.path,
            keywords=rules.parse_keywords(r.keywords),
            category=r.category,
            weight=r.weight,
        )
        for r in RoutingRule.objects.filter(
            active=True, organization__status=OrgStatus.ACTIVE
        ).select_related("organization")
    ]


def words_of(text: str, keywords: set[str] = frozenset()) -> list[str]:
    """The words of a Chinese text (jieba), the administrators' keywords known to the
    segmenter, so "路灯坏了" yields 路灯 when 路灯 is a keyword.

    The segmenter still cuts a known word apart by its context ("路灯不亮" gives 路 / 灯不亮), so a
    keyword of two or more characters found in the text counts as one of its words too."""
    import jieba

    jieba.setLogLevel(60)
    for word in keywords:
        if len(word) > 1 and jieba.dt.FREQ.get(word) is None:
            jieba.add_word(word)
    words = [w for w in jieba.lcut(text) if w.strip()]
    seen = set(words)
    words += sorted(k for k in keywords if len(k) > 1 and k not in seen and k in text)
    return words


def suggest(text: str, category: str, within: Organization | None = None) -> rules.Route | None:
    all_rules = route_rules()
    keywords = {k for r in all_rules for k in r.keywords}
    return rules.suggest_route(
        words_of(text.lower(), keywords), category, all_rules, within.path if within else ""
    )


# The public desk ---------------------------------------------------------------------------------


def _throttle(scope: str, key: str, limit_window: tuple[int, int]) -> None:
    if key:
        limit, window = limit_window
        ratelimit.hit(scope, key, limit=limit, window=window)


def submit(
    *,
    category,
    text,
    desk: Desk | None = None,
    organization: Organization | None = None,
    name="",
    phone="",
    email="",
    consent_contact=False,
    allow_public=False,
    photo_files=(),
    ip: str | None = None,
) -> tuple[PublicRequest, str]:
    """A request from the public desk; returns it with its check code (shown once, stored only
    sealed). Routed to the organisation chosen, else by the keyword rules within the desk's
    place, else to the desk's organisation.

    The slow parts (photos re-encoded, the text segmented, the code sealed) come before the
    transaction: SQLite lets one writer at a time, and nobody should wait for another person's
    photos."""
    category = _category(category)
    text = _text(text, "text", TEXT_MAX, required=True, lines=True)
    if len(text) < 5:
        raise ValidationFailed(
            _("Describe the matter in at least 5 characters."), code="too_short", field="text"
        )
    name = _text(name, "name", 50)
    phone = normalise_phone(phone)
    email = _email(email)
    photo_files = list(photo_files or [])
    if len(photo_files) > photos.MAX_PHOTOS:
        raise ValidationFailed(
            _("At most %(n)d photos.") % {"n": photos.MAX_PHOTOS},
            code="too_many_files",
            field="photos",
        )
    if desk is not None and not desk.active:
        desk = None
    if organization is not None and organization.status != OrgStatus.ACTIVE:
        organization = None
    if desk is None and organization is None:
        raise ValidationFailed(
            _("Choose the place or organisation the request concerns."),
            code="required",
            field="desk",
        )
    if consent_contact and not (phone or email):
        raise ValidationFailed(
            _("Leave a phone number or an e-mail address to be contacted."),
            code="contact_missing",
            field="phone",
        )
    cleaned = [photos.clean_photo(f) for f in photo_files]
    # Limits last: a form sent back for a typo does not count against the person.
    _throttle("feedback.submit.ip", ip or "", SUBMIT_PER_IP)
    _throttle("feedback.submit.phone", phone, SUBMIT_PER_PHONE)

    routed_by, route = "chosen", None
    owner = organization
    if owner is None:
        route = suggest(text, category, within=desk.organization)
        if route is not None:
            owner = Organization.objects.get(pk=route.org_id)
            routed_by = "rule"
        else:
            owner, routed_by = desk.organization, "desk"
    now = timezone.now()
    ack_due, answer_due, rule = deadlines(category, now)
    code = rules.check_code()
    req = PublicRequest(
        check_hash=rules.seal_code(code),
        category=category,
        desk=desk,
        organization=owner,
        org_path=owner.path,
        routed_by=routed_by,
        text=text,
        name_encrypted=crypto.encrypt(name) if name else "",
        phone_encrypted=crypto.encrypt(phone) if phone else "",
        phone_hash=crypto.keyed_hash(phone) if phone else "",
        email_encrypted=crypto.encrypt(email) if email else "",
        consent_contact=bool(consent_contact),
        allow_public=bool(allow_public),
        submitted_at=now,
        updated_at=now,
        ack_due_at=ack_due,
        answer_due_at=answer_due,
        deadline_rule=rule,
    )
    with transaction.atomic():
        _save_with_a_number(req, timezone.localdate(now))
        _write_submission(req, cleaned, route)
    return req, code


def _save_with_a_number(req: PublicRequest, day) -> None:
    """Insert under a fresh random number; two people drawing the same one at once both get in
    (the loser draws again)."""
    for _attempt in range(5):
        req.number = rules.tracking_number(day)
        try:
            with transaction.atomic():
                req.save(force_insert=True)
            return
        except IntegrityError:
            req.pk = None
    # A million numbers a day: five draws colliding means something else is wrong.
    raise Conflict(_("Please send the request again."), code="try_again")


def _write_submission(req: PublicRequest, cleaned, route) -> None:
    owner = req.organization
    for photo in cleaned:
        Photo.objects.create(
            request=req,
            image=photo.content,
            width=photo.width,
            height=photo.height,
            size=photo.content.size,
        )
    note = ""
    if route is not None:
        note = _("Routed by the keywords: %(words)s") % {"words": "、".join(route.matched)}
    _entry(req, EntryKind.SUBMITTED, text=note, to_org=owner)
    _record(None, "feedback.submit", req, after=audit.snapshot(req, REQUEST_FIELDS))
    messages.request_arrived(req)


def find_for_public(number, code, *, ip: str | None = None) -> PublicRequest:
    """The request with this tracking number and check code. One answer for a wrong number and
    a wrong code, so nobody learns which numbers exist. Look-ups are limited per address, and
    wrong codes per number: guessing one request's code from many addresses stops after
    FAILURES_PER_NUMBER tries (the right code too, until the window ends)."""
    _throttle("feedback.lookup.ip", ip or "", LOOKUPS_PER_IP)
    number = rules.normalise_number(number)
    code = rules.normalise_code(code)
    found = None
    if number and code and len(number) <= 20:
        found = (
            PublicRequest.objects.select_related("organization", "desk")
            .filter(number=number)
            .first()
        )
    # Wrong codes are counted per number whether or not it exists, so the limit itself does
    # not tell which numbers do.
    limit, window = FAILURES_PER_NUMBER
    key = number[:20]
    if ratelimit.peek("feedback.lookup.number", key, limit=limit) <= 0:
        ratelimit.hit("feedback.lookup.number", key, limit=limit, window=window)
    matches = rules.code_matches(code, found.check_hash if found else rules.NO_CODE)
    if found is None or not matches:
        ratelimit.hit("feedback.lookup.number", key, limit=limit, window=window)
        raise NotFound(
            _("No request matches this tracking number and check code."), code="not_found"
        )
    if found.status == Status.MERGED and found.merged_into_id:
        found.merged_into = PublicRequest.objects.select_related("organization").get(
            pk=found.merged_into_id
        )
    return found


def _lock(req: PublicRequest) -> PublicRequest:
    return (
        PublicRequest.objects.select_for_update(of=("self",))
        .select_related("organization")
        .get(pk=req.pk)
    )


def _allowed(req: PublicRequest, action: str, message=None) -> str:
    after = rules.next_status(action, req.status)
    if after is None:
        raise Conflict(
            message
            or _("This cannot be done while the request is “%(status)s”.")
            % {"status": req.get_status_display()},
            code="wrong_status",
        )
    return after


@transaction.atomic
def add_information(*, req: PublicRequest, text, photo_files=(), ip: str | None = None) -> Entry:
    """The person adds to their request (more details, photos)."""
    text = _text(text, "text", ADD_MAX, required=True, lines=True)
    photo_files = list(photo_files or [])
    if len(photo_files) > photos.MAX_PHOTOS:
        raise ValidationFailed(
            _("At most %(n)d photos.") % {"n": photos.MAX_PHOTOS},
            code="too_many_files",
            field="photos",
        )
    cleaned = [photos.clean_photo(f) for f in photo_files]  # before the lock: it takes a while
    req = _lock(req)
    _allowed(req, "add")
    _throttle("feedback.add.ip", ip or "", ADDITIONS_PER_IP)
    _throttle("feedback.add.request", str(req.pk), ADDITIONS_PER_REQUEST)
    if len(cleaned) + req.photos.count() > photos.MAX_PHOTOS * 2:
        raise ValidationFailed(
            _("At most %(n)d photos.") % {"n": photos.MAX_PHOTOS * 2},
            code="too_many_files",
            field="photos",
        )
    for photo in cleaned:
        Photo.objects.create(
            request=req,
            image=photo.content,
            width=photo.width,
            height=photo.height,
            size=photo.content.size,
        )
    entry = _entry(req, EntryKind.ADDED, text=text)
    PublicRequest.objects.filter(pk=req.pk).update(updated_at=timezone.now())
    audit.record(
        None,
        "feedback.add",
        req,
        after={"text": text, "photos": len(cleaned)},
        org_path=req.org_path,
        label=req.number,
    )
    messages.information_added(req)
    return entry


@transaction.atomic
def rate(*, req: PublicRequest, rating, comment="", reopen=False) -> PublicRequest:
    """The person rates the answer (1 to 5); an unsatisfied rating may reopen the request once."""
    try:
        rating = int(rating)
    except (TypeError, ValueError):
        rating = 0
    if rating not in rules.RATINGS:
        raise ValidationFailed(
            _("Choose from 1 to 5 stars."), code="invalid_rating", field="rating"
        )
    comment = _text(comment, "comment", 500, lines=True)
    req = _lock(req)
    before = audit.snapshot(req, REQUEST_FIELDS)
    _allowed(req, "rate", _("The request can be rated once it is answered."))
    if not rules.may_rate(req.status, req.rated_at, req.answered_at):
        raise Conflict(_("This answer has been rated already."), code="already_rated")
    now = timezone.now()
    req.rating, req.rating_comment, req.rated_at, req.updated_at = rating, comment, now, now
    stars = "★" * rating
    _entry(req, EntryKind.RATED, text=f"{stars} {comment}".strip())
    if reopen:
        if not rules.may_reopen(rating, req.reopened):
            raise ValidationFailed(
                _("Only an unsatisfied rating can reopen the request, and only once."),
                code="reopen_refused",
                field="reopen",
            )
        req.status = Status.IN_PROGRESS
        req.reopened += 1
        req.closed_at = None
        # A new answer is due: the answering time counted again from today.
        _ack, req.answer_due_at, _rule = deadlines(req.category, now)
        req.escalated_at = req.reminded_at = None
        _entry(req, EntryKind.REOPENED, text=comment)
    req.save()
    _record(None, "feedback.rate", req, before=before)
    if reopen:
        messages.request_reopened(req)
    return req


# Staff -------------------------------------------------------------------------------------------


def _require(actor, req_or_org, action: str = "feedback.handle") -> None:
    org = req_or_org.organization if isinstance(req_or_org, PublicRequest) else req_or_org
    if selectors.can(actor, action, org):
        return
    if selectors.can(actor, "feedback.view", org):
        raise Forbidden(_("You may not do this at “%(org)s”.") % {"org": org.name})
    raise NotFound(_("Not found."))


def _locked(actor, req: PublicRequest, action: str = "feedback.handle") -> PublicRequest:
    """The request locked, then the permission checked on what it is now: a colleague may have
    forwarded it elsewhere a moment ago. Before any input is looked at, so someone who may not
    act hears so whatever they send."""
    req = _lock(req)
    _require(actor, req, action)
    return req


def _staff_change(actor, req, action, *, entry_kind, text="", **changes) -> PublicRequest:
    """A step of handling on a request `_locked` by the caller."""
    before = audit.snapshot(req, REQUEST_FIELDS)
    status = _allowed(req, action)
    now = timezone.now()
    req.status = status
    for key, value in changes.items():
        setattr(req, key, value)
    if status != Status.RECEIVED and req.acknowledged_at is None:
        req.acknowledged_at = now
    req.updated_at = now
    req.save()
    _entry(req, entry_kind, actor=actor, text=text)
    _record(actor, f"feedback.{action}", req, before=before)
    return req


@transaction.atomic
def accept(*, actor, req: PublicRequest) -> PublicRequest:
    req = _staff_change(actor, _locked(actor, req), "accept", entry_kind=EntryKind.ACCEPTED)
    messages.tell_submitter(req)
    return req


@transaction.atomic
def start(*, actor, req: PublicRequest) -> PublicRequest:
    return _staff_change(actor, _locked(actor, req), "start", entry_kind=EntryKind.STARTED)


@transaction.atomic
def add_note(*, actor, req: PublicRequest, text) -> Entry:
    req = _locked(actor, req)
    text = _text(text, "text", NOTE_MAX, required=True, lines=True)
    entry = _entry(req, EntryKind.NOTE, actor=actor, text=text)
    audit.record(
        actor, "feedback.note", req, after={"text": text}, org_path=req.org_path, label=req.number
    )
    return entry


@transaction.atomic
def assign(*, actor, req: PublicRequest, user: User | None) -> PublicRequest:
    """Give the request to one person who may handle it there (None: nobody)."""
    req = _locked(actor, req)
    if user is not None and not selectors.can(user, "feedback.handle", req.organization):
        raise ValidationFailed(
            _("This person does not handle requests at “%(org)s”.")
            % {"org": req.organization.name},
            code="not_a_handler",
            field="assignee",
        )
    who = user.display_name or user.get_username() if user else _("nobody")
    req = _staff_change(
        actor, req, "assign", entry_kind=EntryKind.ASSIGNED, text=str(who), assignee=user
    )
    if user is not None and user.pk != getattr(actor, "pk", None):
        notify.send_once(
            {user.pk},
            kind="feedback",
            key=f"feedback:{req.pk}:assigned:{user.pk}:{req.updated_at.timestamp():.0f}",
            title=_("Request %(number)s was given to you") % {"number": req.number},
            url=reverse("feedback:detail", args=[req.pk]),
        )
    return req


@transaction.atomic
def forward(*, actor, req: PublicRequest, to_org: Organization | None, reason) -> PublicRequest:
    """Send the request to the organisation it belongs to, with a reason; it arrives there as
    received, with its deadlines unchanged (the person has waited since submitting)."""
    req = _locked(actor, req)
    reason = _text(reason, "reason", 500, required=True, lines=True)
    if to_org is None or to_org.status != OrgStatus.ACTIVE:
        raise ValidationFailed(
            _("Choose the organisation to forward to."), code="required", field="to_org"
        )
    if to_org.pk == req.organization_id:
        raise ValidationFailed(
            _("The request is already there."), code="same_organization", field="to_org"
        )
    from_org = req.organization
    req = _staff_change(
        actor,
        req,
        "forward",
        entry_kind=EntryKind.FORWARDED,
        text=reason,
        organization=to_org,
        org_path=to_org.path,
        assignee=None,
        routed_by="forwarded",
        # The new organisation is reminded and escalated on its own account.
        escalated_at=None,
        escalated_to=None,
        reminded_at=None,
    )
    Entry.objects.filter(pk=req.entries.order_by("-id").values("pk")[:1]).update(
        from_org=from_org, to_org=to_org
    )
    messages.request_forwarded(req, actor)
    return req


@transaction.atomic
def merge(*, actor, req: PublicRequest, into: PublicRequest, note="") -> PublicRequest:
    """A duplicate joins the request it repeats: it closes as merged and its person follows the
    other one's answer (and hears of it)."""
    if into.pk == req.pk:
        raise ValidationFailed(
            _("A request cannot be merged into itself."), code="same_request", field="into"
        )
    # Both locked in one order, so merging A into B while someone merges B into A queues, and
    # the second finds its target merged already.
    locked = {
        r.pk: r
        for r in PublicRequest.objects.select_for_update(of=("self",))
        .select_related("organization")
        .filter(pk__in=[req.pk, into.pk])
        .order_by("pk")
    }
    req, into = locked[req.pk], locked[into.pk]
    _require(actor, req)
    _require(actor, into)
    note = _text(note, "note", 500, lines=True)
    if into.status in rules.FINAL - {rules.CLOSED}:
        raise ValidationFailed(
            _("Merge into a request that is still handled or answered."),
            code="wrong_status",
            field="into",
        )
    req = _staff_change(
        actor,
        req,
        "merge",
        entry_kind=EntryKind.MERGED,
        text=_("Merged into %(number)s. %(note)s") % {"number": into.number, "note": note},
        merged_into=into,
        closed_at=timezone.now(),
    )
    _entry(
        into,
        EntryKind.NOTE,
        actor=actor,
        text=_("%(number)s was merged into this request.") % {"number": req.number},
    )
    return req


@transaction.atomic
def answer(*, actor, req: PublicRequest, reply, signed="") -> PublicRequest:
    """The public reply. Answering again (after more information, or on reopening) replaces it;
    every reply stays in the history. The people whose requests were merged into this one hear
    of it too."""
    req = _locked(actor, req)
    reply = _text(reply, "reply", REPLY_MAX, required=True, lines=True)
    signed = _text(signed, "signed", 100) or req.organization.name
    now = timezone.now()
    req = _staff_change(
        actor,
        req,
        "answer",
        entry_kind=EntryKind.ANSWERED,
        text=reply,
        public_reply=reply,
        replied_by=signed,
        answered_at=now,
    )
    messages.tell_submitter(req)
    for duplicate in PublicRequest.objects.filter(merged_into=req, consent_contact=True):
        messages.tell_submitter(req, about=duplicate)
    return req


@transaction.atomic
def close(*, actor, req: PublicRequest) -> PublicRequest:
    return _staff_change(
        actor, _locked(actor, req), "close", entry_kind=EntryKind.CLOSED, closed_at=timezone.now()
    )


@transaction.atomic
def reject(*, actor, req: PublicRequest, reason) -> PublicRequest:
    req = _locked(actor, req)
    reason = _text(reason, "reason", 500, required=True, lines=True)
    req = _staff_change(
        actor,
        req,
        "reject",
        entry_kind=EntryKind.REJECTED,
        text=reason,
        reject_reason=reason,
        closed_at=timezone.now(),
    )
    messages.tell_submitter(req)
    return req


@transaction.atomic
def feature(*, actor, req: PublicRequest, shown: bool) -> PublicRequest:
    """Show an answered request on the public page, when its person allowed it."""
    req = _locked(actor, req)
    if shown and not req.allow_public:
        raise ValidationFailed(
            _("The person did not allow this request to be shown."),
            code="not_allowed_public",
            field="featured",
        )
    before = audit.snapshot(req, REQUEST_FIELDS)
    _allowed(req, "feature")
    req.featured = bool(shown)
    req.save(update_fields=["featured"])
    _record(actor, "feedback.feature", req, before=before)
    return req


def reveal_contact(*, actor, req: PublicRequest) -> dict:
    """The submitter's name, phone and e-mail in full, for holders of feedback.contact; audited."""
    _require(actor, req, "feedback.contact")
    audit.record(
        actor, "feedback.reveal", req, org_path=req.org_path, label=req.number, subject=req.number
    )
    from .selectors import contact

    return contact(actor, req, full=True)


# Setting up: desks, routing rules, deadlines -------------------------------------------------------

_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{1,31}$")


@transaction.atomic
def save_desk(*, actor, organization: Organization, code, place="", intro="", active=True) -> Desk:
    _require(actor, organization, "feedback.configure")
    code = _text(code, "code", 32).lower()
    if not _CODE.match(code):
        raise ValidationFailed(
            _("Use 2 to 32 lower-case letters, digits and hyphens."),
            code="invalid_code",
            field="code",
        )
    place = _text(place, "place", 100)
    intro = _text(intro, "intro", 500, lines=True)
    if Desk.objects.filter(code=code).exclude(organization=organization).exists():
        raise ValidationFailed(_("This code is taken."), code="code_taken", field="code")
    desk = Desk.objects.select_for_update().filter(organization=organization).first()
    before = audit.snapshot(desk, ["code", "place", "intro", "active"]) if desk else None
    if desk is None:
        desk = Desk(organization=organization)
    desk.code, desk.place, desk.intro, desk.active = code, place, intro, bool(active)
    desk.save()
    after = audit.snapshot(desk, ["code", "place", "intro", "active"])
    before, after = audit.diff(before, after)
    audit.record(
        actor, "feedback.desk", desk, before=before, after=after, org_path=organization.path
    )
    return desk


@transaction.atomic
def save_routing_rule(
    *,
    actor,
    organization: Organization,
    keywords,
    category="",
    weight=1,
    active=True,
    note="",
    rule: RoutingRule | None = None,
) -> RoutingRule:
    _require(actor, organization, "feedback.configure")
    if rule is not None:
        _require(actor, rule.organization, "feedback.configure")
    keywords = _text(keywords, "keywords", 500)
    words = rules.parse_keywords(keywords)
    if not words:
        raise ValidationFailed(_("Enter at least one keyword."), code="required", field="keywords")
    if category and category not in Category.values:
        raise ValidationFailed(_("Choose a category."), code="invalid_category", field="category")
    try:
        weight = int(weight)
    except (TypeError, ValueError):
        weight = 0
    if not 1 <= weight <= 10:
        raise ValidationFailed(_("A weight from 1 to 10."), code="invalid_weight", field="weight")
    note = _text(note, "note", 200)
    fields = ["organization", "category", "keywords", "weight", "active", "note"]
    before = audit.snapshot(rule, fields) if rule else None
    rule = rule or RoutingRule()
    rule.organization, rule.category, rule.keywords = (
        organization,
        category,
        " ".join(sorted(words)),
    )
    rule.weight, rule.active, rule.note = weight, bool(active), note
    rule.save()
    before, after = audit.diff(before, audit.snapshot(rule, fields))
    audit.record(
        actor, "feedback.rule", rule, before=before, after=after, org_path=organization.path
    )
    return rule


@transaction.atomic
def delete_routing_rule(*, actor, rule: RoutingRule) -> None:
    _require(actor, rule.organization, "feedback.configure")
    before = audit.snapshot(rule, ["organization", "category", "keywords", "weight"])
    audit.record(
        actor, "feedback.rule_delete", rule, before=before, org_path=rule.organization.path
    )
    rule.delete()


def may_set_deadlines(actor) -> bool:
    """Deadlines hold for the whole platform: only its administrators set them."""
    return "" in selectors.scope_for(actor, "feedback.configure")


@transaction.atomic
def set_deadline(*, actor, category, ack_days, answer_days) -> DeadlinePolicy:
    """A local rule for the whole platform: held by administrators of the root."""
    if not may_set_deadlines(actor):
        raise Forbidden(_("Only administrators of the whole platform set deadlines."))
    category = _category(category)
    try:
        ack_days, answer_days = int(ack_days), int(answer_days)
        rules.check_deadline_days(ack_days, answer_days)
    except (TypeError, ValueError):
        raise ValidationFailed(
            _("Days from 0 to %(n)d; acknowledging no later than answering.")
            % {"n": rules.MAX_DEADLINE_DAYS},
            code="invalid_days",
            field="answer_days",
        ) from None
    policy = DeadlinePolicy.objects.select_for_update().filter(category=category).first()
    before = {"ack_days": policy.ack_days, "answer_days": policy.answer_days} if policy else None
    policy = policy or DeadlinePolicy(category=category)
    policy.ack_days, policy.answer_days, policy.updated_at = ack_days, answer_days, timezone.now()
    policy.save()
    audit.record(
        actor,
        "feedback.deadline",
        policy,
        before=before,
        after={"ack_days": ack_days, "answer_days": answer_days},
    )
    return policy


# Overdue requests ---------------------------------------------------------------------------------


def overdue_q(now) -> Q:
    return Q(status__in=sorted(rules.OPEN), answer_due_at__lt=now, escalated_at__isnull=True)


def claim_overdue(now=None, *, limit: int = 500) -> list[int]:
    """Mark overdue requests as escalated, each by one conditional UPDATE: with several workers
    sweeping at once, a request is claimed (and its committee told) exactly once."""
    now = now or timezone.now()
    claimed = []
    candidates = list(
        PublicRequest.objects.filter(overdue_q(now))
        .order_by("answer_due_at")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in candidates:
        with transaction.atomic():
            won = PublicRequest.objects.filter(overdue_q(now), pk=pk).update(
                escalated_at=now, updated_at=F("updated_at")
            )
            if not won:
                continue
            req = PublicRequest.objects.select_related("organization").get(pk=pk)
            parent = Organization.objects.filter(path=req.organization.parent_path).first()
            if parent is not None:
                PublicRequest.objects.filter(pk=pk).update(escalated_to=parent)
            Entry.objects.create(request=req, kind=EntryKind.ESCALATED, to_org=parent)
            audit.record(
                None,
                "feedback.escalate",
                req,
                after={"escalated_to": parent.pk if parent else None},
                org_path=req.org_path,
                label=req.number,
            )
            messages.request_escalated(req, parent)
            claimed.append(pk)
    return claimed


def claim_due_soon(now=None, *, hours: int = rules.SOON_HOURS, limit: int = 500) -> list[int]:
    """Remind the handlers of open requests due within `hours`, once per request."""
    now = now or timezone.now()
    soon = Q(
        status__in=sorted(rules.OPEN),
        answer_due_at__gte=now,
        answer_due_at__lte=now + datetime.timedelta(hours=hours),
        reminded_at__isnull=True,
    )
    claimed = []
    for pk in PublicRequest.objects.filter(soon).values_list("pk", flat=True)[:limit]:
        with transaction.atomic():
            if not PublicRequest.objects.filter(soon, pk=pk).update(reminded_at=now):
                continue
            req = PublicRequest.objects.select_related("organization").get(pk=pk)
            messages.request_due_soon(req)
            claimed.append(pk)
    return claimed
