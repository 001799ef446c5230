"""Periodic sweeps: small idempotent jobs every worker runs every few minutes (expiring letters,
sending reminders). Each claims its rows safely, so several workers may run them at once.

`dangjian sweep` runs them once (for cron); `dangjian worker` runs them on a timer in a thread.
"""

import logging
import threading

from django.db import close_old_connections, connection
from django.utils.module_loading import import_string

log = logging.getLogger(__name__)

SWEEPS = [
    "dangjian.transfers.services.expire_letters",
    "dangjian.committees.reminders.send_reelection_reminders",
    "dangjian.transfers.notices.remind_stuck_transfers",
    "dangjian.meetings.sweep.remind_due",
]


def run_all() -> dict[str, int]:
    done = {}
    for path in SWEEPS:
        try:
            done[path] = import_string(path)()
        except Exception:  # one broken sweep must not stop the others or the worker
            log.exception("sweep %s failed", path)
            done[path] = -1
    return done


def start_thread(interval: float) -> threading.Thread | None:
    """Run the sweeps every `interval` seconds in a daemon thread (0: never)."""
    if interval <= 0:
        return None
    stop = threading.Event()

    def loop():
        while not stop.wait(interval):
            close_old_connections()
            run_all()
            connection.close()

    thread = threading.Thread(target=loop, name="dangjian-sweeps", daemon=True)
    thread.stop = stop  # type: ignore[attr-defined]
    thread.start()
    return thread
