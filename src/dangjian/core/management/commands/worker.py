"""`dangjian worker`: runs queued background tasks (django-tasks database backend)."""

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Run a background worker that executes queued tasks (imports, exports, reports, "
        "notifications). Start as many as you like, on any machine sharing the database."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--queue-name",
            default="*",
            help="Queues to process, separated by commas; '*' means all (default: %(default)s).",
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=1.0,
            help="Seconds to wait before looking again when the queue is empty "
            "(default: %(default)s).",
        )
        parser.add_argument(
            "--batch",
            action="store_true",
            help="Run every task that is waiting, then exit.",
        )
        parser.add_argument(
            "--no-sweep",
            action="store_true",
            help="Do not run the periodic sweeps (expiring letters, reminders) in this worker.",
        )
        parser.add_argument(
            "--max-tasks",
            type=int,
            default=None,
            help="Exit after running this many tasks.",
        )

    def handle(self, *args, **options):
        worker_options = {
            "queue_name": options["queue_name"],
            "interval": options["interval"],
            "batch": options["batch"],
            "reload": False,
            "verbosity": options["verbosity"],
        }
        if options["max_tasks"] is not None:
            worker_options["max_tasks"] = options["max_tasks"]
        if not options["no_sweep"] and not options["batch"]:
            from django.conf import settings

            from dangjian.core import sweeps

            sweeps.start_thread(settings.SWEEP_INTERVAL_SECONDS)
        call_command("db_worker", **worker_options)
