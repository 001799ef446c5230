"""Re-encrypt all personal data (ID and phone numbers) under a new data key.

    dangjian rotate-data-key            generate a new key, re-encrypt, write it to DATA_DIR/data_key
    dangjian rotate-data-key --key K    use the given key (at least 32 characters)

Everything is re-encrypted in one transaction; the key file is replaced only after the
transaction committed, and the old key is kept as data_key.old until you delete it. When the key
comes from DANGJIAN_DATA_KEY, the command prints the new key for you to put there instead.
"""

import os
import secrets

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from rich.progress import Progress

from dangjian.members.services import rotate_data_key


class Command(BaseCommand):
    help = "Re-encrypt every ID and phone number under a new data key (DANGJIAN_DATA_KEY)."

    def add_arguments(self, parser):
        parser.add_argument("--key", help="the new key (default: a random one)")
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    def handle(self, *args, key=None, yes=False, **options):
        new_key = key or secrets.token_urlsafe(32)
        if len(new_key) < 32:
            raise CommandError("--key: the key must be at least 32 characters long")
        if new_key == settings.DATA_KEY:
            raise CommandError("--key: the new key is the key in use")
        from_env = bool(os.environ.get("DANGJIAN_DATA_KEY"))
        key_file = settings.DATA_DIR / "data_key"
        if not yes and not from_env:
            answer = input(f"Re-encrypt all personal data and replace {key_file}? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                raise CommandError("cancelled; nothing changed")
        with Progress(transient=True) as bar:
            task = bar.add_task("re-encrypting", total=None)

            def progress(done, total):
                bar.update(task, completed=done, total=total)

            count = rotate_data_key(new_key, progress=progress)
        if from_env:
            self.stdout.write(
                f"Re-encrypted {count} members. Set DANGJIAN_DATA_KEY to the new key now:\n"
                f"{new_key}"
            )
        else:
            old = key_file.with_name("data_key.old")
            if key_file.exists():
                old.write_text(key_file.read_text())
                old.chmod(0o600)
            tmp = key_file.with_name("data_key.new")
            tmp.write_text(new_key + "\n")
            tmp.chmod(0o600)
            tmp.replace(key_file)
            self.stdout.write(
                f"Re-encrypted {count} members; the new key is in {key_file} "
                f"(the old one in {old}: delete it once backups are rotated)."
            )
        settings.DATA_KEY = new_key
