"""`dangjian createadmin`: create a system administrator through the account service."""

import getpass
import os
import sys

from django.core.management.base import BaseCommand, CommandError

from dangjian.core.errors import ServiceError
from dangjian.core.services import create_user

PASSWORD_ENV = "DANGJIAN_ADMIN_PASSWORD"


class Command(BaseCommand):
    help = (
        "Create a system administrator (superuser). The password comes from --password, "
        f"else from {PASSWORD_ENV}, else it is asked for twice on the terminal."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--username", default="admin", help="Login name (default: %(default)s)."
        )
        parser.add_argument(
            "--password",
            help=f"Password (visible in the process list: prefer the prompt or {PASSWORD_ENV}).",
        )
        parser.add_argument("--display-name", default="", help="Name shown in the pages.")
        parser.add_argument("--mobile", default="", help="Mainland mobile number (optional).")

    def _read_password(self, password):
        if password:
            return password
        if os.environ.get(PASSWORD_ENV):
            return os.environ[PASSWORD_ENV]
        if not sys.stdin.isatty():
            raise CommandError(
                f"no password given: use --password, or set {PASSWORD_ENV} when not on a terminal"
            )
        for _attempt in range(3):
            first = getpass.getpass("Password: ")
            if not first:
                self.stderr.write("The password must not be empty.")
                continue
            if getpass.getpass("Password (again): ") == first:
                return first
            self.stderr.write("The passwords do not match; try again.")
        raise CommandError("no password entered")

    def handle(self, *args, **options):
        try:
            password = self._read_password(options["password"])
        except (EOFError, KeyboardInterrupt):
            raise CommandError("cancelled") from None
        try:
            user = create_user(
                actor=None,
                username=options["username"],
                password=password,
                display_name=options["display_name"],
                mobile=options["mobile"],
                is_superuser=True,
            )
        except ServiceError as exc:
            where = f"--{exc.field.replace('_', '-')}: " if exc.field else ""
            raise CommandError(f"{where}{exc.message}") from None
        self.stdout.write(
            self.style.SUCCESS(f"Created administrator “{user.username}” (id {user.pk}).")
        )
