"""`dangjian check`: is this installation able to work? One line per check, exit 1 on failure."""

import secrets
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

VENDOR_FILES = [
    "vendor/htmx.min.js",
    "vendor/alpine.min.js",
    "vendor/bootstrap.min.css",
    "vendor/bootstrap.bundle.min.js",
    "vendor/bootstrap-icons/bootstrap-icons.min.css",
    "vendor/echarts.min.js",
]


def hide_password(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable>"
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def describe_database(db: dict) -> str:
    engine = db.get("ENGINE", "").rsplit(".", 1)[-1]
    if engine == "sqlite3":
        return f"sqlite3 {db.get('NAME')}"
    host = db.get("HOST") or "localhost"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    user = f"{db['USER']}@" if db.get("USER") else ""
    return f"{engine} {user}{host}{port}/{db.get('NAME')}"  # never the password


def check_settings():
    db = describe_database(settings.DATABASES["default"])
    return f"data dir {settings.DATA_DIR}; database {db}; debug {'on' if settings.DEBUG else 'off'}"


def check_database():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return f"{connection.vendor} reachable"


def check_migrations():
    from .serve import pending_migrations

    pending = pending_migrations()
    if pending:
        shown = ", ".join(pending[:5]) + (" ..." if len(pending) > 5 else "")
        raise RuntimeError(
            f"{len(pending)} unapplied migration(s): {shown}; run `dangjian migrate`"
        )
    return "all applied"


def check_cache():
    from django.core.cache import cache

    key = f"dangjian:healthcheck:{secrets.token_hex(8)}"
    value = secrets.token_hex(8)
    cache.set(key, value, 30)
    try:
        got = cache.get(key)
    finally:
        cache.delete(key)
    backend = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    where = ""
    if getattr(settings, "REDIS_URL", ""):
        where = f" at {hide_password(settings.REDIS_URL)}"
    if got != value:
        raise RuntimeError(f"{backend}{where}: a value written could not be read back")
    return f"{backend}{where}"


def check_storage():
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    name = default_storage.save(
        f"healthcheck/{secrets.token_hex(8)}.txt", ContentFile(b"dangjian healthcheck\n")
    )
    try:
        if not default_storage.exists(name):
            raise RuntimeError(f"{name} was saved but cannot be found")
    finally:
        default_storage.delete(name)
    location = getattr(default_storage, "location", "")
    storage = getattr(default_storage, "_wrapped", default_storage)
    return f"{type(storage).__name__} {location}".strip() + " writable"


def check_static():
    from django.contrib.staticfiles import finders

    missing = [name for name in VENDOR_FILES if not finders.find(name)]
    if missing:
        raise RuntimeError(
            f"missing {', '.join(missing)}: install the front-end assets (`make assets`)"
        )
    return f"{len(VENDOR_FILES)} vendor files found"


def check_tasks():
    from django_tasks import task_backends

    backend = task_backends["default"]
    label = f"{type(backend).__module__}.{type(backend).__name__}"
    if type(backend).__module__.startswith("django_tasks_db"):
        from django_tasks_db.models import DBTaskResult

        waiting = DBTaskResult.objects.ready().count()
        return f"{label}; {waiting} task(s) waiting"
    return label


CHECKS = [
    ("settings", check_settings),
    ("database", check_database),
    ("migrations", check_migrations),
    ("cache", check_cache),
    ("storage", check_storage),
    ("static files", check_static),
    ("task backend", check_tasks),
]


class Command(BaseCommand):
    help = (
        "Check the installation: settings, database and migrations, cache, file storage, "
        "front-end files and the task queue. Exits 1 when a check fails."
    )
    requires_system_checks = []

    def handle(self, *args, **options):
        failed = []
        for name, check in CHECKS:
            try:
                detail = check()
            except Exception as exc:  # every failure is reported, never a traceback
                failed.append(name)
                reason = str(exc).strip() or type(exc).__name__
                self.stdout.write(f"{self.style.ERROR('FAIL')} {name}: {reason}")
            else:
                self.stdout.write(f"{self.style.SUCCESS('OK  ')} {name}: {detail}")
        if failed:
            raise CommandError(f"{len(failed)} check(s) failed: {', '.join(failed)}")
        self.stdout.write("All checks passed.")
