"""`dangjian sweep`: run the periodic sweeps once (the worker also runs them on a timer)."""

from django.core.management.base import BaseCommand

from dangjian.core import sweeps


class Command(BaseCommand):
    help = (
        "Run the periodic sweeps once: expire introduction letters past their validity and "
        "send re-election reminders. Safe to run from cron and on several machines at once."
    )

    def handle(self, *args, **options):
        for path, count in sweeps.run_all().items():
            name = path.rsplit(".", 1)[-1]
            if count < 0:
                self.stderr.write(f"{name}: failed (see the log)")
            else:
                self.stdout.write(f"{name}: {count}")
