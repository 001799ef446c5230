"""Every read of requests from the public, scoped to the user (staff), or by tracking number and
check code (the person who submitted).

Staff see the requests owned by organisations in their scope for `feedback.view`; a request
outside answers 404. Names and phone numbers of submitters come masked unless the user holds
`feedback.contact` where the request lies (and each full view is audited by the services).
"""

import datetime

from django.db.models import Avg, Count, F, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils import timezone

from dangjian.core import crypto, selectors
from dangjian.core.errors import NotFound
from dangjian.core.models import Organization

from . import rules
from .models import PUBLIC_TEXT_KINDS, Desk, Entry, PublicRequest, RoutingRule, Status


def requests(user, action: str = "feedback.view") -> QuerySet:
    qs = PublicRequest.objects.select_related("organization", "assignee", "escalated_to")
    return selectors.restrict(qs, user, action, path_field="org_path")


def get_request(user, pk, action: str = "feedback.view") -> PublicRequest:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound("request not found") from None
    found = requests(user, action).filter(pk=pk).first()
    if found is None:
        raise NotFound("request not found")
    return found


def overdue_q(now: datetime.datetime) -> Q:
    """Open requests past their answer deadline, or still not acknowledged past that one."""
    return Q(status__in=sorted(rules.OPEN)) & (
        Q(answer_due_at__lt=now) | Q(status=Status.RECEIVED, ack_due_at__lt=now)
    )


def soon_q(now: datetime.datetime) -> Q:
    return Q(
        status__in=sorted(rules.OPEN),
        answer_due_at__gte=now,
        answer_due_at__lte=now + datetime.timedelta(hours=rules.SOON_HOURS),
    )


INBOX_VIEWS = ("open", "new", "mine", "soon", "overdue", "escalated", "answered", "all")


def inbox(
    user,
    *,
    view: str = "open",
    org: Organization | None = None,
    exact: bool = False,
    category: str = "",
    status: str = "",
    text: str = "",
    now: datetime.datetime | None = None,
) -> QuerySet:
    """The staff's list: one of INBOX_VIEWS, narrowed to an organisation (its subtree, or only it
    with `exact`), a category, a status, or text in the request or its number."""
    now = now or timezone.now()
    qs = requests(user)
    if org is not None:
        qs = (
            qs.filter(org_path=org.path)
            if exact
            else qs.filter(selectors.subtree_range("org_path", org.path))
        )
    open_q = Q(status__in=sorted(rules.OPEN))
    if view == "open":
        qs = qs.filter(open_q)
    elif view == "new":
        qs = qs.filter(status=Status.RECEIVED)
    elif view == "mine":
        qs = qs.filter(open_q, assignee_id=getattr(user, "pk", None))
    elif view == "soon":
        qs = qs.filter(soon_q(now))
    elif view == "overdue":
        qs = qs.filter(overdue_q(now))
    elif view == "escalated":
        qs = qs.filter(open_q, escalated_at__isnull=False)
    elif view == "answered":
        qs = qs.filter(status__in=[Status.ANSWERED, Status.CLOSED])
    if category:
        qs = qs.filter(category=category)
    if status:
        qs = qs.filter(status=status)
    text = " ".join(str(text or "").split())[:100]
    if text:
        qs = qs.filter(Q(number__icontains=text) | Q(text__icontains=text))
    if view in ("soon", "overdue", "open", "new", "mine", "escalated"):
        return qs.order_by("answer_due_at", "id")
    return qs.order_by("-submitted_at", "-id")


def inbox_counts(user, now: datetime.datetime | None = None) -> dict[str, int]:
    """How many requests each tab holds, in one query."""
    now = now or timezone.now()
    open_q = Q(status__in=sorted(rules.OPEN))
    return requests(user).aggregate(
        open=Count("id", filter=open_q),
        new=Count("id", filter=Q(status=Status.RECEIVED)),
        mine=Count("id", filter=open_q & Q(assignee_id=getattr(user, "pk", None))),
        soon=Count("id", filter=soon_q(now)),
        overdue=Count("id", filter=overdue_q(now)),
        escalated=Count("id", filter=open_q & Q(escalated_at__isnull=False)),
        answered=Count("id", filter=Q(status__in=[Status.ANSWERED, Status.CLOSED])),
        all=Count("id"),
    )


def handlers(user, req: PublicRequest) -> QuerySet:
    """People a request may be given to: active accounts holding a role that grants
    feedback.handle at its organisation or above, at organisations within the viewer's scope."""
    from dangjian.core import permissions
    from dangjian.core.models import OrgStatus, RoleAssignment, User

    roles = [r for r in permissions.ROLES if "feedback.handle" in permissions.actions_of(r)]
    held = selectors.restrict(
        RoleAssignment.objects.filter(
            organization__path__in=req.organization.ancestor_paths(),
            organization__status=OrgStatus.ACTIVE,
            role__in=roles,
        ),
        user,
        "feedback.view",
        path_field="organization__path",
    )
    return User.objects.filter(pk__in=held.values("user_id"), is_active=True).order_by(
        "display_name", "username"
    )


def history(req: PublicRequest, *, public: bool = False) -> list[Entry]:
    entries = list(Entry.objects.filter(request=req).select_related("author", "from_org", "to_org"))
    if public:
        entries = [e for e in entries if e.public]
        for e in entries:
            if e.kind not in PUBLIC_TEXT_KINDS:
                e.text = ""  # the staff's words (a forward's reason), not for the person
    return entries


def contact(user, req: PublicRequest, *, full: bool = False) -> dict:
    """Who submitted the request: masked, or in full for holders of feedback.contact."""
    name = crypto.decrypt(req.name_encrypted) if req.name_encrypted else ""
    phone = crypto.decrypt(req.phone_encrypted) if req.phone_encrypted else ""
    email = crypto.decrypt(req.email_encrypted) if req.email_encrypted else ""
    may = selectors.can(user, "feedback.contact", req.organization)
    if full and may:
        return {"name": name, "phone": phone, "email": email, "masked": False, "may_reveal": True}
    return {
        "name": mask_name(name),
        "phone": crypto.mask_phone(phone) if phone else "",
        "email": crypto.mask_email(email),
        "masked": True,
        "may_reveal": may and bool(name or phone or email),
    }


def mask_name(name: str) -> str:
    """张三丰 -> 张**: the family name only."""
    return name[:1] + "*" * (len(name) - 1) if name else ""


def organizations_to_forward(user, text: str, *, limit: int = 20) -> QuerySet:
    """Organisations a request may be forwarded to: any active organisation of the platform (a
    request may belong elsewhere), found by name or code."""
    from dangjian.core.models import OrgStatus

    text = " ".join(str(text or "").split())[:50]
    if not text or not selectors.actions_anywhere(user) & {"feedback.handle"}:
        return Organization.objects.none()
    return Organization.objects.filter(
        Q(name__icontains=text) | Q(code__iexact=text), status=OrgStatus.ACTIVE
    ).order_by("path")[:limit]


# The public side ---------------------------------------------------------------------------------


def public_desks() -> QuerySet:
    return (
        Desk.objects.filter(active=True, organization__status="active")
        .select_related("organization")
        .order_by("organization__path")
    )


def desk_by_code(code: str) -> Desk | None:
    code = str(code or "").strip().lower()[:32]
    if not code:
        return None
    return public_desks().filter(code=code).first()


def routing_rules(user) -> QuerySet:
    qs = RoutingRule.objects.select_related("organization")
    return selectors.restrict(qs, user, "feedback.configure", path_field="organization__path")


def desks(user) -> QuerySet:
    qs = Desk.objects.select_related("organization")
    return selectors.restrict(qs, user, "feedback.configure", path_field="organization__path")


def featured_answers(limit: int = 10) -> list[dict]:
    """Answered requests staff chose to show, which their submitters allowed: category, place,
    text and reply only, with phone numbers, e-mail addresses and ID numbers typed into them
    replaced (nothing of the person)."""
    rows = (
        PublicRequest.objects.filter(featured=True, allow_public=True)
        .filter(status__in=[Status.ANSWERED, Status.CLOSED])
        .select_related("organization", "desk")
        .order_by("-answered_at", "-id")[:limit]
    )
    return [
        {
            "category": r.get_category_display(),
            "place": str(r.desk) if r.desk else r.organization.name,
            "organization": r.organization.name,
            "text": rules.scrub(r.text),
            "reply": rules.scrub(r.public_reply),
            "submitted_on": timezone.localtime(r.submitted_at).date(),
            "answered_on": timezone.localtime(r.answered_at).date() if r.answered_at else None,
            "rating": r.rating,
        }
        for r in rows
    ]


# Figures ----------------------------------------------------------------------------------------


def figures(qs: QuerySet, now: datetime.datetime | None = None) -> dict:
    """Volume, time to acknowledge and to answer, overdue share and satisfaction of a set of
    requests, in one query."""
    now = now or timezone.now()
    open_q = Q(status__in=sorted(rules.OPEN))
    late_answer = Q(answered_at__gt=F("answer_due_at")) | (open_q & Q(answer_due_at__lt=now))
    data = qs.exclude(status=Status.MERGED).aggregate(
        total=Count("id"),
        open=Count("id", filter=open_q),
        answered=Count("id", filter=Q(answered_at__isnull=False)),
        late=Count("id", filter=late_answer),
        overdue_open=Count("id", filter=open_q & Q(answer_due_at__lt=now)),
        rated=Count("id", filter=Q(rating__isnull=False)),
        satisfied=Count("id", filter=Q(rating__gte=4)),
        avg_rating=Avg("rating"),
        ack_time=Avg(F("acknowledged_at") - F("submitted_at")),
        answer_time=Avg(F("answered_at") - F("submitted_at")),
    )
    total = data["total"] or 0
    data["late_share"] = round(100 * data["late"] / total, 1) if total else None
    data["satisfied_share"] = (
        round(100 * data["satisfied"] / data["rated"], 1) if data["rated"] else None
    )
    data["avg_rating"] = round(data["avg_rating"], 2) if data["avg_rating"] else None
    for key in ("ack_time", "answer_time"):
        value = data[key]
        if value is not None and not isinstance(value, datetime.timedelta):
            value = datetime.timedelta(microseconds=value)  # SQLite answers microseconds
        data[key + "_hours"] = round(value.total_seconds() / 3600, 1) if value else None
        del data[key]
    return data


def _late(now) -> Q:
    """Answered after the deadline, or still open past it: what `figures` counts as late."""
    open_q = Q(status__in=sorted(rules.OPEN))
    return Q(answered_at__gt=F("answer_due_at")) | (open_q & Q(answer_due_at__lt=now))


def figures_by_month(qs: QuerySet, now: datetime.datetime | None = None) -> list[dict]:
    """Per month of submission: volume, answered, late (as in `figures`) and its share of the
    volume, average rating."""
    now = now or timezone.now()
    rows = (
        qs.exclude(status=Status.MERGED)
        .annotate(month=TruncMonth("submitted_at"))
        .values("month")
        .annotate(
            total=Count("id"),
            answered=Count("id", filter=Q(answered_at__isnull=False)),
            late=Count("id", filter=_late(now)),
            avg_rating=Avg("rating"),
        )
        .order_by("month")
    )
    out = []
    for row in rows:
        month = row["month"]
        if isinstance(month, datetime.datetime):
            month = timezone.localtime(month).date() if timezone.is_aware(month) else month.date()
        share = round(100 * row["late"] / row["total"], 1) if row["total"] else None
        out.append(row | {"month": month.strftime("%Y-%m"), "late_share": share})
    return out


def figures_by_category(qs: QuerySet) -> list[dict]:
    return list(
        qs.exclude(status=Status.MERGED)
        .values("category")
        .annotate(total=Count("id"), avg_rating=Avg("rating"))
        .order_by("-total", "category")
    )


def figures_by_child(user, org: Organization, qs: QuerySet, now=None) -> list[dict]:
    """One row per organisation directly below `org` (its subtree's requests), and one for the
    requests `org` owns itself, computed in one grouped query."""
    now = now or timezone.now()
    children = list(selectors.children_of(user, org))
    width = len(org.path) + Organization.steplen
    open_q = Q(status__in=sorted(rules.OPEN))
    from django.db.models.functions import Substr

    grouped = (
        qs.filter(selectors.subtree_range("org_path", org.path))
        .exclude(status=Status.MERGED)
        .annotate(prefix=Substr("org_path", 1, width))
        .values("prefix")
        .annotate(
            total=Count("id"),
            open=Count("id", filter=open_q),
            late=Count(
                "id",
                filter=Q(answered_at__gt=F("answer_due_at")) | (open_q & Q(answer_due_at__lt=now)),
            ),
            avg_rating=Avg("rating"),
        )
        .order_by()
    )
    by_prefix = {row["prefix"]: row for row in grouped}
    rows = []
    own = by_prefix.get(org.path)
    if own:
        rows.append({"org": org, "own": True} | own)
    for child in children:
        row = by_prefix.get(child.path)
        rows.append(
            {"org": child, "own": False}
            | (row or {"total": 0, "open": 0, "late": 0, "avg_rating": None})
        )
    for row in rows:
        row["late_share"] = round(100 * row["late"] / row["total"], 1) if row["total"] else None
    return rows


def public_figures(now=None) -> dict:
    """Figures of the whole platform for the public page: counts and shares only."""
    return figures(PublicRequest.objects.all(), now)
