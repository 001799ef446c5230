"""`dangjian serve`: the production web server (gunicorn), with a background worker by default."""

import os
import signal
import subprocess
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.db.utils import Error as DatabaseError


def positive_int(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def pending_migrations(alias: str = "default") -> list[str]:
    connection = connections[alias]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, backwards in plan]


def worker_command() -> list[str]:
    return [sys.executable, "-m", "dangjian.cli", "worker"]


class Command(BaseCommand):
    help = (
        "Run the web server (gunicorn, static files by whitenoise) and a background worker. "
        "Collects static files first and refuses to start while migrations are unapplied."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--bind",
            default="127.0.0.1:8000",
            help="Address to listen on, HOST:PORT or unix:PATH (default: %(default)s). "
            "Use 0.0.0.0:8000 to accept connections from other machines.",
        )
        parser.add_argument(
            "--workers",
            type=positive_int,
            default=2,
            help="Web worker processes (default: %(default)s).",
        )
        parser.add_argument(
            "--threads",
            type=positive_int,
            default=4,
            help="Threads per web worker process (default: %(default)s).",
        )
        parser.add_argument(
            "--timeout",
            type=positive_int,
            default=60,
            help="Seconds before a stuck request's worker is restarted (default: %(default)s).",
        )
        parser.add_argument(
            "--no-worker",
            action="store_true",
            help="Do not start a background worker (run `dangjian worker` elsewhere).",
        )
        parser.add_argument(
            "--skip-collectstatic",
            action="store_true",
            help="Do not run collectstatic before starting.",
        )

    def handle(self, *args, **options):
        try:
            pending = pending_migrations()
        except DatabaseError as exc:
            raise CommandError(f"cannot reach the database: {exc}") from None
        if pending:
            shown = ", ".join(pending[:5]) + (" ..." if len(pending) > 5 else "")
            raise CommandError(
                f"the database is not up to date: {len(pending)} unapplied migration(s) "
                f"({shown}). Run `dangjian migrate` first."
            )
        if not options["skip_collectstatic"]:
            try:
                call_command("collectstatic", interactive=False, verbosity=0)
            except Exception as exc:
                raise CommandError(f"collecting static files failed: {exc}") from None
        # The web workers are forked from this process: they must not share its connections.
        connections.close_all()

        server = DangjianServer(
            {
                "bind": [options["bind"]],
                "workers": options["workers"],
                "threads": options["threads"],
                "timeout": options["timeout"],
                "graceful_timeout": min(options["timeout"], 30),
                "accesslog": "-",
                "errorlog": "-",
                "proc_name": "dangjian",
                # gunicorn >= 24 opens a control socket in $HOME by default; two servers on one
                # machine would fight over it and we do not use it.
                "control_socket_disable": True,
            }
        )

        master_pid = os.getpid()
        worker = None

        def stop(signum, frame):
            raise SystemExit(128 + signum)

        # Until gunicorn installs its own handlers, a signal must still stop the worker.
        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            if not options["no_worker"]:
                # A process group of its own: Ctrl+C in the terminal reaches only us, and we
                # stop the worker with one SIGTERM, which lets it finish its current task.
                worker = subprocess.Popen(worker_command(), process_group=0)  # noqa: S603
                self.stdout.write(f"dangjian: worker started pid={worker.pid}")
            address = options["bind"]
            shown = address if address.startswith("unix:") else f"http://{address}/"
            self.stdout.write(
                f"dangjian: serving on {shown} "
                f"(workers={options['workers']}, threads={options['threads']}); "
                "press Ctrl+C to stop"
            )
            self.stdout.flush()
            server.worker_process = worker
            server.run()
        finally:
            # Gunicorn's forked web workers leave through here too: only the master cleans up.
            if os.getpid() == master_pid:
                stop_worker(worker)
                for sig, handler in previous.items():
                    signal.signal(sig, handler)


def stop_worker(worker, timeout: float = 30) -> None:
    if worker is None or worker.poll() is not None:
        return
    worker.terminate()
    try:
        worker.wait(timeout)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def _make_server_class():
    from gunicorn.app.base import BaseApplication

    class _Server(BaseApplication):
        worker_process = None

        def __init__(self, config: dict):
            self._config = config
            super().__init__()

        def load_config(self):
            for key, value in self._config.items():
                if key in self.cfg.settings:  # skip settings this gunicorn version lacks
                    self.cfg.set(key, value)
            self.cfg.set("on_exit", self._on_exit)

        def _on_exit(self, arbiter):
            stop_worker(self.worker_process)

        def load(self):
            from dangjian.wsgi import application

            return application

    return _Server


class DangjianServer:
    """Thin wrapper so gunicorn is imported only when serving."""

    def __init__(self, config: dict):
        self._app = _make_server_class()(config)

    @property
    def worker_process(self):
        return self._app.worker_process

    @worker_process.setter
    def worker_process(self, value):
        self._app.worker_process = value

    def run(self):
        self._app.run()
