"""Every read of core data. Each selector takes the acting user and returns only what that user
may see: roles are held at organisations and reach their whole subtree.

`restrict(queryset, user, action)` is the one entry point that turns a user's roles into a filter.
"""

from django.db.models import Count, Q, QuerySet

from . import permissions
from .errors import NotFound
from .models import AuditEvent, Organization, OrgKind, OrgStatus, RoleAssignment, User

_CACHE_ATTR = "_dangjian_roles"


def _held_roles(user) -> list[tuple[str, str]]:
    """(organisation path, role) pairs of the user; loaded once per user object (per request)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        cached = list(
            RoleAssignment.objects.filter(
                user=user, organization__status=OrgStatus.ACTIVE
            ).values_list("organization__path", "role")
        )
        setattr(user, _CACHE_ATTR, cached)
    return cached


def forget_roles(user) -> None:
    """Drop the cached roles (after assigning or revoking in the same request)."""
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def _minimal(paths: set[str]) -> list[str]:
    """Drop paths that lie inside another path of the set."""
    kept: list[str] = []
    for path in sorted(paths):
        if not any(path.startswith(k) for k in kept):
            kept.append(path)
    return kept


def scope_for(user, action: str) -> list[str]:
    """The path prefixes of the subtrees where `user` may do `action`. [""] means everywhere."""
    if getattr(user, "is_superuser", False) and user.is_active:
        return [""]
    return _minimal({p for p, role in _held_roles(user) if action in permissions.actions_of(role)})


def can(user, action: str, org: Organization | None = None) -> bool:
    """May the user do `action` at `org` (or anywhere, if org is None)?"""
    prefixes = scope_for(user, action)
    if org is None:
        return bool(prefixes)
    return any(org.path.startswith(p) for p in prefixes)


def actions_anywhere(user) -> set[str]:
    """Every action the user may do somewhere: drives the navigation."""
    if getattr(user, "is_superuser", False) and user.is_active:
        return set(permissions.ACTIONS)
    found: set[str] = set()
    for _path, role in _held_roles(user):
        found |= permissions.actions_of(role)
    return found


def max_rank_at(user, org: Organization) -> int:
    if getattr(user, "is_superuser", False):
        return 1000
    ranks = [
        permissions.rank_of(role)
        for path, role in _held_roles(user)
        if org.path.startswith(path) and "role.assign" in permissions.actions_of(role)
    ]
    return max(ranks, default=0)


def actions_at(user, org: Organization) -> set[str]:
    """Every action the user may do at `org` (through roles held there or above)."""
    if getattr(user, "is_superuser", False) and user.is_active:
        return set(permissions.ACTIONS)
    found: set[str] = set()
    for path, role in _held_roles(user):
        if org.path.startswith(path):
            found |= permissions.actions_of(role)
    return found


def subtree_range(path_field: str, prefix: str) -> Q:
    """The subtree at `prefix` as a range of paths: prefix <= path <= prefix + "ZZZ…".

    Paths use only 0-9 and A-Z, so this is exactly `startswith(prefix)`; but PostgreSQL reads an
    ordinary index for a range in ORDER BY order under any collation, while LIKE 'x%' needs the
    C collation or a pattern index (which cannot serve the list's sort). See docs/performance.md.
    """
    if not prefix:
        return Q()
    top = prefix + Organization.alphabet[-1] * (255 - len(prefix))
    return Q(**{f"{path_field}__gte": prefix, f"{path_field}__lte": top})


def restrict(queryset: QuerySet, user, action: str, path_field: str = "path") -> QuerySet:
    prefixes = scope_for(user, action)
    if not prefixes:
        return queryset.none()
    if "" in prefixes:
        return queryset
    condition = Q()
    for prefix in prefixes:
        condition |= subtree_range(path_field, prefix)
    return queryset.filter(condition)


# Organisations -------------------------------------------------------------------------------


def organizations(user, action: str = "org.view") -> QuerySet:
    return restrict(Organization.objects.all(), user, action)


def get_organization(user, pk, action: str = "org.view") -> Organization:
    """The organisation, if the user may do `action` there; NotFound otherwise (also when it
    exists outside the scope: nobody can probe)."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound("organisation not found") from None
    if not 0 < pk < 2**63:  # beyond a database integer: nothing, not an overflow
        raise NotFound("organisation not found")
    org = organizations(user, action).filter(pk=pk).first()
    if org is None:
        raise NotFound("organisation not found")
    return org


def get_organization_by_code(user, code: str, action: str = "org.view") -> Organization:
    # Codes are unique regardless of letter case, so they are found regardless of it too.
    org = organizations(user, action).filter(code__iexact=(code or "").strip()).first()
    if org is None:
        raise NotFound("organisation not found")
    return org


def top_organization(user, action: str) -> Organization | None:
    """Where the user's scope for `action` starts (the first of them, when several): the page
    a report opens on when no organisation is asked for."""
    prefixes = scope_for(user, action)
    if "" in prefixes:
        return Organization.objects.get_root_nodes().order_by("display_order", "path").first()
    return (
        Organization.objects.filter(path__in=prefixes)
        .order_by("depth", "display_order", "path")
        .first()
    )


def scope_roots(user) -> QuerySet:
    """The organisations at the top of what the user may see (where the tree starts)."""
    prefixes = scope_for(user, "org.view")
    if not prefixes:
        return Organization.objects.none()
    if "" in prefixes:
        return Organization.objects.get_root_nodes().order_by("display_order", "path")
    return Organization.objects.filter(path__in=prefixes).order_by("display_order", "path")


def children_of(user, org: Organization, *, include_dissolved: bool = False) -> QuerySet:
    """Direct children of an organisation the user may see (visible parent => visible subtree)."""
    if not can(user, "org.view", org):
        raise NotFound("organisation not found")
    qs = Organization.objects.filter(path__startswith=org.path, depth=org.depth + 1).order_by(
        "display_order", "path"
    )
    if not include_dissolved:
        qs = qs.filter(status=OrgStatus.ACTIVE)
    return qs


def ancestors_visible(user, org: Organization) -> list[Organization]:
    """Ancestors for breadcrumbs, limited to those the user may see."""
    paths = org.ancestor_paths()[:-1]
    if not paths:
        return []
    return list(
        organizations(user).filter(path__in=paths).order_by("depth").only("id", "name", "path")
    )


def search_organizations(user, text: str, *, limit: int = 50) -> QuerySet:
    text = (text or "").strip()
    qs = organizations(user)
    if not text:
        return qs.none()
    return qs.filter(
        Q(code__iexact=text) | Q(name__icontains=text) | Q(short_name__icontains=text)
    ).order_by("depth", "display_order", "path")[:limit]


def subtree(
    user,
    root: Organization | None = None,
    *,
    kind: str | None = None,
    status: str | None = None,
) -> QuerySet:
    """Organisations of a subtree (or of the whole scope), in tree order."""
    qs = organizations(user)
    if root is not None:
        qs = qs.filter(path__startswith=root.path)
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("path")


def member_counts(org: Organization, children: list[Organization]) -> tuple[int, dict[int, int]]:
    """Members of org's subtree, and of each listed child's subtree: one grouped query.

    Groups the subtree's members by the path prefix one level below org, so the database does
    the summing; cost grows with the subtree's members, not with the number of children."""
    from django.db.models.functions import Substr

    from dangjian.members.models import Member

    width = len(org.path) + Organization.steplen
    rows = (
        Member.objects.filter(subtree_range("org_path", org.path), status="active")
        .annotate(prefix=Substr("org_path", 1, width))
        .values_list("prefix")
        .annotate(n=Count("id"))
        .order_by()
    )
    by_prefix = dict(rows)
    total = sum(by_prefix.values())
    return total, {child.pk: by_prefix.get(child.path, 0) for child in children}


def role_assignments(user, org: Organization) -> QuerySet:
    if not can(user, "role.view", org):
        return RoleAssignment.objects.none()
    return (
        RoleAssignment.objects.filter(organization=org)
        .select_related("user", "granted_by")
        .order_by("role", "user__username")
    )


def assignable_users(user, org: Organization, text: str, *, limit: int = 20) -> QuerySet:
    """Accounts a role can be given to: found by exact user name, display name or mobile."""
    from .crypto import keyed_hash

    text = (text or "").strip()
    if not text or not can(user, "role.assign", org):
        return User.objects.none()
    return User.objects.filter(
        Q(username__iexact=text) | Q(display_name__icontains=text) | Q(mobile_hash=keyed_hash(text))
    ).filter(is_active=True)[:limit]


def dashboard_figures(user) -> dict:
    """Counts for the home page, over the user's whole scope, in a fixed number of queries."""
    from dangjian.members.models import Member

    orgs = organizations(user, "dashboard.view").filter(status=OrgStatus.ACTIVE)
    by_kind = dict(orgs.values_list("kind").annotate(n=Count("id")).order_by())
    members = restrict(
        Member.objects.filter(status="active"), user, "dashboard.view", path_field="org_path"
    )
    by_category = dict(members.values_list("category").annotate(n=Count("id")).order_by())
    by_sex = dict(members.values_list("sex").annotate(n=Count("id")).order_by())
    return {
        "orgs_by_kind": {kind: by_kind.get(kind, 0) for kind in OrgKind.values},
        "org_total": sum(by_kind.values()),
        "members_by_category": by_category,
        "members_by_sex": by_sex,
        "member_total": sum(by_category.values()),
    }


# Audit ---------------------------------------------------------------------------------------


def audit_events(user) -> QuerySet:
    """Audit events of the user's audit scope. Events with no organisation (accounts, tokens)
    are seen only by those whose scope is everything."""
    return restrict(AuditEvent.objects.all(), user, "audit.view", path_field="org_path")
