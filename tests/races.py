"""Races on PostgreSQL with real connections in threads, shared by the concurrency tests.

`race(gate, *calls)` runs each call in its own thread and connection; they wait at a
threading.Barrier, then run into rows the main connection holds locked, and only when PostgreSQL
shows every thread waiting does the main connection let go: the calls really meet at the lock
instead of running one after the other by chance.
"""

import threading
import time

from django.db import connection, connections, transaction


def waiting(pids: list) -> int:
    """How many of these backends wait for a lock now (pg_locks is read live, unlike
    pg_stat_activity, which stays as first seen for the rest of a transaction)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted AND pid = ANY(%s)",
            [pids],
        )
        return cursor.fetchone()[0]


def race(gate: list, *calls) -> list:
    """Run each call in its own thread and connection, all at once, while the main connection
    holds the rows in `gate` (model instances) locked; release them once every thread waits.
    Returns ("ok", result) or ("error", exception) per call, in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)
    pids: list = [None] * len(calls)

    def run(i, call):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pids[i] = cursor.fetchone()[0]
            barrier.wait(timeout=30)
            results[i] = ("ok", call())
        except Exception as exc:  # the loser's Conflict, or anything unexpected
            results[i] = ("error", exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    with transaction.atomic():
        for obj in gate:
            type(obj).objects.select_for_update().filter(pk=obj.pk).first()
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while None in pids or waiting(pids) < len(calls):
            assert time.monotonic() < deadline, "the threads never met at the lock"
            assert results == [None] * len(calls), f"a thread ended before the lock: {results}"
            time.sleep(0.01)
    for t in threads:
        t.join(60)
        assert not t.is_alive()
    return results
