"""Benchmark: Party dues (issue 5) at 1,000,000 members on PostgreSQL.

    DANGJIAN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/dangjian_bench_dues \\
    DANGJIAN_DATA_DIR=/tmp/h_bench \\
        nohup .venv/bin/python bench/dues.py > /tmp/h_bench/dues.log 2>&1 &

Builds the data set once and keeps it (the database named in the URL must be PostgreSQL; it is
dropped and re-created with --reseed, or when it does not hold the expected tree):

1. the tree and members of `dangjian.core.seeding.seed` (~50,000 organisations, 1,000,000
   members), as bench/org_lifecycle.py seeds them; the seeder's probationary members were
   admitted during the last 364 days, so many of them joined during the year benchmarked;
2. the year's moves, written in bulk (not through the services, no signals): transfers within
   the platform (--transfers, share of the members), deaths and leavings (--endings), mobile
   stays at a host of the platform with their mobile_out / mobile_back events (--stays) and
   approved hardship relief (--reliefs); the member rows are brought in step (organisation,
   path, status, mobile) as the services would;
3. a yearly base for every member but a few (--no-base), by category from the member's job
   (farmers, students, retired, unemployed, in service), amounts by `services.compute` (the
   rules), a few set by hand, written with COPY.

Then, unless --phases says otherwise, times on the kept data set:

- generate: every ledger line of the year is deleted (TRUNCATE of lines, totals, payments and
  allocations: benchmark data only), then `ledger.generate(year, None)` for the whole tree,
  wall time split into the SQL fast path (plain members), the list of moving members, the
  per-member path (`sync_members`) and the totals; peak RSS growth (getrusage); a second run
  (idempotent) and the ratio; then a third run under tracemalloc after deleting the moving
  members' lines (it re-creates them: the per-member path's Python heap; the plain path is one
  SQL statement per chunk);
- pay: about 90 % of the lines paid by one UPDATE (a few members pay nothing from spring on: the
  arrears), a few partly; then `ledger.refresh_subtree_totals(year, None)` timed;
- report: `selectors.collection_report(user, root, year)` as the superuser and as `county`
  (organisation administrator of the root), the first call on a new connection, then --requests
  runs (median, p95);
- grid: the branch grid page `/dues/org/<pk>/<year>/` through Django's test client (as `county`)
  for a branch of typical size and the largest branch; while the page does not exist,
  `selectors.grid(org, year)` + `selectors.month_totals(org, year)` instead (said so);
- arrears: `selectors.arrears(county, org, today)` for a township committee of a few thousand
  members and for the whole county.

Prints a table and writes bench/results/dues[-<label>].json and .md.
"""

import argparse
import datetime
import gc
import json
import os
import random
import resource
import sys
import time
import tracemalloc
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))

sys.path.insert(0, str(HERE))  # the shared helpers in bench/seed.py and org_lifecycle.py

from org_lifecycle import (  # noqa: E402
    build_tree,
    data_set_ok,
    fresh_roles,
    http_fn,
    load,
    migrate,
    timed,
    wait_for_quiet,
)
from seed import create_database, database_name  # noqa: E402
from seed import machine as seed_machine  # noqa: E402

MARK = "bench:dues"  # the detail of the events this script writes
PHASES = ("generate", "pay", "report", "grid", "arrears")
AIMS = {"generate_seconds": 300, "report_ms": 2000, "grid_ms": 100}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--orgs", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--year", type=int, default=0, help="the year (default: this year)")
    parser.add_argument("--transfers", type=float, default=0.015, help="share moved in the year")
    parser.add_argument("--endings", type=float, default=0.004, help="share died or left")
    parser.add_argument("--stays", type=float, default=0.006, help="share away at a host")
    parser.add_argument("--reliefs", type=float, default=0.001, help="share with relief")
    parser.add_argument("--no-base", type=float, default=0.008, help="share without a base")
    parser.add_argument("--reseed", action="store_true", help="drop the database and seed again")
    parser.add_argument(
        "--rebuild-dues", action="store_true", help="write the moves and bases again"
    )
    parser.add_argument("--build-only", action="store_true", help="build the data set and stop")
    parser.add_argument("--phases", default=",".join(PHASES), help="comma-separated phases")
    parser.add_argument("--no-memory-run", action="store_true", help="skip the tracemalloc run")
    parser.add_argument(
        "--memory-batches", type=int, default=20, help="thousands of moving members re-created"
    )
    parser.add_argument(
        "--ledger-module",
        default="",
        metavar="PATH",
        help="time a private copy of dues/ledger.py instead (a proposed change), in this process",
    )
    parser.add_argument("--requests", type=int, default=20, help="timed calls per cheap case")
    parser.add_argument("--page-requests", type=int, default=100, help="timed grid requests")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument(
        "--synthetic",
        type=lambda text: [int(x) for x in text.split(",") if x],
        default=[150, 400],
        help="also time the grid page of branches of these sizes (rolled back)",
    )
    parser.add_argument("--heavy", type=int, default=5, help="timed calls per heavy case")
    parser.add_argument("--wait-load", type=float, default=1.5)
    parser.add_argument("--wait-max", type=int, default=300)
    parser.add_argument("--label", default="")
    return parser.parse_args()


def log(console, message: str) -> None:
    console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {message}")


def sql(statement: str, params=None):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])
        return cursor.rowcount


def scalar(statement: str, params=None):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])
        return cursor.fetchone()[0]


def rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# ---- the year's moves and bases ------------------------------------------------------------


def use_ledger_module(path: str) -> None:
    """Load a copy of dangjian/dues/ledger.py (a proposed change) in place of the real one, in
    this process only: every later `from dangjian.dues import ledger` gets the copy."""
    import importlib.util

    import dangjian.dues

    spec = importlib.util.spec_from_file_location("dangjian.dues.ledger", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["dangjian.dues.ledger"] = module
    spec.loader.exec_module(module)
    dangjian.dues.ledger = module


def skip_demo_dues() -> None:
    """The seeder's demo dues (`dues.demo.seed_dues`: two years of bases, both ledgers and
    their payments, object by object) are for the demo database; here the bases and moves are
    written below and the ledger is what is timed. Patched out in this process only."""
    try:
        from dangjian.dues import demo
    except ImportError:
        return
    demo.seed_dues = lambda *args, **kwargs: {}


def dues_data_ok(year: int) -> str:
    """'' when the moves and bases of the year are there, else why not."""
    from dangjian.dues.models import DuesBase
    from dangjian.members.models import Member, StandingEvent

    if not StandingEvent.objects.filter(detail=MARK, occurred_on__year=year).exists():
        return "no moves written for the year"
    bases = DuesBase.objects.filter(year=year).count()
    if bases < Member.objects.count() * 0.9:
        return f"{bases:,} bases for {year}"
    return ""


def day_in(rng: random.Random, first: datetime.date, last: datetime.date) -> datetime.date:
    return first + datetime.timedelta(days=rng.randint(0, (last - first).days))


def build_moves(args, console, year: int, today: datetime.date) -> dict:
    """Transfers, endings, mobile stays and relief of the year, in bulk, for members with no
    event since 1 January (so every timeline stays valid)."""
    from django.db import transaction

    from dangjian.core.models import Organization
    from dangjian.dues.models import Relief
    from dangjian.members.models import Member, StandingEvent
    from dangjian.transfers.models import MobileStay

    rng = random.Random(args.seed + 55)
    first = datetime.date(year, 1, 1)
    last = min(today, datetime.date(year, 12, 31))
    t0 = time.perf_counter()
    with transaction.atomic():
        # Undo an earlier build (members moved back where the seed put them is not needed:
        # the moved ones are simply moved again from where they are).
        MobileStay.objects.filter(note=MARK).delete()
        Relief.objects.filter(reason=MARK).delete()
        StandingEvent.objects.filter(detail=MARK).delete()
        quiet = list(
            Member.objects.filter(status="active", joined_on__lt=first)
            .exclude(events__occurred_on__gte=first)
            .values_list("id", "organization_id", "name")
        )
        branches = list(
            Organization.objects.filter(status="active", kind__in=["branch", "joint_branch"])
            .order_by("path")
            .values_list("id", "path")
        )
        paths = dict(branches)
        n = len(quiet)
        counts = {
            "transfers": int(args.members * args.transfers),
            "endings": int(args.members * args.endings),
            "stays": int(args.members * args.stays),
            "reliefs": int(args.members * args.reliefs),
        }
        chosen = rng.sample(range(n), min(n, sum(counts.values())))
        picks = {}
        at = 0
        for kind, k in counts.items():
            picks[kind] = [quiet[i] for i in chosen[at : at + k]]
            at += k
        events = []
        moved: dict[int, int] = {}
        for member_id, org_id, _name in picks["transfers"]:
            to_id = rng.choice(branches)[0]
            while to_id == org_id:
                to_id = rng.choice(branches)[0]
            on = day_in(rng, datetime.date(year, 1, 2), last)
            events.append(
                StandingEvent(
                    member_id=member_id,
                    kind="transferred",
                    occurred_on=on,
                    organization_id=to_id,
                    detail=MARK,
                )
            )
            moved[member_id] = to_id
        ended: dict[str, list[int]] = defaultdict(list)
        for member_id, _org_id, _name in picks["endings"]:
            kind = "deceased" if rng.random() < 0.8 else rng.choice(["left", "removed"])
            on = day_in(rng, datetime.date(year, 1, 2), last)
            events.append(
                StandingEvent(member_id=member_id, kind=kind, occurred_on=on, detail=MARK)
            )
            ended[kind].append(member_id)
        stays, away = [], []
        for member_id, org_id, name in picks["stays"]:
            host = rng.choice(branches)[0]
            while host == org_id:
                host = rng.choice(branches)[0]
            since = day_in(rng, datetime.date(year, 1, 2), last)
            back = since + datetime.timedelta(days=rng.randint(45, 240))
            returned = back if back <= last and rng.random() < 0.4 else None
            stays.append(
                MobileStay(
                    member_id=member_id,
                    person_name=name,
                    home_org_id=org_id,
                    host_org_id=host,
                    destination="bench",
                    since=since,
                    expected_return=back,
                    returned_on=returned,
                    state="returned" if returned else "active",
                    note=MARK,
                )
            )
            events.append(
                StandingEvent(
                    member_id=member_id, kind="mobile_out", occurred_on=since, detail=MARK
                )
            )
            if returned:
                events.append(
                    StandingEvent(
                        member_id=member_id, kind="mobile_back", occurred_on=returned, detail=MARK
                    )
                )
            else:
                away.append(member_id)
        reliefs = []
        for member_id, org_id, _name in picks["reliefs"]:
            exempt = rng.random() < 0.5
            start = rng.randint(1, 6)
            reliefs.append(
                Relief(
                    member_id=member_id,
                    organization_id=org_id,
                    year=year,
                    from_month=start,
                    to_month=12,
                    kind="exempt" if exempt else "reduce",
                    amount=None if exempt else Decimal("0.20"),
                    reason=MARK,
                    branch_decided_on=datetime.date(year, start, 1),
                    state="approved",
                    signed_on=datetime.date(year, start, 1),
                )
            )
        StandingEvent.objects.bulk_create(events, batch_size=5000)
        MobileStay.objects.bulk_create(stays, batch_size=5000)
        Relief.objects.bulk_create(reliefs, batch_size=5000)
        # The member rows follow their timelines, as the services keep them.
        by_org: dict[int, list[int]] = defaultdict(list)
        for member_id, to_id in moved.items():
            by_org[to_id].append(member_id)
        for to_id, ids in by_org.items():
            Member.objects.filter(pk__in=ids).update(organization_id=to_id, org_path=paths[to_id])
        for kind, ids in ended.items():
            Member.objects.filter(pk__in=ids).update(status=kind)
        Member.objects.filter(pk__in=away).update(mobile=True, mobile_destination="bench")
    seconds = time.perf_counter() - t0
    in_year = scalar(
        "SELECT count(DISTINCT member_id) FROM members_standingevent WHERE occurred_on >= %s",
        [first],
    )
    admitted = scalar(
        "SELECT count(*) FROM members_standingevent WHERE kind = 'admitted' AND occurred_on >= %s",
        [first],
    )
    became_full = scalar(
        "SELECT count(*) FROM members_standingevent "
        "WHERE kind = 'became_full' AND occurred_on >= %s",
        [first],
    )
    out = {
        **{k: len(v) for k, v in picks.items()},
        "events_written": len(events),
        "endings_by_kind": {k: len(v) for k, v in ended.items()},
        "stays_still_away": len(away),
        "seeded_admissions_in_year": admitted,
        "seeded_became_full_in_year": became_full,
        "members_with_an_event_in_year": in_year,
        "seconds": round(seconds, 1),
    }
    log(console, f"moves: {out}")
    return out


def category_of(job: str) -> str:
    return {"02": "farmer", "06": "student", "08": "retired", "10": "unemployed"}.get(
        job, "in_service"
    )


def build_bases(args, console, year: int) -> dict:
    """A base for every member but a share (--no-base), by the rules (services.compute), with
    COPY; a few amounts set by hand."""
    from django.db import connection, transaction
    from django.utils import timezone

    from dangjian.dues import services

    rng = random.Random(args.seed + 56)
    t0 = time.perf_counter()
    now = timezone.now()
    by_category: Counter = Counter()
    memo: dict[tuple[str, Decimal], tuple] = {}
    rows = 0
    with transaction.atomic():
        sql("DELETE FROM dues_duesbase WHERE year = %s", [year])
        with connection.cursor() as cursor:
            cursor.execute("SELECT id, job_category FROM members_member ORDER BY id")
            members = cursor.fetchall()
        raw = connection.connection  # psycopg 3: COPY
        columns = (
            "member_id, year, category, base, computed, override, override_reason, "
            "rule_version, declared_by_id, declared_at"
        )
        with raw.cursor() as cur, cur.copy(f"COPY dues_duesbase ({columns}) FROM STDIN") as copy:
            for member_id, job in members:
                if rng.random() < args.no_base:
                    continue
                category = category_of(job)
                if category == "in_service":
                    base = Decimal(round(rng.lognormvariate(8.4, 0.45)))  # median ~4,450
                elif category == "retired":
                    base = Decimal(round(rng.lognormvariate(8.2, 0.35)))  # median ~3,650
                elif category == "farmer":
                    base = rng.choice((Decimal("0.20"), Decimal("0.50"), Decimal("1.00")))
                else:
                    base = None
                key = (category, base)
                if key not in memo:
                    memo[key] = services.compute(category, base, year)
                base_value, computed, version = memo[key]
                override, reason = None, ""
                if rng.random() < 0.002:
                    override, reason = (computed * 2).quantize(Decimal("0.01")), "bench: by hand"
                copy.write_row(
                    (
                        member_id,
                        year,
                        category,
                        base_value,
                        computed,
                        override,
                        reason,
                        version,
                        None,
                        now,
                    )
                )
                by_category[category] += 1
                rows += 1
    sql("ANALYZE dues_duesbase")
    out = {
        "bases": rows,
        "by_category": dict(by_category),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    log(console, f"bases: {out}")
    return out


# ---- generate ------------------------------------------------------------------------------


class Clock:
    """Time spent in named functions of dues.ledger (patched in this process) and in the plain
    path's INSERT … SELECT (by an execute wrapper)."""

    def __init__(self):
        from django.db import connection

        from dangjian.dues import ledger

        self.seconds: Counter = Counter()
        self.calls: Counter = Counter()
        for name in ("moving_members", "sync_members", "refresh_subtree_totals"):
            original = getattr(ledger, name)
            setattr(ledger, name, self._wrap(name, original))
        # COMMIT waits for the WAL to reach the disk: timed apart from the statements, by the
        # part of generate() it ends.
        commit = connection.commit

        def timed_commit():
            t = time.perf_counter()
            try:
                return commit()
            finally:
                if self.calls["refresh_subtree_totals"]:
                    part = "commit_totals"
                elif self.calls["sync_members"]:
                    part = "commit_per_member"
                else:
                    part = "commit_plain"
                self.seconds[part] += time.perf_counter() - t

        connection.commit = timed_commit

    def _wrap(self, name, fn):
        def timed_fn(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - t
                self.calls[name] += 1

        return timed_fn

    def __call__(self, execute, statement, params, many, context):
        t = time.perf_counter()
        try:
            return execute(statement, params, many, context)
        finally:
            if "FROM members_member m" in statement and "INSERT INTO dues_ledgerline" in statement:
                self.seconds["plain_sql"] += time.perf_counter() - t
                self.calls["plain_sql"] += 1
            elif statement.lstrip().startswith("SELECT COUNT(*)"):
                self.seconds["count"] += time.perf_counter() - t

    def reset(self):
        self.seconds.clear()
        self.calls.clear()


class StepLog:
    """generate()'s progress, a line every so often."""

    def __init__(self, console):
        self.console, self.steps, self.last = console, 0, 0.0

    def total(self, n):
        self.steps = n

    def advance(self, done):
        now = time.monotonic()
        if now - self.last > 20 or done >= self.steps:
            self.last = now
            log(self.console, f"  generate: step {done:,} of {self.steps:,}")


def one_generation(console, clock, year: int, label: str, memory: bool = False) -> dict:
    from django.db import connection

    from dangjian.dues import ledger

    clock.reset()
    gc.collect()
    rss_before = rss_mib()
    load_before = load()
    if memory:
        tracemalloc.start()
        tracemalloc.reset_peak()
    t = time.perf_counter()
    with connection.execute_wrapper(clock):
        result = ledger.generate(year, None, progress=StepLog(console))
    wall = time.perf_counter() - t
    out = {"run": label, "wall_seconds": round(wall, 1), **result}
    if memory:
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out["tracemalloc_peak_mib"] = round(peak / 2**20, 1)
    out["max_rss_before_mib"], out["max_rss_after_mib"] = rss_before, rss_mib()
    out["max_rss_growth_mib"] = round(out["max_rss_after_mib"] - rss_before, 1)
    parts = {k: round(v, 1) for k, v in clock.seconds.items()}
    out["parts_seconds"] = parts
    out["calls"] = dict(clock.calls)
    out["lines_per_second"] = round(result["lines"] / wall) if wall else None
    # The per-member path: listing the moving members and bringing their lines in step.
    per_member = clock.seconds["moving_members"] + clock.seconds["sync_members"]
    out["per_member_share"] = round(per_member / wall, 3) if wall else None
    out["load_before"], out["load_after"] = load_before, load()
    log(console, f"{label}: {out}")
    return out


def memory_run(console, year: int, batches: int) -> dict:
    """The per-member path's Python heap (tracemalloc slows it 3 to 4 times, so not during the
    timed runs): the moving members listed, then the lines of the first `batches` thousand
    deleted and re-created by `sync_members` a thousand at a time, as generate() does. The plain
    path holds no rows in Python (one SQL statement per chunk)."""
    from django.db import transaction

    from dangjian.dues import ledger

    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    t = time.perf_counter()
    moving = ledger.moving_members(year, None)
    listed_peak = tracemalloc.get_traced_memory()[1]
    chosen = moving[: batches * 1000]
    # Plain SQL: QuerySet.delete() would load every line to look for allocations.
    deleted = sql(
        "DELETE FROM dues_ledgerline WHERE year = %s AND member_id = ANY(%s)", [year, chosen]
    )
    tracemalloc.reset_peak()
    for i in range(0, len(chosen), 1000):
        with transaction.atomic():
            ledger.sync_members(chosen[i : i + 1000], [year])
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    with transaction.atomic():
        ledger.refresh_subtree_totals(year, None)
    out = {
        "moving_members": len(moving),
        "moving_list_peak_mib": round(listed_peak / 2**20, 1),
        "members_re_created": len(chosen),
        "lines_re_created": deleted,
        "sync_batches_peak_mib": round(peak / 2**20, 1),
        "seconds_under_tracemalloc": round(time.perf_counter() - t, 1),
    }
    log(console, f"memory: {out}")
    return out


def phase_generate(args, console, year: int) -> dict:
    from django.db import connection

    from dangjian.dues import ledger

    clock = Clock()
    log(console, "generate: emptying the ledger (TRUNCATE, benchmark data only)")
    sql(
        "TRUNCATE dues_allocation, dues_statementline, dues_payment, dues_ledgerline, "
        "dues_monthtotal"
    )
    quiet = wait_for_quiet(console, args.wait_load, args.wait_max)
    runs = [one_generation(console, clock, year, "first")]
    t = time.perf_counter()
    sql("ANALYZE dues_ledgerline")
    analyze = round(time.perf_counter() - t, 1)
    runs.append(one_generation(console, clock, year, "second (idempotent)"))
    moving = ledger.moving_members(year, None)
    memory = None if args.no_memory_run else memory_run(console, year, args.memory_batches)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size('dues_ledgerline')")
        size = cursor.fetchone()[0]
        cursor.execute(
            "SELECT status, count(*) FROM dues_ledgerline WHERE year = %s GROUP BY 1", [year]
        )
        statuses = dict(cursor.fetchall())
        cursor.execute(
            "SELECT count(*) FILTER (WHERE hosted), count(DISTINCT organization_id) "
            "FROM dues_ledgerline WHERE year = %s",
            [year],
        )
        hosted, orgs = cursor.fetchone()
    first, second = runs[0]["wall_seconds"], runs[1]["wall_seconds"]
    return {
        "ledger_module": ledger.__file__,
        "load_when_timing_began": quiet["load_average"],
        "waited_for_quiet_seconds": quiet["waited_seconds"],
        "runs": runs,
        "per_member_heap": memory,
        "analyze_after_first_seconds": analyze,
        "first_over_second": round(first / second, 1) if second else None,
        "moving_members": len(moving),
        "moving_share": round(len(moving) / max(runs[0]["lines"] / 12, 1), 4),
        "lines_by_status": statuses,
        "hosted_lines": hosted,
        "organisations_collecting": orgs,
        "ledger_table_mib": round(size / 2**20),
    }


# ---- pay -----------------------------------------------------------------------------------

# A deterministic pseudo-random number 0..999 per member (and month).
_H = "mod(l.member_id::bigint * 2654435761, 1000)"
_HM = "mod(l.member_id::bigint * 2654435761 + l.month * 40503, 1000)"

PAY_SQL = f"""
UPDATE dues_ledgerline l SET
    paid = CASE WHEN {_HM} < 10 THEN round(l.due / 2, 2) ELSE l.due END,
    status = CASE WHEN {_HM} < 10 AND round(l.due / 2, 2) > 0 THEN 'partial' ELSE 'paid' END,
    paid_on = make_date(l.year, l.month, 10 + mod(l.member_id, 15)::int)
WHERE l.year = %(year)s AND l.status = 'unpaid' AND (
    CASE
      -- arrears: paid until some month of the spring, nothing since
      WHEN {_H} < 25 THEN l.month < 1 + mod(l.member_id, 5)
      -- irregular payers
      WHEN {_H} < 75 THEN {_HM} < 600
      -- the others: the months gone nearly all, this month mostly, next months some
      WHEN l.month < %(month)s THEN {_HM} < 985
      WHEN l.month = %(month)s THEN {_HM} < 900
      ELSE {_HM} < 500
    END)
"""


def phase_pay(args, console, year: int, today: datetime.date) -> dict:
    from dangjian.dues import ledger

    month = today.month if today.year == year else 13
    log(console, "pay: marking about 90 % of the lines paid (one UPDATE)")
    t = time.perf_counter()
    updated = sql(PAY_SQL, {"year": year, "month": month})
    update_seconds = time.perf_counter() - t
    t = time.perf_counter()
    sql("VACUUM ANALYZE dues_ledgerline")
    vacuum_seconds = time.perf_counter() - t
    total = scalar("SELECT count(*) FROM dues_ledgerline WHERE year = %s", [year])
    log(console, f"pay: {updated:,} of {total:,} lines; refresh_subtree_totals …")
    quiet = wait_for_quiet(console, args.wait_load, args.wait_max)
    runs = []
    for _ in range(2):
        t = time.perf_counter()
        ledger.refresh_subtree_totals(year, None)
        runs.append(round(time.perf_counter() - t, 2))
    sql("ANALYZE dues_monthtotal")
    out = {
        "lines_paid_or_partly": updated,
        "lines": total,
        "share_paid": round(updated / total, 3),
        "update_seconds": round(update_seconds, 1),
        "vacuum_analyze_seconds": round(vacuum_seconds, 1),
        "refresh_subtree_totals_seconds": runs,
        "monthtotal_rows": scalar("SELECT count(*) FROM dues_monthtotal WHERE year = %s", [year]),
        "load_when_timing_began": quiet["load_average"],
    }
    log(console, f"pay: {out}")
    return out


# ---- reads ---------------------------------------------------------------------------------


def phase_report(args, console, year: int) -> list[dict]:
    from django.db import connection

    from dangjian.core.models import Organization, User
    from dangjian.dues import selectors

    root = Organization.objects.get(depth=1)
    results = []
    for username in ("admin", "county"):
        user = User.objects.get(username=username)

        def run(user=user):
            report = selectors.collection_report(fresh_roles(user), root, year)
            total = report["total"]
            return {
                "children": len(report["children"]),
                "rate": total["rate"],
                "lines": total["lines"],
            }

        connection.close()  # the first call on a new connection: "cold"
        r = timed(run, args.requests, args.warmup, True)
        r.update(user=username, case="collection_report whole tree", org=root.name)
        results.append(r)
        log(console, str(r))
    return results


def pick_branches() -> dict:
    """A branch of typical size (the median by lines collected) and the largest."""
    from dangjian.core.models import Organization

    with_counts = list(
        Organization.objects.raw(
            "SELECT o.id, o.path, t.n FROM core_organization o JOIN ("
            "  SELECT organization_id, max(lines) AS n FROM dues_monthtotal GROUP BY 1"
            ") t ON t.organization_id = o.id WHERE o.kind IN ('branch', 'joint_branch') "
            "ORDER BY t.n, o.path"
        )
    )
    typical = with_counts[len(with_counts) // 2]
    largest = with_counts[-1]
    return {"typical branch": typical, "largest branch": largest}


def phase_grid(args, console, year: int) -> list[dict]:
    from django.test import Client
    from django.urls import NoReverseMatch, Resolver404, resolve, reverse

    from dangjian.core.models import User
    from dangjian.dues import selectors

    county = User.objects.get(username="county")
    client = Client()
    client.force_login(county)
    results = []
    for case, org in pick_branches().items():
        base = {"user": "county", "case": case, "org": org.name, "lines_a_month": org.n}
        try:
            url = reverse("dues:grid", args=[org.pk, year])
        except NoReverseMatch:
            url = f"/dues/org/{org.pk}/{year}/"
        try:
            resolve(url)
            page = True
        except Resolver404:
            page = False
        if page:
            r = timed(http_fn(client, url), args.page_requests, args.warmup, False)
            results.append({**base, "path": f"page {url}", **r})
        else:

            def run(org=org):
                rows = selectors.grid(org, year)
                selectors.month_totals(org, year)
                return {"rows": len(rows)}

            r = timed(run, args.page_requests, args.warmup, False)
            results.append({**base, "path": "selector grid + month_totals (no page yet)", **r})
        log(console, str(results[-1]))
    if results and results[-1]["path"].startswith("page"):
        results += synthetic_branches(args, console, client, org, url, year)
    return results


def synthetic_branches(args, console, client, org, url: str, year: int) -> list[dict]:
    """The page of a branch far larger than the seeder makes (which caps branches at a few
    dozen members): other members' lines of the year moved into the largest branch inside a
    transaction that is rolled back (the test client uses the same connection)."""
    from django.db import transaction

    results = []
    for size in args.synthetic:
        with transaction.atomic():
            moved = sql(
                "UPDATE dues_ledgerline SET organization_id = %s, org_path = %s "
                "WHERE year = %s AND member_id IN (SELECT DISTINCT member_id FROM dues_ledgerline "
                "WHERE year = %s AND organization_id <> %s ORDER BY member_id LIMIT %s)",
                [org.pk, org.path, year, year, org.pk, max(size - org.n, 0)],
            )
            r = timed(http_fn(client, url), args.page_requests, args.warmup, False)
            transaction.set_rollback(True)
        results.append(
            {
                "user": "county",
                "case": f"branch of {size} members (synthetic)",
                "org": org.name,
                "lines_moved_in": moved,
                "path": f"page {url}",
                **r,
            }
        )
        log(console, str(results[-1]))
    return results


def pick_township(low: int = 2000, high: int = 6000):
    """A depth-2 committee with a few thousand members (the nearest to 3,000)."""
    from dangjian.core.models import Organization

    rows = list(
        Organization.objects.raw(
            "SELECT o.id, o.path, o.name, (SELECT count(*) FROM members_member m "
            "  WHERE m.org_path >= o.path AND m.org_path <= o.path || 'ZZZZZZZZZZZZZZZZZZZZ' "
            "  AND m.status = 'active') AS n "
            "FROM core_organization o WHERE o.depth = 2 AND o.kind = 'committee'"
        )
    )
    fitting = [o for o in rows if low <= o.n <= high] or rows
    return min(fitting, key=lambda o: abs(o.n - 3000))


def phase_arrears(args, console, today: datetime.date) -> list[dict]:
    from dangjian.core.models import Organization, User
    from dangjian.dues import selectors

    county = User.objects.get(username="county")
    township = pick_township()
    root = Organization.objects.get(depth=1)
    results = []
    for case, org, heavy in (
        ("arrears township", township, False),
        ("arrears whole county", root, True),
    ):

        def run(org=org):
            rows = selectors.arrears(fresh_roles(county), org, today)
            return {"rows": len(rows), "owed": str(sum((r["owed"] for r in rows), Decimal(0)))}

        runs, warmup = (args.heavy, 1) if heavy else (args.requests, args.warmup)
        r = timed(run, runs, warmup, True)
        members = getattr(org, "n", None)
        results.append({"user": "county", "case": case, "org": org.name, "members": members, **r})
        log(console, str(results[-1]))
    # How many are flagged in all (the selector lists at most 5,000).
    return results


def flagged_in_all(year: int, today: datetime.date) -> int:
    from dangjian.dues import selectors

    window = selectors._window(today, 6)
    cond = " OR ".join(f"(year = {y} AND month = {m})" for y, m in window)
    return scalar(
        "SELECT count(*) FROM (SELECT member_id FROM dues_ledgerline "
        f"WHERE status = 'unpaid' AND ({cond}) GROUP BY member_id HAVING count(*) = %s) t",
        [len(window)],
    )


# ---- output --------------------------------------------------------------------------------


def markdown(figures: dict) -> str:
    out = ["| phase | case | figure |", "|---|---|---|"]
    g = figures.get("generate")
    if g:
        for run in g["runs"]:
            parts = ", ".join(f"{k} {v}" for k, v in run["parts_seconds"].items())
            out.append(
                f"| generate | {run['run']} | {run['wall_seconds']} s, "
                f"{run['lines_per_second']:,} lines/s, {run['lines']:,} lines; {parts}; "
                f"RSS +{run['max_rss_growth_mib']} MiB"
                + (
                    f", heap peak {run['tracemalloc_peak_mib']} MiB"
                    if "tracemalloc_peak_mib" in run
                    else ""
                )
                + " |"
            )
        out.append(f"| generate | first / second | {g['first_over_second']}× |")
        out.append(
            f"| generate | moving members | {g['moving_members']:,} ({g['moving_share']:.1%}) |"
        )
    p = figures.get("pay")
    if p:
        out.append(
            f"| pay | refresh_subtree_totals | {p['refresh_subtree_totals_seconds']} s "
            f"({p['share_paid']:.1%} of {p['lines']:,} lines paid) |"
        )
    for key in ("report", "grid", "arrears"):
        for r in figures.get(key) or []:
            what = r.get("path", "")
            out.append(
                f"| {key} | {r['case']} ({r['user']}{', ' + what if what else ''}) | "
                f"first {r.get('first_ms')} ms, median {r.get('median_ms')} ms, "
                f"p95 {r.get('p95_ms')} ms, {r.get('queries')} queries, rows "
                f"{r.get('rows', r.get('children', ''))} |"
            )
    return "\n".join(out) + "\n"


def main():
    args = parse_args()
    load_at_start = load()
    url = os.environ.get("DANGJIAN_DATABASE_URL", "")
    if not url:
        sys.exit("set DANGJIAN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/dangjian_bench_dues")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dangjian.settings")
    os.environ["DANGJIAN_ALLOWED_HOSTS"] = "testserver,127.0.0.1"
    os.environ.setdefault("DANGJIAN_DATA_DIR", "/tmp/h_bench")
    os.environ.setdefault("DANGJIAN_DEBUG", "0")
    os.environ.setdefault("DANGJIAN_LOG_LEVEL", "WARNING")
    name, _admin = database_name(url)
    fresh = create_database(url, drop=args.reseed)

    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone
    from rich.console import Console

    console = Console(width=140)
    if args.ledger_module:
        use_ledger_module(args.ledger_module)
    today = timezone.localdate()
    year = args.year or today.year
    if not fresh:
        try:
            why = data_set_ok(args.members, args.orgs)
        except Exception as exc:  # noqa: BLE001 - anything wrong: rebuild
            why = str(exc)
        if why:
            log(console, f"database {name}: {why}; seeding again")
            connection.close()
            create_database(url, drop=True)
            fresh = True
    t = time.perf_counter()
    migrate()
    migrate_seconds = time.perf_counter() - t
    build_file = HERE / "results" / "dues-build.json"
    built = json.loads(build_file.read_text()) if build_file.exists() and not fresh else {}
    if fresh:
        log(console, f"database {name}: seeding {args.orgs:,} organisations, {args.members:,} …")
        skip_demo_dues()
        built = {"tree": build_tree(args, console)}
        t = time.perf_counter()
        sql("VACUUM ANALYZE")
        built["tree"]["vacuum_analyze_seconds"] = round(time.perf_counter() - t, 1)
        log(console, str(built["tree"]))
    why = "" if args.rebuild_dues or fresh else dues_data_ok(year)
    if fresh or args.rebuild_dues or why:
        if why:
            log(console, f"dues data: {why}; writing it")
        built["year"] = year
        built["moves"] = build_moves(args, console, year, today)
        built["bases"] = build_bases(args, console, year)
        sql("ANALYZE members_member")
        sql("ANALYZE members_standingevent")
    if fresh or args.rebuild_dues or why:
        build_file.parent.mkdir(parents=True, exist_ok=True)
        build_file.write_text(json.dumps(built, ensure_ascii=False, indent=2, default=str) + "\n")
    if args.build_only:
        return

    phases = [p for p in args.phases.split(",") if p]
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
        settings_pg = {}
        for setting in (
            "shared_buffers",
            "work_mem",
            "max_wal_size",
            "synchronous_commit",
            "max_parallel_workers_per_gather",
        ):
            cursor.execute(f"SHOW {setting}")
            settings_pg[setting] = cursor.fetchone()[0]
    figures = {
        "machine": {
            **seed_machine(),
            "postgresql": pg_version,
            **settings_pg,
            "load_average_at_start": load_at_start,
        },
        "arguments": vars(args),
        "year": year,
        "today": today.isoformat(),
        "aims": AIMS,
        "database": {"name": name, "migrate_seconds": round(migrate_seconds, 2)},
        "built": built,
    }
    out = HERE / "results" / (f"dues-{args.label}.json" if args.label else "dues.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():  # phases not run this time keep their last figures
        earlier = json.loads(out.read_text())
        for phase in PHASES:
            if phase not in phases and phase in earlier:
                figures[phase] = earlier[phase]

    def save():
        figures["machine"]["load_average_at_end"] = load()
        out.write_text(json.dumps(figures, ensure_ascii=False, indent=2, default=str) + "\n")
        out.with_suffix(".md").write_text(markdown(figures))

    if "generate" in phases:
        figures["generate"] = phase_generate(args, console, year)
        save()
        phases.append("pay") if "pay" not in phases else None
    if "pay" in phases:
        figures["pay"] = phase_pay(args, console, year, today)
        figures["pay"]["flagged_members"] = flagged_in_all(year, today)
        save()
    if any(p in phases for p in ("report", "grid", "arrears")):
        quiet = wait_for_quiet(console, args.wait_load, args.wait_max)
        figures["reads_load_when_timing_began"] = quiet["load_average"]
    if "report" in phases:
        figures["report"] = phase_report(args, console, year)
        save()
    if "grid" in phases:
        figures["grid"] = phase_grid(args, console, year)
        save()
    if "arrears" in phases:
        figures["arrears"] = phase_arrears(args, console, today)
        save()
    console.print(markdown(figures), markup=False, highlight=False)
    console.print(f"written {out.relative_to(ROOT)} and .md")


if __name__ == "__main__":
    main()
