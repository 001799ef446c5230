"""Benchmark: the member list at 1,000,000 members on PostgreSQL.

    createdb -h 127.0.0.1 -U postgres dangjian_bench_list     # once
    DANGJIAN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/dangjian_bench_list \\
    DANGJIAN_DATA_DIR=/tmp/h_bench \\
        .venv/bin/python bench/member_list.py --label after

Builds the data set once and reuses it afterwards (the database named in the URL must be
PostgreSQL; it is dropped and re-created only when it does not hold the expected data set or with
--rebuild). The data comes from `dangjian.core.seeding.seed`: an organisation tree, members with
encrypted and keyed-hashed ID and phone numbers, pinyin initials and their timeline events. The
data key lives in DANGJIAN_DATA_DIR: keep the same directory to reuse the database.

Every run migrates first (so new indexes are built and timed), then, as a superuser and as the
organisation administrators of two committees (the first township, and a committee in the middle
of the tree, so the scope filters apply), times the server side of:

- selector: `selectors.member_list(user, MemberFilter(...))`, the count and the page of 50 rows
  (with select_related), once with the exact count and once with `paging.count_capped`;
- page:     GET members:list?...          (once the view is real; skipped while it is a stub)
- api:      GET /api/v1/members?...       (once the endpoint exists; bearer token)

for six cases: the first page as it opens, the scope's subtree with two filters (sex=2, education=21), a surname search (王),
a pinyin-initials search (wj), an ID number look-up, and page 500 (offset 24,950).

Prints a table and writes bench/results/member_list[-<label>].json.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

sys.path.insert(0, str(HERE))  # the shared helpers in bench/seed.py

from seed import create_database, database_name, percentile  # noqa: E402
from seed import machine as seed_machine  # noqa: E402

PER_PAGE = 50
SURNAME = "王"
INITIALS = "wj"
DEEP_PAGE = 500
BENCH_ADMIN = "bench_mid"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--orgs", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per case")
    parser.add_argument("--warmup", type=int, default=10, help="untimed requests per case first")
    parser.add_argument("--rebuild", action="store_true", help="drop and re-seed the database")
    parser.add_argument("--label", default="", help="results go to member_list-<label>.json")
    parser.add_argument(
        "--users", default="admin,town,bench_mid", help="comma-separated: admin,town,bench_mid"
    )
    parser.add_argument("--cases", default="", help="comma-separated subset of the cases")
    parser.add_argument(
        "--paths", default="selector,page,api", help="comma-separated: selector,page,api"
    )
    parser.add_argument(
        "--counts", default="exact,capped", help="selector path count strategies: exact,capped"
    )
    parser.add_argument("--cap", type=int, default=0, help="set paging.DEFAULT_CAP for this run")
    parser.add_argument(
        "--api-capped",
        action="store_true",
        help="patch ninja's PageNumberPagination to count like paging.CappedPageNumberPagination",
    )
    parser.add_argument(
        "--range-proposal",
        action="store_true",
        help="patch the subtree conditions as proposed (ranges as well as LIKE) in this process",
    )
    parser.add_argument(
        "--explain", action="store_true", help="print EXPLAIN ANALYZE of the selector queries"
    )
    parser.add_argument(
        "--insert-cost",
        type=int,
        default=0,
        metavar="N",
        help="also time writing N more members (bulk_create, rolled back) with the current indexes",
    )
    return parser.parse_args()


# ---- database ------------------------------------------------------------------------------


def data_set_ok(expected_members: int) -> str:
    """'' when the database holds a usable data set, else why not."""
    from django.db import connection

    from dangjian.core import crypto
    from dangjian.core.models import User
    from dangjian.members.models import Member

    if "members_member" not in connection.introspection.table_names():
        return "no tables"
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'members_member'")
        row = cursor.fetchone()
    if not row or row[0] < expected_members * 0.98:
        n = Member.objects.count()
        if n < expected_members * 0.98:
            return f"{n:,} members, {expected_members:,} wanted"
    if not User.objects.filter(username__in=["admin", "town"]).count() == 2:
        return "demo accounts missing"
    member = Member.objects.order_by("id").first()
    try:
        crypto.decrypt(member.id_number_encrypted)
    except Exception:  # noqa: BLE001 - another data key: the hashes would not match
        return "encrypted with another data key (DANGJIAN_DATA_DIR differs)"
    return ""


def migrate() -> None:
    """Apply every migration, to every leaf: like `migrate`, but it also goes ahead while two
    apps' work in progress have left the migration graph with two leaves for a moment."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def build(args, console) -> dict:
    from django.db import connection
    from seed import seed_with_progress

    result, wall = seed_with_progress(console, args.members, args.orgs, args.seed)
    t = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    vacuum = time.perf_counter() - t
    rates = result.rates()
    return {
        "organisations": result.orgs,
        "organisations_by_kind": result.orgs_by_kind,
        "members": result.members,
        "generate_seconds": round(wall - result.seconds, 1),
        "member_seconds": round(result.member_seconds, 1),
        "members_per_second": round(rates["members"]),
        "wall_seconds": round(wall, 1),
        "vacuum_analyze_seconds": round(vacuum, 1),
    }


def bench_admin():
    """The org admin of a committee in the middle of the tree (by path order of members)."""
    from dangjian.core import services
    from dangjian.core.models import Organization, User
    from dangjian.members.models import Member

    user = User.objects.filter(username=BENCH_ADMIN).first()
    if user is not None:
        return user
    root = Organization.objects.get(depth=1)
    committees = list(
        Organization.objects.filter(depth=2, kind="committee")
        .order_by("path")
        .values_list("path", flat=True)
    )
    middle = Member.objects.order_by("org_path").values_list("org_path", flat=True)[
        Member.objects.count() // 2
    ]
    path = next((p for p in committees if middle.startswith(p)), committees[len(committees) // 2])
    admin = User.objects.get(username="admin")
    user = services.create_user(
        actor=None, username=BENCH_ADMIN, password="bench-not-secret", validate=False
    )
    services.assign_role(
        actor=admin, user=user, org=Organization.objects.get(path=path), role="org_admin"
    )
    assert root.path != path
    return user


def scope_org(user):
    from dangjian.core import selectors
    from dangjian.core.models import Organization

    prefixes = selectors.scope_for(user, "member.view")
    if "" in prefixes:
        return Organization.objects.get(depth=1)
    return Organization.objects.filter(path__in=prefixes).order_by("path").first()


# ---- cases ---------------------------------------------------------------------------------


def cases_for(org, id_number: str, superuser: bool) -> dict[str, dict]:
    """Filter values per case; 'page' is the page number. The superuser asks for the root's
    subtree (org=<root>); an organisation administrator opens the list as it comes, without
    org=, so the scope condition alone gives the subtree (the landing page of the list)."""
    where = {"org": org.pk} if superuser else {}
    return {
        "first_page": {**where},
        "subtree_2_filters": {**where, "sex": "2", "education": "21"},
        "name_prefix": {**where, "q": SURNAME},
        "pinyin_initials": {**where, "q": INITIALS},
        "id_number": {**where, "q": id_number},
        "page_500": {**where, "page": DEEP_PAGE},
    }


def member_filter(params: dict):
    from dangjian.members.selectors import MemberFilter

    values = {k: v for k, v in params.items() if k != "page"}
    return MemberFilter(**values)


def summary(times: list[float]) -> dict:
    return {
        "requests": len(times),
        "median_ms": round(statistics.median(times), 2),
        "p95_ms": round(percentile(times, 0.95), 2),
        "min_ms": round(min(times), 2),
        "max_ms": round(max(times), 2),
    }


def timed(fn, n: int, warmup: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        info = fn() or {}
    info["queries"] = len(queries)
    if "error" in info:
        return info
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t) * 1000)
        if out and "error" in out:
            info["error"] = out["error"] + " (during the timed run)"
            break
    info.update(summary(times))
    return info


def selector_fn(user, params: dict, count_strategy: str):
    from dangjian.members import selectors

    page = int(params.get("page", 1))
    f = member_filter(params)

    def run():
        qs = selectors.member_list(user, f)
        if count_strategy == "exact":
            total, exact = qs.count(), True
        else:
            from dangjian.members import paging

            total, exact = paging.count_capped(qs, paging.DEFAULT_CAP, page=page, per_page=PER_PAGE)
        if count_strategy == "exact":
            rows = list(qs[(page - 1) * PER_PAGE : page * PER_PAGE])
        else:  # as CappedPaginator reads a page
            rows = list(paging.page_rows(qs, (page - 1) * PER_PAGE, page * PER_PAGE))
        return {"count": total, "count_exact": exact, "rows": len(rows)}

    return run


def http_fn(client, url: str, headers=None):
    headers = headers or {}

    def run():
        response = client.get(url, headers=headers)
        if response.status_code != 200:
            body = response.content[:200].decode("utf-8", "replace")
            return {"error": f"HTTP {response.status_code}: {body}"}
        out = {"status": 200, "bytes": len(response.content)}
        if response.get("Content-Type", "").startswith("application/json"):
            data = response.json()
            if isinstance(data, dict):
                out["count"] = data.get("count")
        return out

    return run


def explain(user, params: dict) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of the count and page queries of the selector path."""
    from django.db import connection

    from dangjian.members import selectors

    page = int(params.get("page", 1))
    qs = selectors.member_list(user, member_filter(params))
    out = []
    queries = [("count", qs.order_by().values("pk")), ("page", qs[(page - 1) * PER_PAGE :][:50])]
    try:
        from dangjian.members import paging

        queries.insert(1, ("count_capped", paging.capped_queryset(qs, paging.DEFAULT_CAP, page)))
    except (ImportError, AttributeError):
        pass
    for label, q in queries:
        sql, sql_params = q.query.sql_with_params()
        if label == "count":
            sql = f"SELECT COUNT(*) FROM ({sql}) t"
        elif label == "count_capped":
            sql = f"SELECT COUNT(*) FROM ({sql}) t"
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, sql_params)
            plan = "\n".join(r[0] for r in cursor.fetchall())
        out.append(f"-- {label}\n{plan}")
    return out


# ---- proposal: subtree conditions as ranges --------------------------------------------------

PATH_TOP = "Z"  # the last character of treebeard's path alphabet (0-9, A-Z)


def subtree_q(field: str, prefix: str):
    """Rows whose path starts with `prefix`, written as a range (prefix <= path <= prefix +
    'ZZZ…'; paths use only 0-9 and A-Z), which an ordinary index on the path can use under any
    collation and in ORDER BY org_path order: LIKE 'x%' can use only a pattern index when the
    collation is not C (C.UTF-8 is not C to PostgreSQL 15), and a pattern index cannot give
    that order."""
    from django.db.models import Q

    if not prefix:
        return Q()
    top = prefix + PATH_TOP * (255 - len(prefix))
    return Q(**{f"{field}__gte": prefix, f"{field}__lte": top})


def apply_range_proposal() -> None:
    """Patch, in this process only, core.selectors.restrict and members.selectors.filter_members
    the way the proposal in docs/performance.md changes them."""
    import dataclasses

    from django.db.models import Q

    from dangjian.core import selectors as core_selectors
    from dangjian.core.models import Organization
    from dangjian.members import selectors

    original_filter = selectors.filter_members

    def restrict(queryset, user, action, path_field="path"):
        prefixes = core_selectors.scope_for(user, action)
        if not prefixes:
            return queryset.none()
        if "" in prefixes:
            return queryset
        condition = Q()
        for prefix in prefixes:
            condition |= subtree_q(path_field, prefix)
        return queryset.filter(condition)

    def filter_members(qs, f, user=None):
        if f.org and not f.exact_org:
            org = core_selectors.get_organization(user, f.org, "member.view") if user else None
            if org is None:
                org = Organization.objects.get(pk=f.org)
            qs = qs.filter(subtree_q("org_path", org.path))
            f = dataclasses.replace(f, org=None)
        return original_filter(qs, f, user)

    core_selectors.restrict = restrict
    selectors.filter_members = filter_members


# ---- insert cost ---------------------------------------------------------------------------


def insert_cost(n: int, seed: int, orgs: int) -> dict:
    """Write n more members (and their events) the way seeding does, then roll back."""
    from django.db import connection, transaction

    from dangjian.core import seeding
    from dangjian.core.crypto import encrypt, keyed_hash
    from dangjian.core.models import Organization
    from dangjian.members.models import Member, StandingEvent

    plan = seeding.generate(members=n, orgs=orgs, seed=seed + 1000)
    ids = dict(Organization.objects.values_list("path", "id"))
    leaves = [p for p in ids if len(p) >= 12] or list(ids)
    t = time.perf_counter()
    with transaction.atomic():
        for start in range(0, n, 5000):
            batch = []
            for i, m in enumerate(plan.members[start : start + 5000], start=start):
                path = leaves[i % len(leaves)]
                batch.append(
                    Member(
                        organization_id=ids[path],
                        org_path=path,
                        name=m.name,
                        name_initials=m.name_initials,
                        sex=m.sex,
                        ethnicity=m.ethnicity,
                        birth_date=m.birth_date,
                        id_number_encrypted=encrypt(m.id_number),
                        id_number_hash=keyed_hash(f"insert-cost:{m.id_number}:{i}"),
                        phone_encrypted=encrypt(m.phone) if m.phone else "",
                        phone_hash=keyed_hash(m.phone) if m.phone else "",
                        education=m.education,
                        category=m.category,
                        joined_on=m.joined_on,
                        full_on=m.full_on,
                    )
                )
            Member.objects.bulk_create(batch)
            events = [
                StandingEvent(
                    member_id=row.pk,
                    kind="admitted",
                    occurred_on=row.joined_on,
                    organization_id=row.organization_id,
                )
                for row in batch
            ]
            StandingEvent.objects.bulk_create(events)
        seconds = time.perf_counter() - t
        transaction.set_rollback(True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE members_member")
        cursor.execute("VACUUM ANALYZE members_standingevent")
    return {"members": n, "seconds": round(seconds, 2), "members_per_second": round(n / seconds)}


# ---- main ----------------------------------------------------------------------------------


def main():
    args = parse_args()
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    url = os.environ.get("DANGJIAN_DATABASE_URL", "")
    if not url:
        sys.exit("set DANGJIAN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/dangjian_bench_list")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dangjian.settings")
    os.environ["DANGJIAN_ALLOWED_HOSTS"] = "testserver,127.0.0.1"
    os.environ.setdefault("DANGJIAN_DATA_DIR", "/tmp/dangjian-bench")
    os.environ.setdefault("DANGJIAN_DEBUG", "0")
    os.environ.setdefault("DANGJIAN_LOG_LEVEL", "WARNING")
    name, _admin = database_name(url)
    fresh = create_database(url, drop=args.rebuild)

    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.urls import reverse
    from rich.console import Console
    from rich.table import Table

    from dangjian.core import crypto, services
    from dangjian.core.models import User
    from dangjian.members.models import Member

    console = Console()
    if args.range_proposal:
        apply_range_proposal()
    if args.api_capped:
        from ninja.pagination import PageNumberPagination

        from dangjian.members import paging

        capped = paging.CappedPageNumberPagination.paginate_queryset
        PageNumberPagination.paginate_queryset = capped
    if args.cap:
        from dangjian.members import paging

        paging.DEFAULT_CAP = args.cap
    built = None
    if not fresh:
        why = ""
        try:
            why = data_set_ok(args.members)
        except Exception as exc:  # noqa: BLE001 - anything wrong: rebuild
            why = str(exc)
        if why:
            console.print(f"database {name}: {why}; rebuilding")
            connection.close()
            create_database(url, drop=True)
            fresh = True
    t = time.perf_counter()
    migrate()
    migrate_seconds = time.perf_counter() - t
    if fresh:
        console.print(f"database {name}: seeding {args.members:,} members …")
        built = build(args, console)
        console.print(built)
    elif migrate_seconds > 1:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE members_member")

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
        cursor.execute("SHOW lc_collate")
        collate = cursor.fetchone()[0]
        cursor.execute(
            "SELECT indexrelid::regclass::text, pg_relation_size(indexrelid) FROM pg_index "
            "WHERE indrelid = 'members_member'::regclass ORDER BY 1"
        )
        indexes = {n: round(size / 2**20, 1) for n, size in cursor.fetchall()}
        cursor.execute("SELECT pg_relation_size('members_member')")
        table_mib = round(cursor.fetchone()[0] / 2**20, 1)

    insert = insert_cost(args.insert_cost, args.seed, args.orgs) if args.insert_cost else None
    if insert:
        console.print(f"insert cost: {insert}")

    users = {"admin": User.objects.get(username="admin"), "town": None, BENCH_ADMIN: None}
    users["town"] = User.objects.get(username="town")
    users[BENCH_ADMIN] = bench_admin()
    wanted_users = [u for u in args.users.split(",") if u]
    wanted_cases = [c for c in args.cases.split(",") if c]
    paths = [p for p in args.paths.split(",") if p]
    try:
        from dangjian.members import paging  # noqa: F401

        strategies = [c for c in args.counts.split(",") if c]
    except ImportError:
        strategies = ["exact"]

    list_url = reverse("members:list")
    results = []
    explains = {}
    for username in wanted_users:
        user = users[username]
        org = scope_org(user)
        in_scope = Member.objects.filter(org_path__startswith=org.path)
        sample = in_scope.order_by("id")[in_scope.count() // 3]
        id_number = crypto.decrypt(sample.id_number_encrypted)
        client = Client()
        client.force_login(user)
        _token, secret = services.create_api_token(actor=user, name="bench", days=1)
        bearer = {"Authorization": f"Bearer {secret}"}
        for case, params in cases_for(org, id_number, user.is_superuser).items():
            if wanted_cases and case not in wanted_cases:
                continue
            base = {"user": username, "scope": org.name, "case": case, "params": params}
            if args.explain:
                explains[f"{username} {case}"] = explain(user, params)
            if "selector" in paths:
                for strategy in strategies:
                    r = timed(selector_fn(user, params, strategy), args.requests, args.warmup)
                    results.append({**base, "path": f"selector ({strategy} count)", **r})
                    console.print(results[-1])
            if "page" in paths:
                r = timed(
                    http_fn(client, f"{list_url}?{urlencode(params)}"), args.requests, args.warmup
                )
                results.append({**base, "path": "page", **r})
                console.print(results[-1])
            if "api" in paths:
                r = timed(
                    http_fn(client, f"/api/v1/members?{urlencode(params)}", bearer),
                    args.requests,
                    args.warmup,
                )
                results.append({**base, "path": "api", **r})
                console.print(results[-1])

    figures = {
        "machine": {
            **seed_machine(),
            "postgresql": pg_version,
            "lc_collate": collate,
            "load_average_at_start": load_at_start,
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "arguments": {k: v for k, v in vars(args).items()},
        "database": {
            "name": name,
            "members": Member.objects.count(),
            "table_mib": table_mib,
            "index_mib": indexes,
            "migrate_seconds": round(migrate_seconds, 2),
        },
        "built": built,
        "insert_cost": insert,
        "results": results,
        "explain": explains,
    }

    table = Table(title=f"Member list, {args.requests} requests each")
    for col in ("user", "case", "path", "queries", "count", "median ms", "p95 ms", "max ms"):
        table.add_column(col, justify="left" if col in ("user", "case", "path") else "right")
    for r in results:
        count = r.get("count")
        if count is not None and r.get("count_exact") is False:
            count = f"{count:,}+"
        elif count is not None:
            count = f"{count:,}"
        table.add_row(
            r["user"],
            r["case"],
            r["path"],
            str(r.get("queries", "")),
            str(count if count is not None else ""),
            str(r.get("median_ms", "")),
            str(r.get("p95_ms", r.get("error", "")[:40])),
            str(r.get("max_ms", "")),
        )
    console.print(table)
    if args.explain:
        for key, plans in explains.items():
            console.print(f"[bold]{key}[/bold]")
            for plan in plans:
                console.print(plan, markup=False, highlight=False)

    out = (
        HERE / "results" / (f"member_list-{args.label}.json" if args.label else "member_list.json")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, ensure_ascii=False, indent=2, default=str) + "\n")
    console.print(f"written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
