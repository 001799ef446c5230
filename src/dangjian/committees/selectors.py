"""Every read of committees, terms, office-holders and elections, restricted to the user's scope.

The shape report and the re-election lists are what a higher committee looks at: they cover the
user's whole scope (or a subtree of it) in a fixed number of queries.
"""

import datetime
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet
from django.utils import timezone

from dangjian.core import rules, selectors
from dangjian.core.errors import NotFound
from dangjian.core.models import Organization, OrgKind, OrgStatus
from dangjian.members.models import Member

from .models import Election, Form, OfficeHolder, Position, Term

COMMITTEE_POSITIONS = (
    Position.ORGANISATION,
    Position.PUBLICITY,
    Position.DISCIPLINE,
    Position.YOUTH,
    Position.WOMEN,
    Position.MEMBER,
)


def current_holders(user, org: Organization) -> QuerySet:
    if not selectors.can(user, "org.view", org):
        raise NotFound("organisation not found")
    return OfficeHolder.objects.filter(organization=org, ended_on__isnull=True).order_by(
        "position", "started_on", "id"
    )


def holder_history(user, org: Organization) -> QuerySet:
    if not selectors.can(user, "org.view", org):
        raise NotFound("organisation not found")
    return OfficeHolder.objects.filter(organization=org).order_by("-started_on", "-id")


def terms(user, org: Organization) -> QuerySet:
    if not selectors.can(user, "org.view", org):
        raise NotFound("organisation not found")
    return Term.objects.filter(organization=org).order_by("-elected_on", "-id")


def current_term(user, org: Organization) -> Term | None:
    return terms(user, org).filter(ended_on__isnull=True).first()


def elections(user, org: Organization | None = None) -> QuerySet:
    qs = selectors.restrict(
        Election.objects.select_related("organization"), user, "org.view", "organization__path"
    )
    if org is not None:
        qs = qs.filter(organization=org)
    return qs.order_by("-held_on", "-id")


def get_election(user, pk) -> Election:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound("election not found") from None
    found = elections(user).filter(pk=pk).first()
    if found is None:
        raise NotFound("election not found")
    return found


def get_holder(user, pk) -> OfficeHolder:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound("not found") from None
    qs = selectors.restrict(
        OfficeHolder.objects.select_related("organization"), user, "org.view", "organization__path"
    )
    found = qs.filter(pk=pk).first()
    if found is None:
        raise NotFound("not found")
    return found


def get_term(user, pk) -> Term:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound("not found") from None
    qs = selectors.restrict(
        Term.objects.select_related("organization"), user, "org.view", "organization__path"
    )
    found = qs.filter(pk=pk).first()
    if found is None:
        raise NotFound("not found")
    return found


def pending_approvals(user) -> QuerySet:
    """Elections awaiting a decision that this user may take (at the committee above)."""
    prefixes = selectors.scope_for(user, "org.officers")
    qs = Election.objects.filter(
        status="recorded", organization__status=OrgStatus.ACTIVE
    ).select_related("organization")
    if not prefixes:
        return qs.none()
    if "" in prefixes:
        return qs.order_by("held_on", "id")
    # Strictly below a place where the user holds the right: the organisation's parent is in
    # the scope, never the organisation itself (nobody approves their own election).
    condition = None
    for prefix in prefixes:
        part = selectors.subtree_range("organization__path", prefix) & ~_exact_path(prefix)
        condition = part if condition is None else condition | part
    return qs.filter(condition).order_by("held_on", "id")


def _exact_path(prefix: str):
    from django.db.models import Q

    return Q(organization__path=prefix)


# Re-election -------------------------------------------------------------------------------


def reelection_due(user, *, today: datetime.date | None = None, lead_days: int | None = None):
    """Current terms in scope whose re-election is due within the lead time or overdue,
    soonest first; each with `.status` ("due" or "overdue") and `.days_left`."""
    today = today or timezone.localdate()
    lead_days = settings.REELECTION_LEAD_DAYS if lead_days is None else lead_days
    qs = selectors.restrict(
        Term.objects.filter(
            ended_on__isnull=True,
            due_on__lte=today + datetime.timedelta(days=lead_days),
            organization__status=OrgStatus.ACTIVE,
        ).select_related("organization"),
        user,
        "org.view",
        "organization__path",
    ).order_by("due_on", "id")
    return qs


def annotate_status(terms_: list[Term], today: datetime.date, lead_days: int) -> list[Term]:
    for term in terms_:
        term.status = rules.reelection_status(term.due_on, today, lead_days)
        term.days_left = (term.due_on - today).days
    return terms_


def without_term(user) -> QuerySet:
    """Active organisations (groups aside) in scope with no term recorded."""
    current = Term.objects.filter(organization=OuterRef("pk"), ended_on__isnull=True)
    return (
        selectors.organizations(user)
        .filter(status=OrgStatus.ACTIVE)
        .exclude(kind=OrgKind.GROUP)
        .exclude(Exists(current))
        .order_by("path")
    )


# Shape -------------------------------------------------------------------------------------


@dataclass
class Shape:
    org_id: int
    name: str
    code: str
    kind: str
    path: str
    members: int = 0
    full_members: int = 0
    committee_size: int = 0
    has_secretary: bool = False
    problems: list = field(default_factory=list)


def _member_totals(user, root: Organization | None) -> tuple[dict, dict]:
    """Active members and full members of every subtree, from one grouped query."""
    qs = selectors.restrict(
        Member.objects.filter(status="active"), user, "org.view", path_field="org_path"
    )
    if root is not None:
        qs = qs.filter(selectors.subtree_range("org_path", root.path))
    members: dict[str, int] = defaultdict(int)
    full: dict[str, int] = defaultdict(int)
    step = Organization.steplen
    # One row per path with both counts (not one per path and category: half the rows).
    rows = (
        qs.values_list("org_path")
        .annotate(n=Count("id"), n_full=Count("id", filter=Q(category="full")))
        .order_by()
    )
    for path, n, n_full in rows:
        for end in range(step, len(path) + 1, step):
            prefix = path[:end]
            members[prefix] += n
            full[prefix] += n_full
    return members, full


SHAPE_CACHE_SECONDS = 300


def _data_version() -> int:
    """The latest audit event: every change to organisations, members and offices goes through
    a service that records one, so a report computed since then still holds. One index lookup."""
    from dangjian.core.models import AuditEvent

    return AuditEvent.objects.aggregate(last=Max("id"))["last"] or 0


def _shape_key(kind: str, user, root: Organization | None) -> str | None:
    prefixes = selectors.scope_for(user, "org.view")
    if not prefixes:
        return None
    # Hashed: a user with many roles has a long list of prefixes (memcached keys are short).
    parts = [",".join(sorted(prefixes)), root.path if root else "", str(_data_version())]
    return f"{kind}:" + hashlib.sha256("|".join(parts).encode()).hexdigest()


def out_of_shape(user, root: Organization | None = None) -> list[Shape]:
    """The organisations of `shape_report` that have a problem: what the shape page, the API
    and the dashboard show. Cached apart from the full report: a county has about a quarter of
    its organisations out of shape, so a cache hit loads a quarter of the rows."""
    key = _shape_key("shape-problems", user, root)
    if key is None:
        return []
    rows = cache.get(key)
    if rows is None:
        rows = [s for s in _compute_shape_report(user, root) if s.problems]
        cache.set(key, rows, SHAPE_CACHE_SECONDS)
    return rows


def shape_report(user, root: Organization | None = None) -> list[Shape]:
    """Every active organisation of the scope (or of `root`'s subtree) with its counts and what
    is out of shape, in tree order. Five queries whatever the size; cached a few minutes per
    scope and root (a page turn reads the cache), until anything changes."""
    key = _shape_key("shape-report", user, root)
    if key is None:
        return []
    report = cache.get(key)
    if report is None:
        report = _compute_shape_report(user, root)
        cache.set(key, report, SHAPE_CACHE_SECONDS)
    return report


def _compute_shape_report(user, root: Organization | None) -> list[Shape]:
    orgs = selectors.organizations(user).filter(status=OrgStatus.ACTIVE).exclude(kind=OrgKind.GROUP)
    if root is not None:
        orgs = orgs.filter(selectors.subtree_range("path", root.path))
    rows = list(orgs.order_by("path").values_list("pk", "name", "code", "kind", "path"))
    members, full = _member_totals(user, root)
    holders = selectors.restrict(
        OfficeHolder.objects.filter(ended_on__isnull=True).exclude(position=Position.GROUP_LEADER),
        user,
        "org.view",
        "organization__path",
    )
    if root is not None:
        holders = holders.filter(selectors.subtree_range("organization__path", root.path))
    # Counted by the database: one row per organisation, not one per office-holder, and no
    # ORDER BY (the model's default ordering made PostgreSQL sort every holder, on disk).
    size: dict[int, int] = {}
    committee_posts: set[int] = set()
    secretary: set[int] = set()
    seats = (
        holders.values_list("organization_id")
        .annotate(
            people=Count("member_id", distinct=True),
            secretaries=Count("id", filter=Q(position=Position.SECRETARY)),
            posts=Count("id", filter=Q(position__in=COMMITTEE_POSITIONS)),
        )
        .order_by()
    )
    for org_id, people, secretaries, posts in seats:
        size[org_id] = people
        if secretaries:
            secretary.add(org_id)
        if posts:
            committee_posts.add(org_id)
    terms_ = selectors.restrict(
        Term.objects.filter(ended_on__isnull=True), user, "org.view", "organization__path"
    )
    if root is not None:
        terms_ = terms_.filter(selectors.subtree_range("organization__path", root.path))
    forms = dict(terms_.order_by().values_list("organization_id", "form"))
    report = []
    for pk, name, code, kind, path in rows:
        form = forms.get(pk)
        is_committee = form == Form.COMMITTEE or (form is None and pk in committee_posts)
        shape = Shape(
            org_id=pk,
            name=name,
            code=code,
            kind=kind,
            path=path,
            members=members.get(path, 0),
            full_members=full.get(path, 0),
            committee_size=size.get(pk, 0) if is_committee else 0,
            has_secretary=pk in secretary,
        )
        shape.problems = rules.shape_problems(
            kind,
            full_members=shape.full_members,
            members=shape.members,
            committee_size=shape.committee_size,
            has_secretary=shape.has_secretary,
        )
        report.append(shape)
    return report


def shape_counts(user) -> dict[str, int]:
    """Organisations out of shape, per kind of problem, over the user's scope; cached a few
    minutes per scope (the dashboard asks on every visit), until anything changes."""
    key = _shape_key("shape-counts", user, None)
    if key is None:
        return {}
    counts = cache.get(key)
    if counts is None:
        counts = dict.fromkeys(rules.SHAPE_PROBLEMS, 0)
        for shape in out_of_shape(user):
            for problem in shape.problems:
                counts[problem] += 1
        cache.set(key, counts, SHAPE_CACHE_SECONDS)
    return counts
