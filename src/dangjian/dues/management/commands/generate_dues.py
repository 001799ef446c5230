"""`dangjian generate-dues --year Y [--org CODE]`: write (or bring in step) a year's dues ledger
for an organisation's subtree, or the whole tree, with a progress bar. Idempotent: safe to run
again at the start of each year from cron, after an import, or on several machines."""

import sys

from django.core.management.base import BaseCommand, CommandError

from dangjian.core.models import Organization
from dangjian.dues import ledger


class _Bar:
    """The job Progress interface (total/advance) drawn with rich on stderr."""

    def __init__(self, bar, task):
        self.bar, self.task = bar, task

    def total(self, n: int) -> None:
        self.bar.update(self.task, total=n)

    def advance(self, done: int) -> None:
        self.bar.update(self.task, completed=done)


class Command(BaseCommand):
    help = (
        "Generate a year's dues ledger (one line per member and month owed) for an "
        "organisation's subtree, or for the whole tree without --org. Running it again changes "
        "nothing that is already right and never moves paid months."
    )

    def add_arguments(self, parser):
        parser.add_argument("--year", type=int, required=True, help="the year, e.g. 2027")
        parser.add_argument("--org", default="", help="code of the organisation (its subtree)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **opts):
        year = opts["year"]
        if not 2008 <= year <= 2100:
            raise CommandError("--year must lie between 2008 and 2100")
        org = None
        if opts["org"]:
            org = Organization.objects.filter(code__iexact=opts["org"].strip()).first()
            if org is None:
                raise CommandError(f"--org: no organisation with code {opts['org']!r}")
        if opts["no_progress"] or not sys.stderr.isatty():
            result = ledger.generate(year, org)
        else:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            with Progress(
                TextColumn("生成党费台账 generating"),
                BarColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            ) as bar:
                result = ledger.generate(year, org, progress=_Bar(bar, bar.add_task("dues")))
        where = org.name if org else "the whole tree"
        self.stdout.write(
            self.style.SUCCESS(
                f"{year}: {result['lines']} ledger lines for {where} "
                f"({result['moving_members']} members worked out one by one)."
            )
        )
