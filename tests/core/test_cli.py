"""The `dangjian` command and its management commands: serve, worker, createadmin, check."""

import io
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from dangjian import cli

BIN = Path(sys.executable).parent / "dangjian"
PASSWORD = "correct-horse-battery"


def dangjian_argv(*args: str) -> list[str]:
    """The installed console script, or the module when the package is not installed."""
    if BIN.exists():
        return [str(BIN), *args]
    return [sys.executable, "-m", "dangjian.cli", *args]


def clean_env(data_dir: Path, **extra: str) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("DANGJIAN_") and key != "DJANGO_SETTINGS_MODULE"
    }
    env.update(DANGJIAN_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1", **extra)
    return env


def run(data_dir: Path, *args: str, timeout: float = 120, **env: str):
    return subprocess.run(
        dangjian_argv(*args),
        env=clean_env(data_dir, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# Top-level help and configuration errors ------------------------------------------------------


def test_help_lists_the_platform_commands(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("serve", "worker", "migrate", "createadmin", "seed", "check", "django-check"):
        assert f"  {name} " in out
    assert "Any other Django management command" in out


def test_help_of_the_installed_script(tmp_path):
    result = run(tmp_path, "--help")
    assert result.returncode == 0, result.stderr
    assert "serve" in result.stdout and "createadmin" in result.stdout


def test_check_alias_keeps_its_name_in_the_usage_line(tmp_path):
    result = run(tmp_path, "check", "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: dangjian check")


def test_bad_boolean_setting_exits_2_without_traceback(tmp_path):
    result = run(tmp_path, "check", DANGJIAN_DEBUG="maybe")
    assert result.returncode == 2
    assert "dangjian: configuration error" in result.stderr
    assert "DANGJIAN_DEBUG" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_unsupported_database_url_names_the_variable(tmp_path):
    result = run(tmp_path, "migrate", DANGJIAN_DATABASE_URL="mysql://x")
    assert result.returncode == 2
    assert "DANGJIAN_DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_unknown_command_is_reported(tmp_path):
    result = run(tmp_path, "no-such-command")
    assert result.returncode == 1
    assert "Unknown command" in result.stderr
    assert "Traceback" not in result.stderr


# createadmin --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_createadmin_creates_a_superuser_and_an_audit_event():
    from dangjian.core.models import AuditEvent, User

    out = io.StringIO()
    call_command(
        "createadmin",
        username="chief",
        password=PASSWORD,
        display_name="王书记",
        mobile="13900001111",
        stdout=out,
    )
    user = User.objects.get(username="chief")
    assert user.is_superuser and user.is_staff
    assert user.check_password(PASSWORD)
    assert user.display_name == "王书记"
    assert "chief" in out.getvalue()
    event = AuditEvent.objects.get(action="user.create", object_id=str(user.pk))
    assert event.user_id is None
    assert event.after["superuser"] is True


@pytest.mark.django_db
def test_createadmin_refuses_a_duplicate_username():
    call_command("createadmin", username="chief", password=PASSWORD, stdout=io.StringIO())
    with pytest.raises(CommandError, match="^--username: "):
        call_command("createadmin", username="Chief", password=PASSWORD, stdout=io.StringIO())


@pytest.mark.django_db
def test_createadmin_reports_a_weak_password_by_option_name():
    from dangjian.core.models import User

    with pytest.raises(CommandError, match="--password"):
        call_command("createadmin", username="chief", password="x", stdout=io.StringIO())
    assert not User.objects.filter(username="chief").exists()


@pytest.mark.django_db
def test_createadmin_reads_the_password_from_the_environment(monkeypatch):
    from dangjian.core.models import User

    monkeypatch.setenv("DANGJIAN_ADMIN_PASSWORD", PASSWORD)
    call_command("createadmin", username="chief", stdout=io.StringIO())
    assert User.objects.get(username="chief").check_password(PASSWORD)


@pytest.mark.django_db
def test_createadmin_without_a_password_off_a_terminal(monkeypatch):
    monkeypatch.delenv("DANGJIAN_ADMIN_PASSWORD", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    with pytest.raises(CommandError, match="DANGJIAN_ADMIN_PASSWORD"):
        call_command("createadmin", username="chief", stdout=io.StringIO())


# healthcheck and worker ---------------------------------------------------------------------


@pytest.mark.django_db
def test_healthcheck_passes_on_the_test_database(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    out = io.StringIO()
    call_command("healthcheck", stdout=out)
    text = out.getvalue()
    for name in ("settings", "database", "migrations", "cache", "storage", "static files"):
        assert f"OK   {name}:" in text
    assert "FAIL" not in text
    assert "All checks passed." in text


@pytest.mark.django_db
def test_healthcheck_fails_when_a_vendor_file_is_missing(settings, tmp_path, monkeypatch):
    from dangjian.core.management.commands import healthcheck

    settings.MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setattr(healthcheck, "VENDOR_FILES", ["vendor/not-there.js"])
    out = io.StringIO()
    with pytest.raises(CommandError, match="static files"):
        call_command("healthcheck", stdout=out)
    assert "FAIL static files: missing vendor/not-there.js" in out.getvalue()


def test_healthcheck_hides_database_passwords():
    from dangjian.core.management.commands.healthcheck import describe_database, hide_password

    db = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "dj",
        "USER": "u",
        "PASSWORD": "s3cret",
        "HOST": "db",
        "PORT": 5432,
    }
    assert "s3cret" not in describe_database(db)
    assert hide_password("redis://:s3cret@cache:6379/0") == "redis://:***@cache:6379/0"


@pytest.mark.django_db(transaction=True)
def test_worker_batch_runs_and_exits():
    call_command("worker", "--batch", "--interval", "0.1", stdout=io.StringIO())


# serve, end to end --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def migrated_dir(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("serve")
    result = run(data_dir, "migrate", "--noinput", "-v0", timeout=300)
    assert result.returncode == 0, result.stderr
    return data_dir


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - local test server
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


class Server:
    def __init__(self, data_dir: Path, *args: str):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            dangjian_argv("serve", "--bind", f"127.0.0.1:{self.port}", "--workers", "1", *args),
            env=clean_env(data_dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for_line(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                assert self.proc.poll() is None, "".join(self.output)
                continue
            self.output.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} not printed:\n{''.join(self.output)}")

    def wait_until_up(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "serve exited early"
            try:
                status = get(self.base + "/login/")
            except OSError:
                time.sleep(0.2)
                continue
            if status == 500:  # the login page may not have its template yet
                status = get(self.base + "/api/v1/openapi.json")
            assert status == 200
            return
        raise AssertionError("the server did not answer within 30 s")

    def stop(self, sig=signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("serve did not stop on " + signal.Signals(sig).name) from None


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def test_serve_answers_pages_and_static_files(migrated_dir):
    server = Server(migrated_dir, "--no-worker")
    try:
        server.wait_for_line("serving on http://127.0.0.1:")
        server.wait_until_up()
        assert get(server.base + "/static/vendor/htmx.min.js") == 200
    finally:
        code = server.stop()
    assert code is not None
    assert not any("worker started" in line for line in server.output)


def test_serve_starts_a_worker_and_stops_it_on_sigterm(migrated_dir):
    server = Server(migrated_dir)
    try:
        line = server.wait_for_line("worker started pid=")
        pid = int(line.rsplit("pid=", 1)[1].split()[0])
        server.wait_for_line("Starting worker")  # django-tasks-db's worker has begun polling
        assert alive(pid), "".join(server.output)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert b"worker" in cmdline, "".join(server.output)
        server.wait_until_up()
    finally:
        server.stop(signal.SIGTERM)
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid)


def test_serve_refuses_to_start_with_unapplied_migrations(tmp_path):
    result = run(tmp_path, "serve", "--no-worker", "--bind", f"127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert "dangjian migrate" in result.stderr
    assert "Traceback" not in result.stderr
