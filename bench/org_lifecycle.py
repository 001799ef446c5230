"""Benchmark: the higher committee's overview (terms, shape, transfers) at 1,000,000 members.

    createdb -h 127.0.0.1 -U postgres dangjian_bench_org     # once
    DANGJIAN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/dangjian_bench_org \\
    DANGJIAN_DATA_DIR=/tmp/h_bench_org \\
        .venv/bin/python bench/org_lifecycle.py --explain --heavy 5

Builds the data set once and reuses it afterwards (the database named in the URL must be
PostgreSQL; it is dropped and re-created only when it does not hold the expected data set or with
--rebuild; the build's figures are kept in bench/results/org_lifecycle-build.json):

1. `dangjian.core.seeding.seed`: an organisation tree (~50,000 organisations) and its members
   (~1,000,000), with the demo accounts (`county` administers the root, `town` the first
   township committee);
2. the life cycle, written with `bulk_create` (not through the services: no audit events, no
   elections, no checks; it is data to read): for every active organisation but the Party
   groups a current term elected 30 days to 6 years ago (so some are due and many overdue), its
   form (an elected committee for committees, general branches and 90 % of the branches with 7
   or more full members; a secretary otherwise), office-holders (a secretary for about 90 %,
   committees of 3 to 7 seats) chosen among the organisation's full members, and ~2,000 pending
   transfers of distinct members (85 % internal, 10 % outgoing with an introduction letter, 5 %
   incoming letters; a twentieth of them into the first township, so its user has some).

Every run migrates first, waits (up to --wait-max seconds) for the 1-minute load average to
fall under --wait-load, then times, as `county` (whole tree) and as `town` (one township):

- selectors: the shape report three ways, `committees.selectors._compute_shape_report` (the
  computation itself, no cache), `shape_report` with the cache cleared before each call (the
  first request after a change: the computation, the data version and storing the report) and
  `shape_report` cached (later requests: the data version and reading the report back), of
  the whole scope and, for county, of one township; `shape_counts` cold (cache cleared before
  each call: it computes the report too) and warm, `reelection_due` first page (50 rows and
  the count), `transfers.selectors.incoming` and `stuck` first page (50 rows and the count);
  the roles cached on the user object are dropped before each call, as each request loads
  them again;
- pages through Django's test client: /committees/, /committees/shape/,
  /committees/home-card/, /transfers/, the two that read the cache also cold (cache cleared
  before each request); a page that answers 404 is skipped and reported as missing.

Cheap calls are repeated (--requests, after --warmup untimed ones: median and p95); heavy ones
(the whole tree's cold shape report and counts, a page over a second) run --heavy times each,
every run reported. Each case records its SQL query count, the time spent in cursor.execute
(median; psycopg fetches the rows there) and the load average around it; the whole tree's shape
report also its peak Python allocations (tracemalloc) and what its pickled copy costs the cache.
The medians are compared with those of the code before the shape report was reworked and
cached (BEFORE, from the run of 2026-11-25 02:49 in docs/performance.md).

--member-index creates a partial index on the member table for the run; --rss-probe USERNAME
only measures, in a fresh process, how much computing one report of the user's scope grows
the peak RSS.

Prints a table and writes bench/results/org_lifecycle[-<label>].json.
"""

import argparse
import bisect
import datetime
import json
import os
import random
import resource
import statistics
import sys
import time
import tracemalloc
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

sys.path.insert(0, str(HERE))  # the shared helpers in bench/seed.py

from seed import create_database, database_name, percentile  # noqa: E402
from seed import machine as seed_machine  # noqa: E402

PER_PAGE = 50
PAGES = ("/committees/", "/committees/shape/", "/committees/home-card/", "/transfers/")
# Proposed: lets PostgreSQL count active members per path from the index alone (--member-index).
MEMBER_INDEX = "bench_member_active_path_category"
MEMBER_INDEX_SQL = (
    f"CREATE INDEX {MEMBER_INDEX} ON members_member (org_path, category) WHERE status = 'active'"
)

# Pages that read the cache: also timed cold (cache cleared before each request).
CACHED_PAGES = ("/committees/shape/", "/committees/home-card/")
# Medians (ms) of the code before the shape report was reworked and cached: the run of
# 2026-11-25 02:49 (docs/performance.md), (user, case) -> ms. The old shape_report always
# computed, so its figure stands for both "computed" and "first request".
BEFORE = {
    ("county", "shape_report computed"): 1475.4,
    ("county", "shape_report first request"): 1475.4,
    ("county", "shape_report (one township) computed"): 5.2,
    ("county", "shape_counts cold"): 1399.9,
    ("county", "shape_counts warm"): 0.6,
    ("county", "reelection_due first page"): 24.4,
    ("county", "incoming first page"): 39.4,
    ("county", "stuck first page"): 18.8,
    ("county", "/committees/"): 66.7,
    ("county", "/committees/shape/"): 1562.3,
    ("county", "/committees/shape/ cold"): 1562.3,
    ("county", "/committees/home-card/"): 31.2,
    ("county", "/transfers/"): 79.1,
    ("town", "shape_report computed"): 6.3,
    ("town", "shape_report first request"): 6.3,
    ("town", "shape_counts cold"): 6.2,
    ("town", "shape_counts warm"): 0.9,
    ("town", "reelection_due first page"): 5.1,
    ("town", "incoming first page"): 10.7,
    ("town", "stuck first page"): 23.6,
    ("town", "/committees/"): 13.2,
    ("town", "/committees/shape/"): 14.7,
    ("town", "/committees/shape/ cold"): 14.7,
    ("town", "/committees/home-card/"): 5.9,
    ("town", "/transfers/"): 41.8,
}
AIMS = {"page_county_ms": 1000, "shape_report_whole_tree_ms": 5000}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--orgs", type=int, default=50_000)
    parser.add_argument("--transfers", type=int, default=2_000, help="pending transfers")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--requests", type=int, default=100, help="timed calls per cheap case")
    parser.add_argument("--warmup", type=int, default=5, help="untimed calls per cheap case")
    parser.add_argument("--heavy", type=int, default=3, help="timed calls per heavy case")
    parser.add_argument("--rebuild", action="store_true", help="drop and re-seed the database")
    parser.add_argument(
        "--rebuild-life-cycle",
        action="store_true",
        help="delete and re-write the terms, office-holders and transfers only",
    )
    parser.add_argument("--build-only", action="store_true", help="build the data set and stop")
    parser.add_argument("--label", default="", help="results go to org_lifecycle-<label>.json")
    parser.add_argument("--users", default="county,town", help="comma-separated: county,town")
    parser.add_argument("--cases", default="", help="comma-separated subset of the cases")
    parser.add_argument(
        "--wait-load", type=float, default=1.0, help="start timing under this 1-minute load"
    )
    parser.add_argument("--wait-max", type=int, default=600, help="wait at most so many seconds")
    parser.add_argument(
        "--explain", action="store_true", help="EXPLAIN ANALYZE the queries of the heavy cases"
    )
    parser.add_argument(
        "--rss-probe",
        metavar="USERNAME",
        default="",
        help="only: in this fresh process, how much computing one shape report of the user's "
        "scope grows the peak RSS",
    )
    parser.add_argument(
        "--member-index",
        action="store_true",
        help=f"create the partial index {MEMBER_INDEX} for this run (dropped at the end)",
    )
    return parser.parse_args()


# ---- database ------------------------------------------------------------------------------


def data_set_ok(members: int, orgs: int) -> str:
    """'' when the database holds the seeded tree and members, else why not."""
    from django.db import connection

    from dangjian.core.models import Organization, User
    from dangjian.members.models import Member

    if "members_member" not in connection.introspection.table_names():
        return "no tables"
    n_orgs = Organization.objects.count()
    if abs(n_orgs - orgs) > orgs * 0.02:
        return f"{n_orgs:,} organisations, {orgs:,} wanted"
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'members_member'")
        row = cursor.fetchone()
    if not row or abs(row[0] - members) > members * 0.02:
        n = Member.objects.count()
        if abs(n - members) > members * 0.02:
            return f"{n:,} members, {members:,} wanted"
    if User.objects.filter(username__in=["county", "town"]).count() != 2:
        return "demo accounts missing"
    return ""


def life_cycle_ok(transfers: int) -> str:
    """'' when the terms, office-holders and transfers are there, else why not."""
    from dangjian.committees.models import OfficeHolder, Term
    from dangjian.core.models import Organization
    from dangjian.transfers.models import Transfer

    elected = Organization.objects.filter(status="active").exclude(kind="group").count()
    current = Term.objects.filter(ended_on__isnull=True).count()
    if current < elected * 0.99:
        return f"{current:,} current terms for {elected:,} organisations"
    if not OfficeHolder.objects.filter(ended_on__isnull=True).exists():
        return "no office-holders"
    pending = Transfer.objects.filter(state="pending").count()
    if abs(pending - transfers) > transfers * 0.05:
        return f"{pending:,} pending transfers, {transfers:,} wanted"
    return ""


def migrate() -> None:
    """Apply every migration, to every leaf (as bench/member_list.py does)."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def build_tree(args, console) -> dict:
    from seed import seed_with_progress

    result, wall = seed_with_progress(console, args.members, args.orgs, args.seed)
    rates = result.rates()
    return {
        "organisations": result.orgs,
        "organisations_by_kind": result.orgs_by_kind,
        "members": result.members,
        "generate_seconds": round(wall - result.seconds, 1),
        "organisation_seconds": round(result.org_seconds, 1),
        "member_seconds": round(result.member_seconds, 1),
        "members_per_second": round(rates["members"]),
        "wall_seconds": round(wall, 1),
    }


# ---- the life cycle: terms, office-holders, transfers ------------------------------------------

# Who sits on a committee of n, in order; a committee without a secretary skips the first.
COMMITTEE_SEATS = (
    "secretary",
    "organisation",
    "publicity",
    "discipline",
    "deputy",
    "member",
    "member",
)


def town_org():
    """The organisation the `town` demo user administers (the first township committee)."""
    from dangjian.core.models import RoleAssignment

    return (
        RoleAssignment.objects.select_related("organization")
        .get(user__username="town")
        .organization
    )


def build_life_cycle(args, console, today: datetime.date) -> dict:
    """Terms, office-holders and pending transfers, written with bulk_create in one
    transaction (after deleting any there are)."""
    from django.db import connection, transaction

    from dangjian.committees.models import OfficeHolder, Term
    from dangjian.core import rules
    from dangjian.core.models import Organization
    from dangjian.transfers.models import Transfer

    rng = random.Random(args.seed + 4)
    t0 = time.perf_counter()
    with transaction.atomic():
        Transfer.objects.all().delete()
        OfficeHolder.objects.all().delete()
        Term.objects.all().delete()

        orgs = list(
            Organization.objects.filter(status="active")
            .exclude(kind="group")
            .order_by("path")
            .values_list("id", "path", "kind", "unit_type")
        )
        # Up to 12 full members in good standing of every organisation that holds members
        # (the branches), with the number of its full members.
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT org_path, array_agg(id ORDER BY rn), array_agg(name ORDER BY rn), max(n)
                FROM (
                    SELECT org_path, id, name,
                           row_number() OVER (PARTITION BY org_path ORDER BY id) AS rn,
                           count(*) OVER (PARTITION BY org_path) AS n
                    FROM members_member
                    WHERE status = 'active' AND category = 'full' AND standing = 'normal'
                ) t
                WHERE rn <= 12
                GROUP BY org_path
                ORDER BY org_path
                """
            )
            pools = {
                path: (list(zip(ids, names, strict=True)), n) for path, ids, names, n in cursor
            }
        leaf_paths = sorted(pools)
        full_in: dict[str, int] = defaultdict(int)
        for path, (_people, n) in pools.items():
            for end in range(4, len(path) + 1, 4):
                full_in[path[:end]] += n

        def people_for(path: str, kind: str, k: int) -> list[tuple[int, str]]:
            """k distinct full members of the subtree: a branch's own first ones; a committee's
            from its branches' later ones (so branch and committee offices rarely coincide)."""
            if path in pools:
                people = pools[path][0]
                return rng.sample(people, min(k, len(people)))
            chosen = []
            i = bisect.bisect_left(leaf_paths, path)
            while i < len(leaf_paths) and leaf_paths[i].startswith(path) and len(chosen) < k:
                people = pools[leaf_paths[i]][0]
                chosen.extend(people[7:9])
                i += 1
            return chosen[:k]

        terms = []
        plans = []
        six_years = 6 * 365
        for org_id, path, kind, unit_type in orgs:
            elected_on = today - datetime.timedelta(days=rng.randint(30, six_years))
            full = full_in.get(path, 0)
            if kind in ("branch", "joint_branch"):
                form = "committee" if full >= 7 and rng.random() < 0.9 else "secretary"
            else:
                form = "committee"
            has_secretary = rng.random() < 0.9
            if form == "committee":
                seats = list(COMMITTEE_SEATS[: rng.randint(3, 7)])
            else:
                seats = ["secretary"] + (["deputy"] if rng.random() < 0.3 else [])
            if not has_secretary:
                seats.remove("secretary")
            rule = rules.term_rule(elected_on)
            ends_on = rules.term_end(kind, unit_type, elected_on)
            terms.append(
                Term(
                    organization_id=org_id,
                    form=form,
                    elected_on=elected_on,
                    term_years=rules.term_years(kind, unit_type, elected_on),
                    rule_version=rule.version,
                    ends_on=ends_on,
                    due_on=ends_on,
                )
            )
            plans.append((org_id, elected_on, seats, people_for(path, kind, len(seats))))
        Term.objects.bulk_create(terms, batch_size=5000)
        holders = []
        for term, (org_id, elected_on, seats, people) in zip(terms, plans, strict=True):
            for position, (member_id, name) in zip(seats, people, strict=False):
                holders.append(
                    OfficeHolder(
                        organization_id=org_id,
                        term_id=term.pk,
                        member_id=member_id,
                        person_name=name,
                        position=position,
                        started_on=elected_on,
                    )
                )
        OfficeHolder.objects.bulk_create(holders, batch_size=5000)
        t1 = time.perf_counter()

        transfers = make_transfers(args, rng, today)
        Transfer.objects.bulk_create(transfers, batch_size=5000)
        t2 = time.perf_counter()
    with connection.cursor() as cursor:
        for table in ("committees_term", "committees_officeholder", "transfers_transfer"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    by_direction = Counter(t.direction for t in transfers)
    return {
        "terms": len(terms),
        "terms_by_form": dict(Counter(t.form for t in terms)),
        "office_holders": len(holders),
        "office_holders_by_position": dict(Counter(h.position for h in holders)),
        "transfers": len(transfers),
        "transfers_by_direction": dict(by_direction),
        "terms_and_holders_seconds": round(t1 - t0, 1),
        "transfer_seconds": round(t2 - t1, 1),
    }


def make_transfers(args, rng: random.Random, today: datetime.date) -> list:
    """Pending transfers of distinct members: 85 % internal, 10 % outgoing with a letter, 5 %
    incoming letters; started a few days to months ago (about a fifth over 30 days: stuck);
    5 % of them go into the first township."""
    from django.db.models import Max, Min

    from dangjian.core.models import Organization
    from dangjian.members.models import Member
    from dangjian.transfers.models import Transfer

    n = args.transfers
    branches = list(
        Organization.objects.filter(status="active", kind__in=["branch", "joint_branch"])
        .order_by("path")
        .values_list("id", "path")
    )
    town = town_org()
    town_branches = [b for b in branches if b[1].startswith(town.path)] or branches
    committees = dict(Organization.objects.filter(depth=2).values_list("path", "id"))
    span = Member.objects.aggregate(lo=Min("id"), hi=Max("id"))
    ids = rng.sample(range(span["lo"], span["hi"] + 1), n * 2)
    people = list(
        Member.objects.filter(pk__in=ids, status="active").values_list(
            "id", "name", "sex", "category", "organization_id", "org_path"
        )
    )
    rng.shuffle(people)
    rows = []
    seq: Counter = Counter()
    for i in range(n):
        started_on = today - datetime.timedelta(days=min(180, int(rng.expovariate(1 / 20))))
        roll = rng.random()
        into_town = i % 20 == 0
        to_id, _to_path = rng.choice(town_branches if into_town else branches)
        if roll < 0.05:  # incoming letter: nobody of ours yet
            rows.append(
                Transfer(
                    direction="incoming",
                    person_name=f"来人{i:04d}",
                    sex=rng.choice("12"),
                    category="full",
                    to_org_id=to_id,
                    counterpart="外省某县委组织部",
                    letter_number=f"外{started_on.year}-{i:04d}",
                    valid_until=started_on + datetime.timedelta(days=30),
                    started_on=started_on,
                    incoming_data={"name": f"来人{i:04d}"},
                )
            )
            continue
        member_id, name, sex, category, from_id, from_path = people.pop()
        if to_id == from_id:
            to_id = branches[(branches.index((to_id, _to_path)) + 1) % len(branches)][0]
        common = {
            "member_id": member_id,
            "person_name": name,
            "sex": sex,
            "category": category,
            "from_org_id": from_id,
            "started_on": started_on,
            "reason": "工作调动",
        }
        if roll < 0.15:  # outgoing, with a letter numbered per issuing committee and year
            issuer = committees.get(from_path[:8]) or from_id
            seq[(issuer, started_on.year)] += 1
            number = seq[(issuer, started_on.year)]
            rows.append(
                Transfer(
                    direction="outgoing",
                    counterpart="外省某县委组织部",
                    addressee="外省某县委组织部",
                    letter_issuer_id=issuer,
                    letter_year=started_on.year,
                    letter_seq=number,
                    letter_number=f"{started_on.year}-{number:03d}",
                    valid_until=started_on + datetime.timedelta(days=30),
                    **common,
                )
            )
        else:
            rows.append(Transfer(direction="internal", to_org_id=to_id, **common))
    return rows


# ---- measuring -----------------------------------------------------------------------------


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def wait_for_quiet(console, limit: float, most: int) -> dict:
    t = time.monotonic()
    while os.getloadavg()[0] > limit and time.monotonic() - t < most:
        console.print(f"load {load()}: waiting for < {limit} …")
        time.sleep(15)
    return {"waited_seconds": round(time.monotonic() - t), "load_average": load()}


def summary(times: list[float]) -> dict:
    return {
        "runs": len(times),
        "median_ms": round(statistics.median(times), 1),
        "p95_ms": round(percentile(times, 0.95), 1),
        "min_ms": round(min(times), 1),
        "max_ms": round(max(times), 1),
    }


def captured(fn) -> tuple[dict, list[dict]]:
    """Run fn once, capturing its queries: (its info, the queries)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    sql_seconds = []

    def clock(execute, sql, params, many, context):
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            sql_seconds.append(time.perf_counter() - t)

    with CaptureQueriesContext(connection) as queries, connection.execute_wrapper(clock):
        t = time.perf_counter()
        info = fn() or {}
        info["first_ms"] = round((time.perf_counter() - t) * 1000, 1)
    info["queries"] = len(queries)
    # Time in cursor.execute (psycopg fetches the rows there too), not building objects.
    info["first_sql_ms"] = round(sum(sql_seconds) * 1000, 1)
    return info, queries.captured_queries


def clocked(fn) -> tuple[float, float, dict]:
    """One call: (milliseconds in all, milliseconds in cursor.execute, what fn returned)."""
    from django.db import connection

    sql_seconds = []

    def clock(execute, sql, params, many, context):
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            sql_seconds.append(time.perf_counter() - t)

    with connection.execute_wrapper(clock):
        t = time.perf_counter()
        out = fn() or {}
        total = time.perf_counter() - t
    return total * 1000, sum(sql_seconds) * 1000, out


def timed(fn, runs: int, warmup: int, heavy: bool) -> dict:
    """The query count and SQL time of one call, then `runs` timed calls after `warmup`."""
    before = load()
    info, _queries = captured(fn)
    if "error" in info:
        return info
    for _ in range(warmup):
        fn()
    times, sql = [], []
    for _ in range(runs):
        total, in_sql, out = clocked(fn)
        times.append(total)
        sql.append(in_sql)
        if "error" in out:
            info["error"] = out["error"] + " (during the timed run)"
            break
    info.update(summary(times))
    info["sql_median_ms"] = round(statistics.median(sql), 1)
    if heavy:
        info["runs_ms"] = [round(x, 1) for x in times]
    info["load_before"], info["load_after"] = before, load()
    return info


def explain(fn) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of every SELECT fn runs (as psycopg sent it)."""
    from django.db import connection

    _info, queries = captured(fn)
    plans = []
    for q in queries:
        sql = q["sql"]
        if not sql.lstrip().upper().startswith("SELECT"):
            continue
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            plan = "\n".join(r[0] for r in cursor.fetchall())
        plans.append(f"-- {q['time']} s in the run\n{sql[:600]}\n{plan}")
    return plans


def memory_of(fn) -> dict:
    """Peak Python allocations of one call (tracemalloc), and the bench process's peak RSS so
    far (an upper bound: it includes Django, the other cases and the data they kept)."""
    import gc

    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "tracemalloc_peak_mib": round(peak / 2**20, 1),
        "process_max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def cache_round_trip(user) -> dict:
    """What caching the whole report costs: its pickled size and a pickle round trip (what
    LocMemCache and the Redis cache do on set and get)."""
    import pickle

    from dangjian.committees import selectors as committees

    report = committees._compute_shape_report(user, None)
    t = time.perf_counter()
    blob = pickle.dumps(report, pickle.HIGHEST_PROTOCOL)
    dumped = time.perf_counter()
    pickle.loads(blob)
    loaded = time.perf_counter()
    return {
        "pickled_report_mib": round(len(blob) / 2**20, 1),
        "pickle_dumps_ms": round((dumped - t) * 1000, 1),
        "pickle_loads_ms": round((loaded - dumped) * 1000, 1),
    }


def rss_probe(username: str) -> dict:
    """Peak RSS before and after one report of the user's whole scope, in a process that has
    done nothing else but a small report first (imports, connection)."""
    from dangjian.committees import selectors as committees
    from dangjian.core.models import User

    user = User.objects.get(username=username)
    committees._compute_shape_report(user, town_org())  # warm up: imports, connection, roles
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    report = committees._compute_shape_report(user, None)
    seconds = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "user": username,
        "organisations": len(report),
        "max_rss_before_mib": round(before / 1024, 1),
        "max_rss_after_mib": round(after / 1024, 1),
        "growth_mib": round((after - before) / 1024, 1),
        "seconds": round(seconds, 2),
        "load_average": load(),
    }


def fresh_roles(user):
    """Forget the roles cached on the user object, as every request loads them again."""
    from dangjian.core.selectors import forget_roles

    forget_roles(user)
    return user


def selector_cases(user, township, is_county: bool, today) -> dict:
    """name -> (function, heavy?)."""
    from django.conf import settings
    from django.core.cache import cache

    from dangjian.committees import selectors as committees
    from dangjian.transfers import selectors as transfers

    def shape_report(root=None, how="cached"):
        """how: "computed" (no cache at all), "first request" (cache cleared), "cached"."""

        def run():
            if how == "computed":
                report = committees._compute_shape_report(fresh_roles(user), root)
            else:
                if how == "first request":
                    cache.clear()
                report = committees.shape_report(fresh_roles(user), root)
            return {"rows": len(report), "out_of_shape": sum(1 for s in report if s.problems)}

        return run

    def shape_counts(cold: bool):
        def run():
            if cold:
                cache.clear()
            counts = committees.shape_counts(fresh_roles(user))
            return {"problems": sum(counts.values())}

        return run

    def reelection_due():
        lead = settings.REELECTION_LEAD_DAYS
        qs = committees.reelection_due(fresh_roles(user), today=today, lead_days=lead)
        rows = committees.annotate_status(list(qs[:PER_PAGE]), today, lead)
        return {"rows": len(rows), "count": qs.count()}

    def first_page(selector):
        def run():
            qs = selector(fresh_roles(user))
            rows = list(qs[:PER_PAGE])
            return {"rows": len(rows), "count": qs.count()}

        return run

    cases = {
        "shape_report computed": (shape_report(None, "computed"), is_county),
        "shape_report first request": (shape_report(None, "first request"), is_county),
        "shape_report cached": (shape_report(None, "cached"), False),
        "shape_counts cold": (shape_counts(True), is_county),
        "shape_counts warm": (shape_counts(False), False),
        "reelection_due first page": (reelection_due, False),
        "incoming first page": (first_page(transfers.incoming), False),
        "stuck first page": (first_page(lambda u: transfers.stuck(u, today)), False),
    }
    if is_county:
        cases["shape_report (one township) computed"] = (shape_report(township, "computed"), False)
        cases["shape_report (one township) cached"] = (shape_report(township, "cached"), False)
    return cases


def http_fn(client, url: str, cold: bool = False):
    from django.core.cache import cache

    def run():
        if cold:
            cache.clear()
        response = client.get(url)
        if response.status_code != 200:
            body = response.content[:200].decode("utf-8", "replace")
            return {"error": f"HTTP {response.status_code}: {body}", "status": response.status_code}
        return {"status": 200, "bytes": len(response.content)}

    return run


# ---- main ----------------------------------------------------------------------------------


def main():
    args = parse_args()
    load_at_start = load()
    url = os.environ.get("DANGJIAN_DATABASE_URL", "")
    if not url:
        sys.exit("set DANGJIAN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/dangjian_bench_org")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dangjian.settings")
    os.environ["DANGJIAN_ALLOWED_HOSTS"] = "testserver,127.0.0.1"
    os.environ.setdefault("DANGJIAN_DATA_DIR", "/tmp/h_bench_org")
    os.environ.setdefault("DANGJIAN_DEBUG", "0")
    os.environ.setdefault("DANGJIAN_LOG_LEVEL", "WARNING")
    name, _admin = database_name(url)
    fresh = create_database(url, drop=args.rebuild)

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.utils import timezone
    from rich.console import Console
    from rich.table import Table

    from dangjian.core.models import Organization, User
    from dangjian.members.models import Member

    console = Console()
    if args.rss_probe:
        print(json.dumps(rss_probe(args.rss_probe)))
        return
    if not fresh:
        try:
            why = data_set_ok(args.members, args.orgs)
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
    today = timezone.localdate()
    built = life_cycle = None
    if fresh:
        console.print(
            f"database {name}: seeding {args.orgs:,} organisations, {args.members:,} members …"
        )
        built = build_tree(args, console)
        console.print(built)
    why = "" if args.rebuild_life_cycle or fresh else life_cycle_ok(args.transfers)
    if fresh or args.rebuild_life_cycle or why:
        if why:
            console.print(f"life cycle: {why}; rewriting it")
        life_cycle = build_life_cycle(args, console, today)
        console.print(life_cycle)
    t = time.perf_counter()
    if fresh:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    elif migrate_seconds > 1:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    if built:
        built["vacuum_analyze_seconds"] = round(time.perf_counter() - t, 1)
    # The build's figures are kept beside the results, for the runs that reuse the data set.
    build_file = HERE / "results" / "org_lifecycle-build.json"
    if built or life_cycle:
        earlier = json.loads(build_file.read_text()) if build_file.exists() else {}
        build_file.parent.mkdir(parents=True, exist_ok=True)
        build_file.write_text(
            json.dumps(
                {
                    "database": name,
                    "built": built or earlier.get("built"),
                    "life_cycle": life_cycle or earlier.get("life_cycle"),
                    "load_average_at_end": load(),
                },
                ensure_ascii=False,
                indent=2,
            )
            + "\n"
        )
    elif build_file.exists():
        earlier = json.loads(build_file.read_text())
        built, life_cycle = earlier.get("built"), earlier.get("life_cycle")
    if args.build_only:
        return

    from dangjian.committees.models import OfficeHolder, Term
    from dangjian.transfers.models import Transfer

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
        cursor.execute("SHOW shared_buffers")
        shared_buffers = cursor.fetchone()[0]
    database = {
        "name": name,
        "organisations": Organization.objects.count(),
        "organisations_by_kind": dict(Counter(Organization.objects.values_list("kind", flat=True))),
        "members": Member.objects.count(),
        "current_terms": Term.objects.filter(ended_on__isnull=True).count(),
        "current_office_holders": OfficeHolder.objects.filter(ended_on__isnull=True).count(),
        "pending_transfers": Transfer.objects.filter(state="pending").count(),
        "migrate_seconds": round(migrate_seconds, 2),
        "cache": settings.CACHES["default"]["BACKEND"],
    }
    console.print(database)

    # A run stopped early may have left the proposed index behind: never measure with it
    # unless asked.
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS {MEMBER_INDEX}")
    index_seconds = None
    if args.member_index:
        t = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(MEMBER_INDEX_SQL)
            index_seconds = round(time.perf_counter() - t, 1)
            cursor.execute("VACUUM ANALYZE members_member")
            cursor.execute("SELECT pg_relation_size(%s::regclass)", [MEMBER_INDEX])
            database["member_index_mib"] = round(cursor.fetchone()[0] / 2**20, 1)
        database["member_index_build_seconds"] = index_seconds

    quiet = wait_for_quiet(console, args.wait_load, args.wait_max)
    console.print(f"timing at load {quiet['load_average']}")
    township = town_org()
    wanted_users = [u for u in args.users.split(",") if u]
    wanted_cases = [c for c in args.cases.split(",") if c]
    results, explains, memory = [], {}, {}
    for username in wanted_users:
        user = User.objects.get(username=username)
        is_county = username == "county"
        scope = Organization.objects.get(depth=1) if is_county else township
        members_in_scope = Member.objects.filter(
            org_path__gte=scope.path, org_path__lte=scope.path + "Z" * 40, status="active"
        ).count()
        base = {"user": username, "scope": scope.name, "scope_members": members_in_scope}
        for case, (fn, heavy) in selector_cases(user, township, is_county, today).items():
            if wanted_cases and not any(w in case for w in wanted_cases):
                continue
            runs, warmup = (args.heavy, 0) if heavy else (args.requests, args.warmup)
            r = timed(fn, runs, warmup, heavy)
            results.append({**base, "path": "selector", "case": case, **r})
            console.print(results[-1])
            if args.explain and case == "shape_report computed" and heavy:
                explains[f"{username} {case}"] = explain(fn)
            if is_county and case == "shape_report computed":
                memory = memory_of(fn)
                memory.update(cache_round_trip(user))
                console.print({"memory": memory})
        client = Client()
        client.force_login(user)
        pages = [(p, False) for p in PAGES] + [(p, True) for p in PAGES if p in CACHED_PAGES]
        for page, cold in pages:
            case = page + (" cold" if cold else "")
            if wanted_cases and not any(w in case for w in wanted_cases):
                continue
            try:
                probe = client.get(page)
            except Exception as exc:  # noqa: BLE001 - pages under construction by others
                error = f"{type(exc).__name__}: {exc}"[:300]
                results.append({**base, "path": "page", "case": case, "error": error})
                console.print(f"[red]{page}: {error}[/red]")
                continue
            if probe.status_code == 404:
                results.append(
                    {**base, "path": "page", "case": case, "status": 404, "missing": True}
                )
                console.print(f"[yellow]{page}: 404, skipped[/yellow]")
                continue
            fn = http_fn(client, page, cold)
            t = time.perf_counter()
            fn()
            heavy = time.perf_counter() - t > 1.0  # a slow page: a few runs only
            runs, warmup = (args.heavy, 0) if heavy else (args.requests, args.warmup)
            r = timed(fn, runs, warmup, heavy)
            results.append({**base, "path": "page", "case": case, **r})
            console.print(results[-1])

    if args.member_index:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP INDEX IF EXISTS {MEMBER_INDEX}")
    ratios = compute_ratios(results)
    figures = {
        "machine": {
            **seed_machine(),
            "postgresql": pg_version,
            "shared_buffers": shared_buffers,
            "load_average_at_start": load_at_start,
            "load_average_when_timing_began": quiet["load_average"],
            "load_average_at_end": load(),
            "waited_for_quiet_seconds": quiet["waited_seconds"],
        },
        "arguments": vars(args),
        "aims": AIMS,
        "database": database,
        "built": built,
        "life_cycle": life_cycle,
        "results": results,
        "shape_report_memory": memory,
        "ratios": ratios,
        "explain": explains,
    }

    table = Table(title="Organisation life cycle, server side (ms)")
    for col in (
        "user",
        "path",
        "case",
        "queries",
        "sql ms (median)",
        "rows",
        "median",
        "p95",
        "runs",
        "load",
    ):
        table.add_column(col, justify="left" if col in ("user", "path", "case") else "right")
    for r in results:
        table.add_row(
            r["user"],
            r["path"],
            r["case"],
            str(r.get("queries", "")),
            str(r.get("sql_median_ms", "")),
            str(r.get("count", r.get("rows", r.get("bytes", "")))),
            str(r.get("median_ms", "404" if r.get("missing") else r.get("error", "")[:30])),
            str(r.get("p95_ms", "")),
            str(r.get("runs_ms", r.get("runs", ""))),
            str(r.get("load_after", "")),
        )
    console.print(table)
    console.print({"ratios": ratios, "memory": memory})
    out = (
        HERE
        / "results"
        / (f"org_lifecycle-{args.label}.json" if args.label else "org_lifecycle.json")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, ensure_ascii=False, indent=2, default=str) + "\n")
    console.print(f"written {out.relative_to(ROOT)}")


def compute_ratios(results: list[dict]) -> dict:
    """Medians divided: whole tree / township, cold / warm, whole tree / one township, and
    before (BEFORE: the code before the rework and the cache) / now."""
    med = {(r["user"], r["path"], r["case"]): r.get("median_ms") for r in results}

    def ratio(a, b):
        x, y = med.get(a), med.get(b)
        return round(x / y, 1) if x and y else None

    out = {}
    for path, case in {(r["path"], r["case"]) for r in results}:
        value = ratio(("county", path, case), ("town", path, case))
        if value is not None:
            out[f"county / town: {case}"] = value
    pairs = (
        ("selector", "shape_counts cold", "shape_counts warm"),
        ("selector", "shape_report first request", "shape_report cached"),
        ("selector", "shape_report computed", "shape_report cached"),
        ("page", "/committees/shape/ cold", "/committees/shape/"),
        ("page", "/committees/home-card/ cold", "/committees/home-card/"),
    )
    for user in ("county", "town"):
        for path, cold, warm in pairs:
            value = ratio((user, path, cold), (user, path, warm))
            if value is not None:
                out[f"{user}: {cold} / {warm}"] = value
    value = ratio(
        ("county", "selector", "shape_report computed"),
        ("county", "selector", "shape_report (one township) computed"),
    )
    if value is not None:
        out["county: shape_report computed, whole tree / one township"] = value
    for (user, _path, case), now in med.items():
        before = BEFORE.get((user, case))
        if before and now:
            out[f"{user}: {case}, before / now"] = round(before / now, 1)
    return dict(sorted(out.items()))


if __name__ == "__main__":
    main()
