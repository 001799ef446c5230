"""Fixed-window rate limits (限流) on the Django cache: local memory by default, Redis in production.

A window opens at the first hit of a (scope, key) and lasts `window` seconds; the hit that makes
the count `limit + 1` is refused with RateLimited, which says how long to wait. The count is kept
with `cache.add` then `cache.incr`, both atomic on Redis and under a lock in local memory, so
concurrent requests never lose a hit. Keys are keyed hashes: a phone number or an IP address is
never written into the cache as it is.
"""

import math
import time

from django.core.cache import cache
from django.utils.translation import ngettext

from .crypto import keyed_hash
from .errors import ServiceError


class RateLimited(ServiceError):
    """Too many attempts in a window: answered 429, with the seconds to wait in `retry_after`."""

    code = "rate_limited"
    status = 429

    def __init__(self, retry_after: int, message=None, *, code: str | None = None, field=None):
        self.retry_after = max(1, int(retry_after))
        if message is None:
            message = ngettext(
                "Too many attempts: try again in %(n)d minute.",
                "Too many attempts: try again in %(n)d minutes.",
                self.minutes,
            ) % {"n": self.minutes}
        super().__init__(message, code=code, field=field)

    @property
    def minutes(self) -> int:
        """The wait rounded up to whole minutes, for messages."""
        return math.ceil(self.retry_after / 60)


def _counter_key(scope: str, key: str) -> str:
    return f"ratelimit:{scope}:{keyed_hash(key)}"


def _count(counter: str, window: int) -> int:
    for _attempt in range(3):
        cache.add(counter, 0, window)
        try:
            return cache.incr(counter)
        except ValueError:  # expired or evicted between add and incr: open the window again
            continue
    cache.set(counter, 1, window)
    return 1


def hit(scope: str, key: str, *, limit: int, window: int) -> None:
    """Count one attempt of `key` (a phone number, an IP address, a user id) in `scope` (what is
    being limited, such as "captcha:image"); raise RateLimited once `limit` attempts have been
    made in the current window of `window` seconds. Refused attempts count too, so hammering
    does not shorten the wait."""
    counter = _counter_key(scope, key)
    count = _count(counter, window)
    if count == 1:
        # The first hit of a window notes when it opened, for retry_after. The expiry is set
        # again because Redis' incr recreates a key that expired between its exists check and
        # the increment, without any expiry: a counter that would never reset.
        cache.touch(counter, window)
        cache.set(f"{counter}:opened", time.time(), window)
    if count > limit:
        opened = cache.get(f"{counter}:opened")
        left = window if opened is None else math.ceil(opened + window - time.time())
        raise RateLimited(min(max(left, 1), window))


def peek(scope: str, key: str, *, limit: int) -> int:
    """How many attempts `key` has left in `scope` in the current window, without counting one."""
    used = cache.get(_counter_key(scope, key)) or 0
    return max(limit - used, 0)


def reset(scope: str, key: str) -> None:
    """Forget the attempts of `key` in `scope` (after a success that should not count against
    the person, for instance)."""
    counter = _counter_key(scope, key)
    cache.delete_many([counter, f"{counter}:opened"])
