"""Benchmark: member import of a 100,000-row roster, against the limit and django-import-export.

    psql -h 127.0.0.1 -U postgres -c 'create database dangjian_bench_import'
    DANGJIAN_DATABASE_URL=postgres://postgres@127.0.0.1:5432/dangjian_bench_import \\
        .venv/bin/python bench/import_members.py --rows 100000

Drops and re-creates the database named in the URL (PostgreSQL only), migrates, creates a small
tree (a committee with 20 branches), writes a messy .xlsx roster (title row above the header,
dates in several spellings, an organisation code column), then runs each contender in its own
process (so each peak memory is its own) on an empty member table:

- ours:   read_table + check_rows + import_rows (parse, validate, encrypt, members, timeline
          events, audit events, the scope re-count), i.e. `dangjian import-members`;
- limit:  python-calamine parse + one COPY of the raw cells into the member table: no checks,
          no encryption, no events, no audit;
- django-import-export 4.4: a ModelResource in bulk mode (use_bulk, batch 5,000) over the same
          file loaded through tablib; it only converts types (no ID checks, no encryption, no
          events, no audit), so it does less than ours.

Limit and ours run --repeat times (3), alternating, each after a CHECKPOINT on an empty table;
the table shows each one's median run (all runs and the load average around each are in the
JSON): other work on a 2-core machine moves single runs by half.

Prints a table and writes bench/results/import_members.json.
"""

import argparse
import datetime
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

HEADERS = [
    "序号",
    "姓名",
    "性别",
    "民族",
    "公民身份号码",
    "出生日期",
    "学历",
    "人员类别",
    "入党日期",
    "转正日期",
    "手机号码",
    "党组织编码",
    "工作单位及职务",
    "家庭住址",
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国红梅志强海燕文"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--phase", choices=["ours", "limit", "import_export"], help=argparse.SUPPRESS
    )
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--skip", nargs="*", default=[], help="phases to skip")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="rounds of limit and ours, alternating (the table shows each one's median run)",
    )
    return parser.parse_args()


def setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dangjian.settings")
    import django

    django.setup()


def write_roster(path: Path, n: int) -> None:
    from openpyxl import Workbook

    from tests.members.import_files import unique_id

    rnd = random.Random(1)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("花名册")
    sheet.append(["某某镇党委党员花名册（基准测试）"])
    sheet.append(HEADERS)
    date_styles = [
        lambda d: d,  # a real date cell
        lambda d: d.strftime("%Y.%m.%d"),
        lambda d: f"{d.year}年{d.month}月{d.day}日",
        lambda d: d.strftime("%Y-%m-%d"),
        lambda d: int(d.strftime("%Y%m%d")),
    ]
    for i in range(1, n + 1):
        number, born = unique_id(i, 1 if i % 2 else 2)
        birth = datetime.date.fromisoformat(born)
        joined = birth.replace(year=birth.year + 25, day=1)
        full = joined.replace(year=joined.year + 1) if i % 10 else None
        style = date_styles[i % len(date_styles)]
        sheet.append(
            [
                i,
                rnd.choice(SURNAMES) + rnd.choice(GIVEN) + rnd.choice(GIVEN),
                "男" if i % 2 else "女",
                "汉族" if i % 20 else "回族",
                number,
                style(birth),
                rnd.choice(["本科", "大专", "高中", "硕士研究生", "初中"]),
                "正式党员" if full else "预备党员",
                style(joined),
                style(full) if full else "",
                f"1{rnd.randint(3, 9)}{rnd.randint(0, 999999999):09d}",
                f"BB{i % 20:02d}",
                "某某公司 职员",
                f"城关镇{rnd.randint(1, 99)}号",
            ]
        )
    sheet.append([])
    sheet.append(["填表说明：日期可写作 2019.07.01"])
    book.save(path)


def recreate_database(url: str):
    sys.path.insert(0, str(HERE))
    from seed import recreate_database as recreate

    return recreate(url)


def truncate():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE members_standingevent, members_member, core_auditevent RESTART IDENTITY CASCADE"
        )
        # Each contender starts from the same server state: no dirty pages or WAL left by the
        # one before (a checkpoint falling inside a run costs it seconds).
        cursor.execute("CHECKPOINT")


def peak_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def phase_ours(path: Path) -> dict:
    from dangjian.core import context
    from dangjian.core.models import Organization, User
    from dangjian.members import importing

    actor = User.objects.get(username="bench")
    org = Organization.objects.get(code="BB00")
    timings = {}
    started = time.perf_counter()
    table = importing.read_table(path.read_bytes(), path.name)
    timings["read"] = time.perf_counter() - started
    t = time.perf_counter()
    mapping = importing.suggest_mapping(table.headers)
    checked = importing.check_rows(table, mapping, actor=actor, organization=org)
    timings["check"] = time.perf_counter() - t
    assert checked.ok, checked.summary(limit=3)
    t = time.perf_counter()
    context.begin(request_id="bench-import")
    outcome = importing.import_rows(checked.rows, actor=actor)
    timings["write"] = time.perf_counter() - t
    total = time.perf_counter() - started
    return {
        "rows": outcome.created,
        "seconds": round(total, 2),
        "steps": {k: round(v, 2) for k, v in timings.items()},
    }


def phase_limit(path: Path) -> dict:
    from django.db import transaction
    from python_calamine import CalamineWorkbook

    from dangjian.core.models import Organization
    from dangjian.members import importing
    from dangjian.members.models import Member

    orgs = {o.code: o for o in Organization.objects.filter(code__startswith="BB")}
    started = time.perf_counter()
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    header = rows[1]
    col = {h: i for i, h in enumerate(header)}
    now = datetime.datetime.now(datetime.UTC)
    names = [
        "organization_id",
        "org_path",
        "name",
        "name_initials",
        "sex",
        "ethnicity",
        "birth_date",
        "id_number_encrypted",
        "id_number_hash",
        "phone_encrypted",
        "phone_hash",
        "education",
        "degree",
        "school",
        "native_place",
        "job_category",
        "work_unit",
        "title",
        "party_post",
        "telephone",
        "home_address",
        "photo",
        "note",
        "status",
        "category",
        "standing",
        "joined_on",
        "out_of_contact",
        "mobile",
        "mobile_destination",
        "created_at",
        "updated_at",
    ]
    out = []
    for cells in rows[2:]:
        if not cells[col["姓名"]] or not isinstance(cells[0], float | int):
            continue
        org = orgs[cells[col["党组织编码"]]]
        birth = datetime.date(1970, 1, 1)
        number = str(cells[col["公民身份号码"]])
        out.append(
            [
                org.pk,
                org.path,
                cells[col["姓名"]],
                "",
                "1",
                "01",
                birth,
                number,
                number,
                str(cells[col["手机号码"]]),
                "",
                "",
                "",
                "",
                "",
                "",
                cells[col["工作单位及职务"]],
                "",
                "",
                "",
                cells[col["家庭住址"]],
                "",
                "",
                "active",
                "full",
                "normal",
                birth,
                False,
                False,
                "",
                now,
                now,
            ]
        )
    count = len(out)
    with transaction.atomic():
        for start in range(0, count, importing.BATCH):  # the same COPY writer as ours
            importing._insert(Member, names, out[start : start + importing.BATCH])
    return {"rows": count, "seconds": round(time.perf_counter() - started, 2)}


def phase_import_export(path: Path) -> dict:
    import tablib
    from import_export import fields, resources, widgets

    from dangjian.core.models import Organization
    from dangjian.members.models import Member

    class MemberResource(resources.ModelResource):
        name = fields.Field(attribute="name", column_name="姓名")
        id_number_hash = fields.Field(attribute="id_number_hash", column_name="公民身份号码")
        birth_date = fields.Field(
            attribute="birth_date", column_name="出生日期", widget=widgets.DateWidget()
        )
        joined_on = fields.Field(
            attribute="joined_on", column_name="入党日期", widget=widgets.DateWidget()
        )
        organization = fields.Field(
            attribute="organization",
            column_name="党组织编码",
            widget=widgets.ForeignKeyWidget(Organization, "code"),
        )
        home_address = fields.Field(attribute="home_address", column_name="家庭住址")

        class Meta:
            model = Member
            fields = (
                "name",
                "id_number_hash",
                "birth_date",
                "joined_on",
                "organization",
                "home_address",
            )
            use_bulk = True
            batch_size = 5000
            skip_diff = True
            force_init_instance = True
            import_id_fields = []

        def before_save_instance(self, instance, row, **kwargs):
            instance.org_path = instance.organization.path
            instance.sex = "1"
            instance.category = "full"
            instance.id_number_encrypted = instance.id_number_hash

    started = time.perf_counter()
    with open(path, "rb") as fh:
        raw = tablib.Dataset().load(fh.read(), format="xlsx", skip_lines=1, headers=False)
    # the title line skipped; the header row, then the rows (the notes below dropped)
    data = tablib.Dataset(headers=list(raw[0]))
    for row in raw[1:]:
        if row[1] and isinstance(row[0], int | float):
            data.append(row)
    result = MemberResource().import_data(data, dry_run=False, raise_errors=False)
    seconds = time.perf_counter() - started
    return {
        "rows": Member.objects.count(),
        "errors": len(result.invalid_rows) + len(result.row_errors()),
        "seconds": round(seconds, 2),
    }


def run_phase(name: str, path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--phase", name, "--file", str(path)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    if out.returncode != 0:
        return {"error": out.stderr[-2000:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> dict:
    sys.path.insert(0, str(HERE))
    from seed import machine as seed_machine

    info = seed_machine()
    try:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            info["postgresql"] = cursor.fetchone()[0]
    except Exception:  # noqa: BLE001
        pass
    return info


def main():
    args = parse_args()
    if args.phase:
        setup_django()
        truncate()
        func = {"ours": phase_ours, "limit": phase_limit, "import_export": phase_import_export}
        result = func[args.phase](Path(args.file))
        result["peak_mib"] = peak_mib()
        if result.get("rows") and result.get("seconds"):
            result["rows_per_second"] = round(result["rows"] / result["seconds"])
        print(json.dumps(result))
        return
    url = os.environ.get("DANGJIAN_DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("bench/import_members.py needs DANGJIAN_DATABASE_URL=postgres://.../<database>")
    recreate_database(url)
    setup_django()
    from django.core.management import call_command

    from dangjian.core import services
    from dangjian.core.models import User

    call_command("migrate", verbosity=0)
    admin = User.objects.create(username="bench", is_superuser=True, is_staff=True)
    town = services.create_organization(
        actor=admin, parent=None, code="BT", name="基准镇党委", kind="committee"
    )
    for i in range(20):
        services.create_organization(
            actor=admin, parent=town, code=f"BB{i:02d}", name=f"第{i + 1}党支部", kind="branch"
        )
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-roster-{args.rows}.xlsx"
    t = time.perf_counter()
    write_roster(path, args.rows)
    generated = round(time.perf_counter() - t, 1)
    results = {
        "rows": args.rows,
        "file_mib": round(path.stat().st_size / 2**20, 1),
        "generate_seconds": generated,
        "machine": machine(),
    }
    runs: dict[str, list[dict]] = {}
    rounds = [("limit", "ours")] * max(1, args.repeat) + [("import_export",)]
    for names in rounds:
        for name in names:
            if name in args.skip:
                continue
            print(f"{name} ...", file=sys.stderr, flush=True)
            before = os.getloadavg()[0]
            result = run_phase(name, path)
            result["load_before"] = round(before, 2)
            result["load_after"] = round(os.getloadavg()[0], 2)
            runs.setdefault(name, []).append(result)
            print(f"  {result}", file=sys.stderr, flush=True)
    for name, found in runs.items():
        timed = sorted((r for r in found if r.get("seconds")), key=lambda r: r["seconds"])
        results[name] = dict(timed[(len(timed) - 1) // 2]) if timed else found[-1]
        results[name]["runs"] = [r.get("seconds") for r in found]
    ours, limit = results.get("ours", {}), results.get("limit", {})
    if ours.get("rows_per_second") and limit.get("rows_per_second"):
        results["ours_vs_limit"] = round(ours["rows_per_second"] / limit["rows_per_second"], 3)
    ie = results.get("import_export", {})
    if ours.get("rows_per_second") and ie.get("rows_per_second"):
        results["ours_vs_import_export"] = round(ours["rows_per_second"] / ie["rows_per_second"], 2)
    out = HERE / "results" / "import_members.json"
    out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"\n{'':16} {'rows':>8} {'seconds':>8} {'rows/s':>8} {'peak MiB':>9}  runs (s)")
    for name in ("limit", "ours", "import_export"):
        r = results.get(name, {})
        print(
            f"{name:16} {r.get('rows', '-'):>8} {r.get('seconds', '-'):>8} "
            f"{r.get('rows_per_second', '-'):>8} {r.get('peak_mib', '-'):>9}  {r.get('runs', '')}"
        )
    print(f"ours / limit: {results.get('ours_vs_limit')}; written to {out}")


if __name__ == "__main__":
    main()
