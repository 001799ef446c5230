"""The `dangjian` command: a friendly front for the platform's Django management commands.

    dangjian serve            web server (gunicorn) plus a background worker
    dangjian worker           background worker only
    dangjian migrate          create or update the database tables
    dangjian createadmin      create a system administrator
    dangjian seed             load demo data
    dangjian check            check that the installation works (our `healthcheck`)
    dangjian <command>        any other Django management command (`dangjian help --all`)

Hyphens and underscores are interchangeable in command names (`import-members` runs the
`import_members` management command). Each command answers `--help`.
"""

import os
import sys

PROG = "dangjian"

# Sub-commands whose name differs from the management command that implements them.
ALIASES = {
    "check": "healthcheck",
    "django-check": "check",
}

# Shown by `dangjian --help`, in this order.
FEATURED = [
    ("serve", "Run the web server (gunicorn) and, unless --no-worker, a background worker."),
    ("worker", "Run a background worker that executes queued tasks (imports, exports, ...)."),
    ("migrate", "Create or update the database tables; run after every upgrade."),
    ("createadmin", "Create a system administrator account."),
    ("seed", "Load demo data: an organisation tree, members and accounts."),
    ("check", "Check settings, database, cache, file storage, static files and task queue."),
    ("django-check", "Django's own system check (`manage.py check`)."),
    ("shell", "Open a Python shell with the project loaded."),
]

HELP_HEADER = f"""\
usage: {PROG} <command> [options]

The command line of the Party-building platform (基层党建信息化平台).
Settings come from DANGJIAN_* environment variables; data lives in DANGJIAN_DATA_DIR (./var).

Commands:
"""

HELP_FOOTER = f"""
Any other Django management command works too, e.g. `{PROG} showmigrations`;
`{PROG} help --all` lists them all. `{PROG} <command> --help` explains one command.

First start:
  {PROG} migrate && {PROG} createadmin --username admin && {PROG} serve
"""


class _ConfigError(Exception):
    pass


def _load_settings():
    """Import the settings so that a bad DANGJIAN_* value stops us before anything runs."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        settings.INSTALLED_APPS  # noqa: B018 - forces the settings module to load
        import django

        django.setup()
    except ImproperlyConfigured as exc:
        raise _ConfigError(str(exc)) from None


def _project_commands() -> dict[str, str]:
    """Management commands of our own apps not already featured: name -> one-line help."""
    from django.core.management import get_commands, load_command_class

    featured = {ALIASES.get(name, name) for name, _ in FEATURED}
    found = {}
    for name, app in sorted(get_commands().items()):
        if not app.startswith("dangjian") or name in featured:
            continue
        try:
            text = load_command_class(app, name).help or ""
        except Exception:  # a broken command must not break the help page
            text = ""
        found[name.replace("_", "-")] = text.strip().splitlines()[0] if text.strip() else ""
    return found


def print_help(stream=None) -> None:
    stream = stream or sys.stdout
    lines = [HELP_HEADER]
    for name, text in FEATURED:
        lines.append(f"  {name:<16}{text}\n")
    try:
        _load_settings()
        extra = _project_commands()
    except Exception:  # help must work even when the settings are broken
        extra = {}
    if extra:
        lines.append("\nMore commands of the platform:\n")
        for name, text in extra.items():
            lines.append(f"  {name:<16}{text}\n")
    lines.append(HELP_FOOTER)
    stream.write("".join(lines))


def resolve(name: str) -> str:
    """The management command behind a sub-command name."""
    if name in ALIASES:
        return ALIASES[name]
    from django.core.management import get_commands

    commands = get_commands()
    if name in commands:
        return name
    underscored = name.replace("-", "_")
    if underscored in commands:
        return underscored
    return name  # Django answers an unknown name with "Unknown command" and suggestions


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dangjian.settings")
    args = list(sys.argv[1:] if argv is None else argv)

    if not args or args[0] in {"-h", "--help"} or args == ["help"]:
        print_help()
        return 0
    if args[0] == "--version":
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(f"{PROG} {version('dangjian')}")
        except PackageNotFoundError:
            print(f"{PROG} (not installed)")
        return 0

    from django.core.exceptions import ImproperlyConfigured

    try:
        _load_settings()
        from django.core.management import ManagementUtility, execute_from_command_line

        if args[0] == "help":
            # `dangjian help --all`: Django's full list; `dangjian help serve`: that command's help
            rest = args[1:]
            if rest and rest[0] == "--all":
                args = ["help"]
            elif rest and not rest[0].startswith("-"):
                args = [rest[0], "--help"]
        name = args[0]
        target = resolve(name) if name != "help" else name
        if target != name:
            # Run the command under the name the user typed, so its usage line reads
            # `dangjian check ...` rather than `dangjian healthcheck ...`.
            command = ManagementUtility([PROG, *args]).fetch_command(target)
            command.run_from_argv([PROG, name, *args[1:]])
        else:
            execute_from_command_line([PROG, *args])
    except (_ConfigError, ImproperlyConfigured) as exc:
        sys.stderr.write(f"{PROG}: configuration error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
