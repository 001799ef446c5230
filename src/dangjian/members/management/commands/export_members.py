"""`manage.py export_members` (`dangjian export-members`): the member roster of an organisation's
subtree to an xlsx file, synchronously, with a progress bar."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from dangjian.core import selectors
from dangjian.core.errors import ServiceError
from dangjian.core.models import User
from dangjian.members import exporting
from dangjian.members.columns import COLUMNS, DEFAULT_KEYS


class SystemActor:
    """The command run without --user: sees everything, never full values."""

    pk = None
    is_superuser = True
    is_active = True
    is_authenticated = True

    def get_username(self) -> str:
        return "system"


class Command(BaseCommand):
    help = (
        "Export the member roster (花名册) of an organisation and everything below it to an "
        "xlsx file that `import-members --update` reads back unchanged. ID and phone numbers are "
        "masked unless --full is given by a --user whose role grants full values."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="code of the organisation (its subtree)")
        parser.add_argument(
            "--columns",
            default="",
            help="comma-separated column keys (default: "
            + ",".join(DEFAULT_KEYS)
            + "); known: "
            + ",".join(c.key for c in COLUMNS),
        )
        parser.add_argument(
            "--filter",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="a filter of the member list, e.g. category=probationary or status= (every "
            "status); may be repeated",
        )
        parser.add_argument(
            "--full", action="store_true", help="full ID and phone numbers (needs --user)"
        )
        parser.add_argument("--user", default="", help="acting account: its scope applies")
        parser.add_argument("--out", required=True, help="the .xlsx file to write")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, **opts):
        out = Path(opts["out"])
        if out.suffix.lower() != ".xlsx":
            raise CommandError("--out must name an .xlsx file")
        if not out.parent.exists():
            raise CommandError(f"the directory {out.parent} does not exist")
        if opts["full"] and not opts["user"]:
            raise CommandError("--full needs --user NAME: full values depend on the user's role")
        actor = self._actor(opts["user"])
        params = {}
        for item in opts["filter"]:
            key, sep, value = item.partition("=")
            if not sep or key.strip() not in exporting.FILTER_KEYS:
                raise CommandError(
                    f"--filter {item!r}: expected KEY=VALUE with KEY one of "
                    + ", ".join(k for k in exporting.FILTER_KEYS if k != "org")
                )
            params[key.strip()] = value.strip()
        try:
            org = selectors.get_organization_by_code(actor, opts["org"], "member.view")
        except ServiceError:
            raise CommandError(f"--org: no organisation with code {opts['org']!r}") from None
        params["org"] = str(org.pk)
        try:
            export = exporting.prepare(actor, params, opts["columns"], opts["full"])
        except ServiceError as exc:
            where = f"--{exc.field}: " if exc.field in ("columns", "full") else ""
            if exc.field and not where:
                where = f"--filter {exc.field}: "
            raise CommandError(where + str(exc.message)) from None

        show = not opts["no_progress"] and sys.stderr.isatty()
        with open(out, "wb") as handle:
            if show:
                rows = self._with_progress(export, handle)
            else:
                rows = exporting.write_xlsx(export, handle)
        masked = "full values" if export.full else "ID and phone numbers masked"
        self.stdout.write(self.style.SUCCESS(f"{rows} members written to {out} ({masked})."))

    def _actor(self, username: str):
        if not username:
            return SystemActor()
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"--user: no active account named {username!r}")
        return user

    def _with_progress(self, export, handle) -> int:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        with Progress(
            TextColumn("导出党员 exporting"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        ) as bar:
            task = bar.add_task("export", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            return exporting.write_xlsx(export, handle, progress)
