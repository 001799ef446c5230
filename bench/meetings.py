"""Benchmark: organisational life (issue 6), the compliance heat map at 1,000,000 members.

    DANGJIAN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/dangjian_bench_meetings \\
    DANGJIAN_DATA_DIR=/tmp/h_bench_meetings \\
        nohup .venv/bin/python bench/meetings.py > /tmp/h_bench_meetings/meetings.log 2>&1 &

Builds the data set once and keeps it (the database named in the URL must be PostgreSQL; it is
dropped and re-created with --reseed, or when it does not hold the expected tree):

1. the tree and members of `dangjian.core.seeding.seed` (~50,000 organisations, 1,000,000
   members), as bench/org_lifecycle.py seeds them (the demo data of dues and meetings left out);
2. a committee of --committee-branches branches under the root when no committee holds at
   least 1,500 (the seeder makes many small townships), with a local rule there (a Party lecture
   every month), so the heat map resolves local rules as it would in a province;
3. a year of meetings held, as `MonthTally` rows written with COPY (not through the services):
   for every active organisation that holds activities, each required period that has begun is
   done with the organisation's diligence (most near 95 %, some 75 %, a few 40 %: about 85 % of
   the periods ended are done), the current periods in proportion to the time gone; a meeting
   in a month of the period, sometimes two; and --meetings `Meeting` rows (held, consistent
   with the tallies) for the first branches of the committee.

Then, unless --phases says otherwise, times on the kept data set (roles reloaded before each
call, as each request does):

- heatmap: `selectors.heatmap(user, org, year)` + `heat_summary` for (a) the committee of about
  2,000 branches and (b) the whole tree, as the superuser `admin` and as `county` (organisation
  administrator of the root): the first call on a new connection, then median and p95;
- page: `/meetings/compliance/?org=&year=` through Django's test client as `county`: the
  committee, the committee with "only overdue", the whole tree, and a branch;
- sweep: `sweep.remind_due` on the 28th of December (every frequency's period ends within the
  lead time: the most work it ever does) and on the 15th of a month (nothing to do), each
  inside a transaction rolled back.

Prints a table and writes bench/results/meetings[-<label>].json and .md.
"""

import argparse
import datetime
import json
import os
import random
import sys
import time
import types
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(HERE))  # the shared helpers in bench/seed.py and org_lifecycle.py

from org_lifecycle import (  # noqa: E402
    build_tree,
    captured,
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

MARK = "bench:meetings"  # the topic prefix of the meetings this script writes
CODE = "BENCH-MTG"  # the committee it builds when the seeder made none large enough
PHASES = ("heatmap", "page", "sweep")
HOLDING = ("branch", "joint_branch", "general_branch", "group")  # kinds that hold meetings
AIMS = {"committee_ms": 300, "whole_tree_ms": 2000}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--orgs", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--year", type=int, default=0, help="the year (default: this year)")
    parser.add_argument("--committee-branches", type=int, default=2000)
    parser.add_argument("--meetings", type=int, default=4000, help="Meeting rows written")
    parser.add_argument("--reseed", action="store_true", help="drop the database and seed again")
    parser.add_argument("--rebuild", action="store_true", help="write the year's tallies again")
    parser.add_argument("--build-only", action="store_true", help="build the data set and stop")
    parser.add_argument("--phases", default=",".join(PHASES), help="comma-separated phases")
    parser.add_argument("--requests", type=int, default=20, help="timed calls per cheap case")
    parser.add_argument("--heavy", type=int, default=5, help="timed calls per whole-tree case")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--wait-load", type=float, default=1.5)
    parser.add_argument("--wait-max", type=int, default=300)
    parser.add_argument("--label", default="")
    parser.add_argument(
        "--compare-module",
        default="",
        metavar="PATH",
        help="also time heatmap from this copy of meetings/selectors.py (e.g. the one before)",
    )
    return parser.parse_args()


def log(console, message: str) -> None:
    from rich.markup import escape

    console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {escape(message)}", highlight=False)


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


def skip_demo_data() -> None:
    """The seeder's demo dues and meetings (object by object, through the services) are for the
    demo database; here the year is written in bulk below. Patched out in this process only
    (and a stand-in when the meetings demo module does not exist yet)."""
    try:
        from dangjian.dues import demo

        demo.seed_dues = lambda *args, **kwargs: {}
    except ImportError:
        pass
    try:
        from dangjian.meetings import demo as meetings_demo
    except ImportError:
        meetings_demo = types.ModuleType("dangjian.meetings.demo")
        sys.modules["dangjian.meetings.demo"] = meetings_demo
    meetings_demo.seed_meetings = lambda *args, **kwargs: {}


# ---- the data set ----------------------------------------------------------------------------


def branch_counts() -> list[tuple[int, str, int]]:
    """(id, path, branches below) of every active committee, most branches first."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.id, c.path, count(b.id) FROM core_organization c "
            "JOIN core_organization b ON b.path > c.path AND b.path <= c.path || 'ZZZZZZZZZZZZ' "
            "AND b.kind IN ('branch', 'joint_branch') AND b.status = 'active' "
            "WHERE c.kind = 'committee' AND c.status = 'active' AND c.depth > 1 "
            "GROUP BY c.id, c.path ORDER BY 3 DESC LIMIT 5"
        )
        return cursor.fetchall()


def build_committee(args, console) -> dict:
    """A committee of --committee-branches branches under the root (bulk, paths by treebeard's
    own scheme), unless one exists already (ours, or a seeded one of 1,500 or more)."""
    from django.db import transaction

    from dangjian.core.models import Organization

    ours = Organization.objects.filter(code=CODE).first()
    if ours is not None:
        return {"committee": ours.name, "built": False}
    largest = branch_counts()
    if largest and largest[0][2] >= 1500:
        return {"committee": largest[0][1], "branches": largest[0][2], "built": False}
    t0 = time.perf_counter()
    with transaction.atomic():
        root = Organization.objects.get(depth=1)
        last = Organization.objects.filter(depth=2).order_by("-path").only("path").first()
        committee = Organization.objects.create(
            path=last._inc_path(),
            depth=2,
            numchild=args.committee_branches,
            code=CODE,
            name="基准测试机关工委",
            kind="committee",
            established_on=datetime.date(2010, 1, 1),
        )
        Organization.objects.filter(pk=root.pk).update(numchild=root.numchild + 1)
        rows = []
        for i in range(1, args.committee_branches + 1):
            rows.append(
                Organization(
                    path=Organization._get_path(committee.path, committee.depth + 1, i),
                    depth=committee.depth + 1,
                    numchild=0,
                    code=f"{CODE}-{i:05d}",
                    name=f"基准测试第{i}党支部",
                    kind="branch",
                    established_on=datetime.date(2010 + i % 15, 1 + i % 12, 1),
                )
            )
        Organization.objects.bulk_create(rows, batch_size=2000)
    out = {
        "committee": committee.name,
        "branches": len(rows),
        "built": True,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    log(console, f"committee: {out}")
    return out


def built_committee_size() -> int:
    """The organisations this script added to the seeded tree (its committee and branches)."""
    from dangjian.core.models import Organization
    from dangjian.core.selectors import subtree_range

    ours = Organization.objects.filter(code=CODE).first()
    if ours is None:
        return 0
    return Organization.objects.filter(subtree_range("path", ours.path)).count()


def the_committee():
    from dangjian.core.models import Organization

    ours = Organization.objects.filter(code=CODE).first()
    if ours is not None:
        return ours
    return Organization.objects.get(pk=branch_counts()[0][0])


def meetings_data_ok(year: int) -> str:
    from dangjian.meetings.models import MonthTally

    if not MonthTally.objects.filter(year=year).exists():
        return f"no tallies for {year}"
    return ""


def diligence(rng: random.Random) -> float:
    """How likely an organisation holds what is due: most nearly always, some often, a few
    seldom (about 85 % of the periods ended are done)."""
    x = rng.random()
    if x < 0.70:
        return 0.96
    if x < 0.90:
        return 0.72
    return 0.40


def build_tallies(args, console, year: int, today: datetime.date) -> dict:
    """A year of meetings held, as month tallies (COPY), and Meeting rows for some branches."""
    from django.db import connection, transaction
    from django.utils import timezone

    from dangjian.core.models import Organization
    from dangjian.meetings import rules, selectors
    from dangjian.meetings.models import (
        ActivityType,
        FrequencyRule,
        Meeting,
        MeetingStatus,
        MonthTally,
    )

    rng = random.Random(args.seed + 66)
    t0 = time.perf_counter()
    committee = the_committee()
    types_ = selectors.active_types()
    by_code = {t.code: t for t in types_}
    last_month = today.month if year == today.year else 12
    periods_done = Counter()
    periods_due = Counter()
    tallies = 0
    with transaction.atomic():
        MonthTally.objects.filter(year=year).delete()
        Meeting.objects.filter(topic__startswith=MARK).delete()
        FrequencyRule.objects.update_or_create(
            organization=committee,
            activity_type=by_code["lecture"],
            defaults={"frequency": rules.MONTH, "note": MARK},
        )
        local = {
            (path, type_id): freq
            for path, type_id, freq in FrequencyRule.objects.values_list(
                "organization__path", "activity_type_id", "frequency"
            )
        }
        orgs = list(
            Organization.objects.filter(status="active", kind__in=HOLDING)
            .order_by("path")
            .values_list("id", "path", "kind", "established_on")
        )
        in_committee: list[tuple[int, str, int, int, int]] = []  # for the Meeting rows
        raw = connection.connection  # psycopg 3: COPY
        columns = "organization_id, org_path, activity_type_id, year, month, held"
        with (
            raw.cursor() as cur,
            cur.copy(f"COPY meetings_monthtally ({columns}) FROM STDIN") as copy,
        ):
            for org_id, path, kind, since in orgs:
                p = diligence(rng)
                mine = path.startswith(committee.path)
                for t in types_:
                    if kind not in t.kind_set:
                        continue
                    frequency = selectors.frequency_for(path, t, local)
                    held: Counter = Counter()
                    for period in rules.periods(frequency, year):
                        if period.start.month > last_month:
                            break
                        if since and period.end < since:
                            continue
                        ended = period.end < today
                        if ended:
                            periods_due[frequency] += 1
                            chance = p
                        else:
                            gone = (today - period.start).days + 1
                            chance = p * gone / ((period.end - period.start).days + 1)
                        if rng.random() >= chance:
                            continue
                        periods_done[frequency] += ended
                        months = [m for m in period.months if m <= last_month]
                        held[rng.choice(months)] += 2 if rng.random() < 0.08 else 1
                    for month, n in held.items():
                        copy.write_row((org_id, path, t.pk, year, month, n))
                        tallies += 1
                        if mine and org_id and len(in_committee) < args.meetings:
                            in_committee.append((org_id, path, t.pk, month, n))
        # Meeting rows for the committee's first branches, as many as their tallies say.
        now = timezone.now()
        rows = []
        for org_id, path, type_id, month, n in in_committee:
            for k in range(n):
                day = min(8 + 7 * k + rng.randint(0, 6), 28)
                starts = timezone.make_aware(datetime.datetime(year, month, day, 14))
                if starts > now:
                    starts = now - datetime.timedelta(hours=3)
                rows.append(
                    Meeting(
                        organization_id=org_id,
                        org_path=path,
                        activity_type_id=type_id,
                        topic=f"{MARK} {month}月",
                        starts_at=starts,
                        ends_at=starts + datetime.timedelta(hours=2),
                        status=MeetingStatus.HELD,
                        held_at=starts + datetime.timedelta(hours=2),
                    )
                )
        Meeting.objects.bulk_create(rows[: args.meetings], batch_size=2000)
    sql("ANALYZE meetings_monthtally")
    sql("ANALYZE meetings_meeting")
    ended_due = sum(periods_due.values())
    out = {
        "organisations": len(orgs),
        "tallies": tallies,
        "meetings": min(len(rows), args.meetings),
        "periods_ended": ended_due,
        "periods_ended_done_share": round(sum(periods_done.values()) / max(ended_due, 1), 3),
        "types": len(ActivityType.objects.filter(active=True)),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    log(console, f"tallies: {out}")
    return out


SECRETARY = "bench_sec_"  # user names of the secretaries this script gives the branches


def build_secretaries(args, console) -> dict:
    """An account holding the secretary role at 90 % of the branches and general branches (the
    seeder gives accounts to the demo users only), so the reminder sweep has people to tell.
    Written with bulk_create; the accounts cannot log in (unusable password)."""
    from django.db import transaction

    from dangjian.core.models import Organization, RoleAssignment, User

    rng = random.Random(args.seed + 67)
    t0 = time.perf_counter()
    with transaction.atomic():
        RoleAssignment.objects.filter(user__username__startswith=SECRETARY).delete()
        User.objects.filter(username__startswith=SECRETARY).delete()
        orgs = [
            pk
            for pk in Organization.objects.filter(
                status="active", kind__in=["branch", "joint_branch", "general_branch"]
            )
            .order_by("pk")
            .values_list("pk", flat=True)
            if rng.random() < 0.9
        ]
        users = User.objects.bulk_create(
            [
                User(username=f"{SECRETARY}{pk}", display_name=f"书记{pk}", password="!")
                for pk in orgs
            ],
            batch_size=5000,
        )
        RoleAssignment.objects.bulk_create(
            [
                RoleAssignment(user_id=u.pk, organization_id=pk, role="secretary")
                for u, pk in zip(users, orgs, strict=True)
            ],
            batch_size=5000,
        )
    out = {"secretaries": len(orgs), "seconds": round(time.perf_counter() - t0, 1)}
    log(console, f"secretaries: {out}")
    return out


# ---- timing ------------------------------------------------------------------------------------


def tally_rows(org, year: int) -> int:
    from dangjian.core.selectors import subtree_range
    from dangjian.meetings.models import MonthTally

    return (
        MonthTally.objects.filter(year=year, held__gt=0)
        .filter(subtree_range("org_path", org.path))
        .count()
    )


def selectors_from(path: str):
    """A copy of dangjian/meetings/selectors.py (say, the one before a change) loaded beside
    the real one, in this process only."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("dangjian.meetings.selectors_compared", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def phase_heatmap(args, console, year: int) -> list[dict]:
    from django.db import connection

    from dangjian.core.models import Organization, User
    from dangjian.meetings import selectors as current

    root = Organization.objects.get(depth=1)
    committee = the_committee()
    modules = [("", current)]
    if args.compare_module:
        modules.insert(
            0, (f" ({Path(args.compare_module).stem})", selectors_from(args.compare_module))
        )
    results = []
    cases = [
        (f"{case}{label}", org, heavy, selectors)
        for label, selectors in modules
        for case, org, heavy in (("committee", committee, False), ("whole tree", root, True))
    ]
    for case, org, heavy, selectors in cases:
        tallies = tally_rows(org, year)
        for username in ("admin", "county"):
            user = User.objects.get(username=username)

            def run(user=user, org=org, selectors=selectors):
                rows = selectors.heatmap(fresh_roles(user), org, year)
                summary = selectors.heat_summary(rows)
                return {
                    "rows": len(rows),
                    "overdue_branches": sum(1 for r in rows if r.overdue),
                    "overdue_in_december": summary["overdue"][11],
                }

            connection.close()  # the first call on a new connection: "cold"
            runs, warmup = (args.heavy, 1) if heavy else (args.requests, args.warmup)
            r = timed(run, runs, warmup, heavy)
            r.update(user=username, case=f"heatmap {case}", org=org.name, tallies=tallies)
            results.append(r)
            log(console, str(r))
    return results


def typical_branch(committee):
    from dangjian.core.selectors import subtree_range
    from dangjian.meetings.models import Meeting

    found = (
        Meeting.objects.filter(subtree_range("org_path", committee.path))
        .values_list("organization", flat=True)
        .first()
    )
    from dangjian.core.models import Organization

    if found:
        return Organization.objects.get(pk=found)
    return Organization.objects.filter(subtree_range("path", committee.path), kind="branch").first()


def phase_page(args, console, year: int) -> list[dict]:
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from dangjian.core.models import Organization, User

    county = User.objects.get(username="county")
    client = Client()
    client.force_login(county)
    root = Organization.objects.get(depth=1)
    committee = the_committee()
    branch = typical_branch(committee)
    base = reverse("meetings:compliance")
    results = []
    for case, org, extra, heavy in (
        ("page committee", committee, "", False),
        ("page committee, only overdue, page 3", committee, "&overdue=1&page=3", False),
        ("page whole tree", root, "", True),
        ("page branch", branch, "", False),
    ):
        url = f"{base}?org={org.pk}&year={year}{extra}"
        connection.close()
        runs, warmup = (args.heavy, 1) if heavy else (args.requests, args.warmup)
        r = timed(http_fn(client, url), runs, warmup, heavy)
        r.update(user="county", case=case, org=org.name, path=url)
        results.append(r)
        log(console, str(r))
    return results


def phase_sweep(args, console, year: int) -> list[dict]:
    from django.db import transaction

    from dangjian.core.models import Notification
    from dangjian.meetings import sweep

    results = []
    for case, day in (
        ("sweep 28 December (every period ends within the lead time)", datetime.date(year, 12, 28)),
        ("sweep 3 December (November ended 3 days ago)", datetime.date(year, 12, 3)),
        ("sweep 15 November (nothing due)", datetime.date(year, 11, 15)),
    ):
        with transaction.atomic():
            before = Notification.objects.count()

            def run(day=day):
                return {"sent": sweep.remind_due(day)}

            info, queries = captured(run)
            info["notifications"] = Notification.objects.count() - before
            t = time.perf_counter()
            again = sweep.remind_due(day)
            info["second_run_ms"] = round((time.perf_counter() - t) * 1000, 1)
            info["second_run_sent"] = again
            transaction.set_rollback(True)
        info["case"] = case
        info["user"] = "-"
        results.append(info)
        log(console, str(info))
    return results


# ---- output --------------------------------------------------------------------------------


def markdown(figures: dict) -> str:
    out = ["| phase | case | figure |", "|---|---|---|"]
    for key in ("heatmap", "page"):
        for r in figures.get(key) or []:
            out.append(
                f"| {key} | {r['case']} ({r['user']}) | first {r.get('first_ms')} ms, median "
                f"{r.get('median_ms')} ms, p95 {r.get('p95_ms')} ms, SQL {r.get('sql_median_ms')}"
                f" ms, {r.get('queries')} queries, "
                + (f"{r['rows']:,} rows" if "rows" in r else f"{r.get('bytes', 0):,} bytes")
                + (f", tallies {r['tallies']:,}" if "tallies" in r else "")
                + " |"
            )
    for r in figures.get("sweep") or []:
        out.append(
            f"| sweep | {r['case']} | first {r['first_ms']} ms ({r['queries']} queries), sent "
            f"{r['sent']:,}; again {r['second_run_ms']} ms, sent {r['second_run_sent']} |"
        )
    return "\n".join(out) + "\n"


def main():
    args = parse_args()
    load_at_start = load()
    url = os.environ.get("DANGJIAN_DATABASE_URL", "")
    if not url:
        sys.exit(
            "set DANGJIAN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/dangjian_bench_meetings"
        )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dangjian.settings")
    os.environ["DANGJIAN_ALLOWED_HOSTS"] = "testserver,127.0.0.1"
    os.environ.setdefault("DANGJIAN_DATA_DIR", "/tmp/h_bench_meetings")
    os.environ.setdefault("DANGJIAN_DEBUG", "0")
    os.environ.setdefault("DANGJIAN_LOG_LEVEL", "WARNING")
    name, _admin = database_name(url)
    fresh = create_database(url, drop=args.reseed)

    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone
    from rich.console import Console

    console = Console(width=160)
    today = timezone.localdate()
    year = args.year or today.year
    if not fresh:
        try:
            why = data_set_ok(args.members, args.orgs + built_committee_size())
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
    build_file = HERE / "results" / "meetings-build.json"
    built = json.loads(build_file.read_text()) if build_file.exists() and not fresh else {}
    if fresh:
        log(console, f"database {name}: seeding {args.orgs:,} organisations, {args.members:,} …")
        skip_demo_data()
        built = {"tree": build_tree(args, console)}
        log(console, str(built["tree"]))
    why = "" if args.rebuild or fresh else meetings_data_ok(year)
    if fresh or args.rebuild or why:
        if why:
            log(console, f"meetings data: {why}; writing it")
        built["committee"] = build_committee(args, console)
        built["year"] = year
        built["today"] = today.isoformat()
        built["tallies"] = build_tallies(args, console, year, today)
    from dangjian.core.models import User

    if (
        fresh
        or args.rebuild
        or why
        or not User.objects.filter(username__startswith=SECRETARY).exists()
    ):
        built["secretaries"] = build_secretaries(args, console)
        t = time.perf_counter()
        sql("VACUUM ANALYZE")
        built["vacuum_analyze_seconds"] = round(time.perf_counter() - t, 1)
        build_file.parent.mkdir(parents=True, exist_ok=True)
        build_file.write_text(json.dumps(built, ensure_ascii=False, indent=2, default=str) + "\n")
    if args.build_only:
        return

    phases = [p for p in args.phases.split(",") if p]
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
        settings_pg = {}
        for setting in ("shared_buffers", "work_mem", "max_parallel_workers_per_gather"):
            cursor.execute(f"SHOW {setting}")
            settings_pg[setting] = cursor.fetchone()[0]
    committee = the_committee()
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
        "committee": {
            "name": committee.name,
            "branches": scalar(
                "SELECT count(*) FROM core_organization WHERE path > %s AND path <= %s "
                "AND kind IN ('branch', 'joint_branch') AND status = 'active'",
                [committee.path, committee.path + "Z" * 12],
            ),
        },
        "whole_tree_branches": scalar(
            "SELECT count(*) FROM core_organization WHERE kind IN ('branch', 'joint_branch') "
            "AND status = 'active'"
        ),
    }
    log(console, f"committee {figures['committee']}, tree {figures['whole_tree_branches']:,}")
    out = HERE / "results" / (f"meetings-{args.label}.json" if args.label else "meetings.json")
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

    quiet = wait_for_quiet(console, args.wait_load, args.wait_max)
    figures["load_when_timing_began"] = quiet["load_average"]
    for phase, fn in (("heatmap", phase_heatmap), ("page", phase_page), ("sweep", phase_sweep)):
        if phase in phases:
            figures[phase] = fn(args, console, year)
            save()
    console.print(markdown(figures), markup=False, highlight=False)
    console.print(f"written {out.relative_to(ROOT)} and .md")


if __name__ == "__main__":
    main()
