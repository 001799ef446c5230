"""The fixed-window rate limiter (core.ratelimit), on the cache the suite runs with (local memory,
or Redis when DANGJIAN_REDIS_URL is set)."""

import datetime
import threading
import time
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.utils import translation

from dangjian.core import ratelimit
from dangjian.core.crypto import keyed_hash
from dangjian.core.errors import ServiceError
from dangjian.core.ratelimit import RateLimited, hit, peek, reset

PHONE = "13812345678"


def cache_keys() -> list[str]:
    """Every key the current test wrote (the per-test prefix of conftest._fresh_cache)."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        client = backend._cache.get_client()
        return [k.decode() for k in client.scan_iter(match=f"{backend.key_prefix}:*")]
    return [k for k in backend._cache if k.startswith(f"{backend.key_prefix}:")]


def test_the_limit_is_reached_exactly_at_the_attempt_after_it():
    for _ in range(5):
        hit("desk:submit", PHONE, limit=5, window=60)
    with pytest.raises(RateLimited) as exc:
        hit("desk:submit", PHONE, limit=5, window=60)
    assert (exc.value.status, exc.value.code) == (429, "rate_limited")
    assert isinstance(exc.value, ServiceError)
    assert exc.value.as_dict()["code"] == "rate_limited"


def test_refused_attempts_still_count():
    hit("desk:submit", PHONE, limit=1, window=60)
    for _ in range(3):
        with pytest.raises(RateLimited):
            hit("desk:submit", PHONE, limit=1, window=60)
    assert peek("desk:submit", PHONE, limit=10) == 6


def test_the_refusal_says_how_long_is_left_of_the_window():
    start = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    with time_machine.travel(start, tick=False) as traveller:
        hit("desk:submit", PHONE, limit=1, window=300)
        traveller.shift(datetime.timedelta(seconds=130))
        with pytest.raises(RateLimited) as exc:
            hit("desk:submit", PHONE, limit=1, window=300)
    assert exc.value.retry_after == 170
    assert exc.value.minutes == 3  # rounded up
    with translation.override("en"):
        assert str(RateLimited(170).message) == "Too many attempts: try again in 3 minutes."
        assert str(RateLimited(45).message) == "Too many attempts: try again in 1 minute."


def test_a_new_window_opens_when_the_last_one_expires():
    for _ in range(2):
        hit("desk:submit", PHONE, limit=2, window=1)
    with pytest.raises(RateLimited) as exc:
        hit("desk:submit", PHONE, limit=2, window=1)
    assert exc.value.retry_after == 1
    time.sleep(1.2)
    assert peek("desk:submit", PHONE, limit=2) == 2
    hit("desk:submit", PHONE, limit=2, window=1)
    hit("desk:submit", PHONE, limit=2, window=1)
    with pytest.raises(RateLimited):
        hit("desk:submit", PHONE, limit=2, window=1)


def test_keys_and_scopes_are_counted_apart():
    hit("desk:submit", PHONE, limit=1, window=60)
    hit("desk:submit", "13900001111", limit=1, window=60)
    hit("captcha:image", PHONE, limit=1, window=60)
    with pytest.raises(RateLimited):
        hit("desk:submit", PHONE, limit=1, window=60)
    assert peek("desk:submit", "13900001111", limit=1) == 0
    assert peek("desk:submit", "13700000000", limit=1) == 1


def test_the_cache_holds_keyed_hashes_never_the_phone_number_or_address():
    hit("desk:submit", PHONE, limit=5, window=60)
    hit("captcha:image", "203.0.113.7", limit=5, window=60)
    keys = cache_keys()
    assert keys and not any(PHONE in k or "203.0.113.7" in k for k in keys)
    assert any(k.endswith(f"ratelimit:desk:submit:{keyed_hash(PHONE)}") for k in keys)
    assert any(k.endswith(f"ratelimit:captcha:image:{keyed_hash('203.0.113.7')}") for k in keys)


def test_peek_counts_nothing_and_reset_forgets():
    assert peek("desk:submit", PHONE, limit=3) == 3
    hit("desk:submit", PHONE, limit=3, window=60)
    assert peek("desk:submit", PHONE, limit=3) == 2
    assert peek("desk:submit", PHONE, limit=3) == 2
    reset("desk:submit", PHONE)
    assert peek("desk:submit", PHONE, limit=3) == 3


def test_concurrent_hits_are_all_counted():
    prefix = caches["default"].key_prefix
    barrier = threading.Barrier(6)
    errors = []

    def worker():
        caches["default"].key_prefix = prefix  # each thread has its own cache object
        try:
            barrier.wait()
            for _ in range(25):
                hit("desk:submit", PHONE, limit=1000, window=60)
        except Exception as exc:  # pragma: no cover - shown by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert peek("desk:submit", PHONE, limit=1000) == 1000 - 150


def test_a_counter_gone_between_add_and_incr_starts_a_new_window(monkeypatch):
    backend = caches["default"]
    real_incr = backend.incr
    calls = []

    def vanishing_incr(key, delta=1, version=None):
        calls.append(key)
        if len(calls) == 1:
            backend.delete(key)  # expired or evicted just now
        return real_incr(key, delta, version)

    monkeypatch.setattr(backend, "incr", vanishing_incr)
    hit("desk:submit", PHONE, limit=1, window=60)
    assert len(calls) == 2
    with pytest.raises(RateLimited):
        hit("desk:submit", PHONE, limit=1, window=60)


def test_a_counter_recreated_without_expiry_gets_one(monkeypatch):
    # Redis' incr checks that the key exists, then increments: a key expiring in between is
    # recreated by the increment with no expiry at all. The window must still end.
    backend = caches["default"]

    def recreating_incr(key, delta=1, version=None):
        backend.set(key, delta, None)
        return delta

    monkeypatch.setattr(backend, "incr", recreating_incr)
    hit("desk:submit", PHONE, limit=1, window=1)
    monkeypatch.undo()
    with pytest.raises(RateLimited):
        hit("desk:submit", PHONE, limit=1, window=1)
    time.sleep(1.2)
    assert peek("desk:submit", PHONE, limit=1) == 1


def test_the_transfer_look_ups_use_the_limiter(monkeypatch):
    from dangjian.transfers import services

    actor = type("Actor", (), {"pk": 42})()
    for _ in range(services.LOOKUPS_ALLOWED):
        services._throttle(actor)
    with pytest.raises(services.TooManyLookups) as exc:
        services._throttle(actor)
    assert isinstance(exc.value, RateLimited)
    assert (exc.value.status, exc.value.code, exc.value.field) == (429, "throttled", "id_number")
    assert 0 < exc.value.retry_after <= services.LOOKUP_WINDOW
    assert peek("transfers:lookup", "42", limit=services.LOOKUPS_ALLOWED) == 0
    assert cache.get(f"ratelimit:transfers:lookup:{keyed_hash('42')}") > 0
    assert ratelimit.peek("transfers:lookup", "43", limit=1) == 1
