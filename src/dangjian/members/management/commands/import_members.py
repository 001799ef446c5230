"""`manage.py import_members` (`dangjian import-members`): import a roster from the command line."""

import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from dangjian.core import context, selectors
from dangjian.core.errors import NotFound, ServiceError
from dangjian.core.models import Organization, User
from dangjian.members import importing
from dangjian.members.columns import BY_KEY


class Command(BaseCommand):
    help = (
        "Import members from a roster (.xlsx, .xls, .ods or .csv). The header row is found and "
        "its columns are mapped by name (姓名, 公民身份号码, 入党日期, ...). Every row is checked "
        "first; if any row has an error nothing is written (see --report). Rows without an "
        "organisation column go to --org."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the roster: .xlsx, .xls, .ods or .csv")
        parser.add_argument(
            "--org",
            required=True,
            metavar="CODE",
            help="code of the branch that takes rows without an organisation column",
        )
        parser.add_argument(
            "--update",
            action="store_true",
            help="members already recorded (matched by ID number) get the given columns changed",
        )
        parser.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
        parser.add_argument(
            "--report",
            metavar="OUT.xlsx",
            help="write the rows with an error and a warning column to this file",
        )
        parser.add_argument(
            "--user",
            metavar="USERNAME",
            help="act as this account (its scope and name in the audit log); default: system",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress lines")

    def _actor(self, username):
        if not username:
            return User(username="system", is_superuser=True, is_active=True)
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"no active account {username!r}")
        return user

    def _say(self, opts, text):
        if not opts["no_progress"]:
            self.stderr.write(text)

    def handle(self, *args, **opts):
        path = Path(opts["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        actor = self._actor(opts["user"])
        org = (
            selectors.restrict(Organization.objects.all(), actor, "member.change")
            .filter(code__iexact=opts["org"].strip())
            .first()
        )
        if org is None:
            raise CommandError(f"--org {opts['org']}: no such organisation in your scope")
        started = time.perf_counter()
        try:
            table = importing.read_table(path.read_bytes(), path.name)
        except ServiceError as exc:
            raise CommandError(f"{path.name}: {exc.message}") from None
        mapping = importing.suggest_mapping(table.headers)
        self._say(opts, f"{path.name}: header on line {table.header_line}, {len(table.rows)} rows")
        for header, key in zip(table.headers, mapping, strict=True):
            target = BY_KEY[key].header if key else "—"
            self._say(opts, f"  {header or '(blank)'} -> {target}")
        for note in table.notes:
            self._say(opts, f"  {note}")

        def progress(done, total):
            self._say(opts, f"  {done}/{total}")

        try:
            checked = importing.check_rows(
                table, mapping, actor=actor, organization=org, update=opts["update"]
            )
        except ServiceError as exc:
            raise CommandError(str(exc.message)) from None
        except NotFound:
            raise CommandError("not found") from None
        summary = checked.summary()
        self.stdout.write(
            f"checked {summary['rows']} rows: {summary['valid']} valid, "
            f"{summary['error_rows']} with errors, {summary['warning_rows']} with warnings "
            f"({summary['creates']} new, {summary['updates']} updates)"
        )
        for row in checked.error_rows[:20]:
            self.stdout.write(f"  line {row.line}: " + "; ".join(str(p) for p in row.errors))
        if len(checked.error_rows) > 20:
            self.stdout.write(f"  ... and {len(checked.error_rows) - 20} more rows with errors")
        if opts["report"]:
            with open(opts["report"], "wb") as handle:
                importing.error_report(table, checked, handle)
            self.stdout.write(f"report written to {opts['report']}")
        if not checked.ok:
            raise CommandError(
                _("%(n)s rows have errors; nothing was imported.") % {"n": summary["error_rows"]}
            )
        if opts["dry_run"]:
            self.stdout.write("dry run: nothing written")
            return
        token = context.begin(request_id=f"cli-import-{int(time.time())}")
        try:
            outcome = importing.import_rows(
                checked.rows,
                actor=actor,
                update=opts["update"],
                progress=None if opts["no_progress"] or not sys.stderr.isatty() else progress,
            )
        except ServiceError as exc:
            raise CommandError(f"{exc.message} (nothing was imported)") from None
        finally:
            context.end(token)
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"imported: {outcome.created} created, {outcome.updated} updated into "
            f"{org.code} {org.name} in {seconds:.1f} s"
        )
