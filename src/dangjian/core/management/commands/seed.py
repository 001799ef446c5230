"""`manage.py seed` (`dangjian seed`): load demo data into an empty database."""

import argparse
import sys
import unicodedata

from django.core.management.base import BaseCommand, CommandError

from dangjian.core import seeding

STAGES = {
    "generate": "生成数据 generating",
    "organisations": "写入组织 organisations",
    "members": "写入党员 members",
}


def _pad(text: str, width: int) -> str:
    """Left-justify counting CJK characters as two columns."""
    cols = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(0, width - cols)


class Command(BaseCommand):
    help = (
        "Load demo data: a county's organisation tree (committees, general branches, branches, "
        "joint branches, Party groups), members with valid encrypted ID numbers, and demo logins "
        f"(password “{seeding.DEMO_PASSWORD}”). Refuses a database that already has organisations."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--members",
            type=int,
            default=seeding.DEFAULT_MEMBERS,
            help=f"number of members (default {seeding.DEFAULT_MEMBERS})",
        )
        parser.add_argument(
            "--orgs",
            type=int,
            default=seeding.DEFAULT_ORGS,
            help=f"number of organisations in all (default {seeding.DEFAULT_ORGS}, "
            "about 300 of them branches)",
        )
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
        parser.add_argument(
            "--demo-accounts",
            action=argparse.BooleanOptionalAction,
            default=True,
            help="create the demo logins (default: yes)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="seed only when the database has no organisation yet (first start of make run)",
        )

    def handle(self, *args, **opts):
        if opts["members"] < 0:
            raise CommandError("--members cannot be negative")
        if opts["orgs"] < 3:
            raise CommandError("--orgs must be at least 3")
        show = not opts["no_progress"] and sys.stderr.isatty()
        if opts["if_empty"]:
            from dangjian.core.models import Organization

            if Organization.objects.exists():
                self.stdout.write("The database already has data: demo data not loaded again.")
                return
        try:
            seeding.check_empty(opts["demo_accounts"])
            if show:
                result = self._with_progress(opts)
            else:
                result = self._run(opts, None)
        except seeding.SeedError as exc:
            raise CommandError(str(exc)) from None
        self._report(result)

    def _run(self, opts, progress):
        return seeding.seed(
            members=opts["members"],
            orgs=opts["orgs"],
            seed=opts["seed"],
            demo_accounts=opts["demo_accounts"],
            progress=progress,
        )

    def _with_progress(self, opts):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=False,
        ) as bar:
            tasks: dict[str, int] = {}

            def progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(STAGES.get(stage, stage), total=total)
                bar.update(tasks[stage], completed=done, total=total)

            return self._run(opts, progress)

    def _report(self, result: seeding.SeedResult) -> None:
        out = self.stdout
        rates = result.rates()
        labels = {
            "committee": "党委 committees",
            "general_branch": "党总支 general branches",
            "branch": "党支部 branches",
            "joint_branch": "联合党支部 joint branches",
            "group": "党小组 Party groups",
        }
        out.write(self.style.SUCCESS(f"Seeded (seed {result.seed}):"))
        for kind, label in labels.items():
            out.write(f"  {_pad(label, 28)} {result.orgs_by_kind.get(kind, 0):>8}")
        out.write(
            f"  {'organisations in all':<28} {result.orgs:>8}   "
            f"{rates['organisations']:,.0f} rows/s"
        )
        out.write(
            f"  {_pad('党员 members', 28)} {result.members:>8}   {rates['members']:,.0f} rows/s"
        )
        out.write(
            f"  {'total':<28} {result.orgs + result.members:>8}   "
            f"{rates['total']:,.0f} rows/s in {result.org_seconds + result.member_seconds:.1f} s"
        )
        for what, count in result.life.items():
            out.write(f"  {_pad(what, 28)} {count:>8}")
        if result.accounts:
            out.write("")
            out.write(
                self.style.SUCCESS(f"Demo logins (password “{seeding.DEMO_PASSWORD}” for all):")
            )
            out.write(f"  {'login':<12} {'role':<10} {_pad('where', 36)} what")
            for a in result.accounts:
                out.write(f"  {a.username:<12} {a.role:<10} {_pad(a.org_name, 36)} {a.description}")
