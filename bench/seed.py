"""Benchmark: seeding speed, and the organisation subtree list on a county-sized database.

    DANGJIAN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/dangjian_bench \\
        .venv/bin/python bench/seed.py --members 100000 --orgs 5000

Drops and re-creates the database named in the URL (it must be PostgreSQL and must not be a
database you care about), migrates, seeds through `dangjian.core.seeding.seed`, then times
requests through Django's test client, logged in as the `county` demo user (whose scope is the
whole tree):

- the API  GET /api/v1/orgs?root=<root id>   (first page of the subtree list)
- the page GET /orgs/<root id>/              (the root's detail page with its children)

Prints a table and writes bench/results/seed.json.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--orgs", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per URL")
    parser.add_argument("--warmup", type=int, default=10, help="untimed requests per URL first")
    return parser.parse_args()


def database_name(url: str) -> tuple[str, str]:
    """The benchmark database named in a PostgreSQL URL, and the URL of the server's own
    `postgres` database (to create or drop it from). Refuses anything else."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        sys.exit("benchmarks need DANGJIAN_DATABASE_URL=postgres://.../<database>")
    name = parts.path.lstrip("/")
    if not name or name in ("postgres", "template0", "template1"):
        sys.exit(f"refusing to use the database {name!r}")
    return name, urlunsplit(parts._replace(path="/postgres"))


def create_database(url: str, drop: bool) -> bool:
    """Create the database if missing (or drop it first); True when it is new."""
    import psycopg
    from psycopg import sql

    name, admin_url = database_name(url)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        ident = sql.Identifier(name)
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and not drop:
            return False
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(ident))
    return True


def recreate_database(url: str) -> str:
    create_database(url, drop=True)
    return database_name(url)[0]


def percentile(values, q):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def time_url(client, url, n, warmup, headers=None):
    headers = headers or {}
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    first = client.get(url, headers=headers)
    result = {"url": url, "status": first.status_code}
    if first.status_code != 200:
        body = first.content[:300].decode("utf-8", "replace")
        result["error"] = f"HTTP {first.status_code}: {body}"
        return result
    with CaptureQueriesContext(connection) as queries:
        client.get(url, headers=headers)
    result["queries"] = len(queries)
    result["bytes"] = len(first.content)
    if url.startswith("/api/"):
        try:
            result["count"] = first.json().get("count")
        except ValueError:
            pass
    for _ in range(warmup):
        client.get(url, headers=headers)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        response = client.get(url, headers=headers)
        times.append((time.perf_counter() - t) * 1000)
        if response.status_code != 200:
            result["error"] = f"HTTP {response.status_code} during the timed run"
            break
    result.update(
        requests=len(times),
        median_ms=round(statistics.median(times), 2),
        p95_ms=round(percentile(times, 0.95), 2),
        min_ms=round(min(times), 2),
        max_ms=round(max(times), 2),
    )
    return result


def seed_with_progress(console, members: int, orgs: int, seed: int):
    """core.seeding.seed with a progress bar per stage: (SeedResult, wall seconds)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from dangjian.core import seeding

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        tasks = {}

        def progress(stage, done, total):
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        t = time.perf_counter()
        result = seeding.seed(members=members, orgs=orgs, seed=seed, progress=progress)
        return result, time.perf_counter() - t


def machine():
    info = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
    }
    try:
        with open("/proc/meminfo") as fh:
            kb = int(fh.readline().split()[1])
        info["memory_gib"] = round(kb / 1024 / 1024, 1)
    except OSError:
        pass
    return info


def main():
    args = parse_args()
    url = os.environ.get("DANGJIAN_DATABASE_URL", "")
    if not url:
        sys.exit("set DANGJIAN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/dangjian_bench")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dangjian.settings")
    os.environ["DANGJIAN_ALLOWED_HOSTS"] = "testserver,127.0.0.1"
    os.environ.setdefault("DANGJIAN_DATA_DIR", "/tmp/dangjian-bench")
    os.environ.setdefault("DANGJIAN_DEBUG", "0")
    os.environ.setdefault("DANGJIAN_LOG_LEVEL", "WARNING")

    name = recreate_database(url)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from rich.console import Console
    from rich.table import Table

    from dangjian.core import services
    from dangjian.core.models import User

    console = Console()
    console.print(f"database {name}: migrating …")
    t = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrate_seconds = time.perf_counter() - t

    result, seed_wall = seed_with_progress(console, args.members, args.orgs, args.seed)
    generate_seconds = seed_wall - result.seconds

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]

    county = User.objects.get(username="county")
    client = Client()
    client.force_login(county)  # the pages use the session
    # The API takes personal access tokens only (no session auth): a token of the same user.
    _token, secret = services.create_api_token(actor=county, name="bench", days=1)
    bearer = {"Authorization": f"Bearer {secret}"}
    root = result.root_id
    pages = [
        time_url(client, f"/api/v1/orgs?root={root}", args.requests, args.warmup, bearer),
        time_url(client, f"/orgs/{root}/", args.requests, args.warmup),
    ]

    rates = result.rates()
    figures = {
        "machine": {**machine(), "postgresql": pg_version},
        "arguments": {"members": args.members, "orgs": args.orgs, "seed": args.seed},
        "organisations_by_kind": result.orgs_by_kind,
        "seeding": {
            "migrate_seconds": round(migrate_seconds, 2),
            "generate_seconds": round(generate_seconds, 2),
            "organisations": result.orgs,
            "organisation_seconds": round(result.org_seconds, 3),
            "organisations_per_second": round(rates["organisations"]),
            "members": result.members,
            "member_seconds": round(result.member_seconds, 2),
            "members_per_second": round(rates["members"]),
            "rows_per_second": round(rates["total"]),
            "demo_account_seconds": round(result.account_seconds, 2),
            "wall_seconds": round(seed_wall, 2),
        },
        "requests": pages,
    }

    table = Table(title=f"Seeding {args.orgs:,} organisations and {args.members:,} members")
    table.add_column("what")
    table.add_column("rows", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("rows/s", justify="right")
    s = figures["seeding"]
    table.add_row("generate (in memory)", f"{s['members']:,}", f"{s['generate_seconds']:.2f}", "")
    table.add_row(
        "organisations",
        f"{s['organisations']:,}",
        f"{s['organisation_seconds']:.2f}",
        f"{s['organisations_per_second']:,}",
    )
    table.add_row(
        "members", f"{s['members']:,}", f"{s['member_seconds']:.2f}", f"{s['members_per_second']:,}"
    )
    table.add_row(
        "total (written)",
        f"{s['organisations'] + s['members']:,}",
        f"{result.org_seconds + result.member_seconds:.2f}",
        f"{s['rows_per_second']:,}",
    )
    console.print(table)

    table = Table(title=f"Subtree of the root, {args.requests} requests each, as county")
    for col in ("url", "status", "queries", "median ms", "p95 ms", "min ms", "max ms"):
        if col == "url":
            table.add_column(col, no_wrap=True, min_width=24)
        else:
            table.add_column(col, justify="right")
    for page in pages:
        table.add_row(
            page["url"],
            str(page["status"]),
            str(page.get("queries", "")),
            str(page.get("median_ms", "")),
            str(page.get("p95_ms", "")),
            str(page.get("min_ms", "")),
            str(page.get("max_ms", "")),
        )
    console.print(table)
    for page in pages:
        if "error" in page:
            console.print(f"[red]{page['url']}: {page['error']}[/red]")

    out = HERE / "results" / "seed.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, ensure_ascii=False, indent=2) + "\n")
    console.print(f"written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
