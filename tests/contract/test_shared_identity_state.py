"""Contract of the identity domain's shared-state ports (identity/ports.py):
the JWT signing key and the rate limits' windows. On PostgreSQL every
process on the database shares them; on SQLite they are the one server's
(the data dir's key file, windows in memory)."""

from __future__ import annotations

import asyncio


async def test_the_signing_key_is_created_once_and_every_caller_gets_it(stores):
    keys = await asyncio.gather(*(stores.signing_keys.signing_key() for _ in range(8)))
    assert len(set(keys)) == 1
    assert len(keys[0]) >= 32
    assert await stores.signing_keys.signing_key() == keys[0]


async def test_a_window_counts_each_request_once_even_when_they_arrive_together(stores):
    windows = await asyncio.gather(*(stores.rate_windows.count("user:a", 60) for _ in range(20)))
    assert sorted(window.requests for window in windows) == list(range(1, 21))
    assert len({window.started_at for window in windows}) == 1
    assert all(window.started_at <= window.now < window.started_at + 60 for window in windows)


async def test_reading_a_window_does_not_count_and_buckets_are_apart(stores):
    await stores.rate_windows.count("user:a", 60)
    await stores.rate_windows.count("user:a", 60)
    read = await stores.rate_windows.count("user:a", 60, count=False)
    assert read.requests == 2
    assert (await stores.rate_windows.count("user:a", 60, count=False)).requests == 2
    assert (await stores.rate_windows.count("ip:10.0.0.1", 60)).requests == 1
    unknown = await stores.rate_windows.count("ip:10.0.0.2", 60, count=False)
    assert unknown.requests == 0 and unknown.started_at == unknown.now


async def test_a_new_window_starts_once_the_last_one_is_over(stores):
    first = await stores.rate_windows.count("user:b", 0.2)
    await stores.rate_windows.count("user:b", 0.2)
    await asyncio.sleep(0.3)
    assert (await stores.rate_windows.count("user:b", 0.2, count=False)).requests == 0
    fresh = await stores.rate_windows.count("user:b", 0.2)
    assert fresh.requests == 1 and fresh.started_at >= first.started_at + 0.2
