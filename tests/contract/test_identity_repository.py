"""Contract of the identity domain's port (identity/ports.py)."""

from __future__ import annotations

from agent_runtime.identity.models import ApiKeyRecord, UserRecord


def user(user_id: str, email: str, created_at: str = "2026-01-01T00:00:00.000Z") -> UserRecord:
    return UserRecord(user_id, email, f"Name {user_id}", user_id, "hash-of-password", created_at)


def key(key_id: str, user_id: str | None, created_at: str, **fields) -> ApiKeyRecord:
    return ApiKeyRecord(key_id, user_id, f"key {key_id}", f"hash-{key_id}", f"md_{key_id}", created_at, **fields)


async def test_users_read_back_by_id_and_email_and_an_email_is_taken_once(stores):
    alice = user("u1", "alice@example.com")
    assert await stores.identity.create_user(alice) is True
    assert await stores.identity.create_user(user("u2", "alice@example.com")) is False
    assert await stores.identity.get_user("u1") == alice
    assert await stores.identity.find_user_by_email("alice@example.com") == alice
    assert await stores.identity.get_user("u2") is None
    assert await stores.identity.find_user_by_email("nobody@example.com") is None


async def test_users_list_in_order_of_creation_or_one_by_id(stores):
    await stores.identity.create_user(user("u2", "b@example.com", "2026-01-01T00:00:02.000Z"))
    await stores.identity.create_user(user("u1", "a@example.com", "2026-01-01T00:00:01.000Z"))
    assert [u.user_id for u in await stores.identity.list_users()] == ["u1", "u2"]
    assert [u.user_id for u in await stores.identity.list_users("u2")] == ["u2"]
    assert await stores.identity.list_users("missing") == []


async def test_keys_read_back_by_id_and_hash(stores):
    await stores.identity.create_user(user("u1", "a@example.com"))
    issued = key("k1", "u1", "2026-01-01T00:00:00.000Z", expires_at="2027-01-01T00:00:00.000Z")
    await stores.identity.create_api_key(issued)
    assert await stores.identity.get_api_key("k1") == issued
    assert await stores.identity.find_api_key_by_hash("hash-k1") == issued
    assert await stores.identity.get_api_key("k2") is None
    assert await stores.identity.find_api_key_by_hash("hash-k2") is None


async def test_keys_list_newest_first_for_one_owner_or_all(stores):
    await stores.identity.create_user(user("u1", "a@example.com"))
    await stores.identity.create_user(user("u2", "b@example.com"))
    await stores.identity.create_api_key(key("old", "u1", "2026-01-01T00:00:01.000Z"))
    await stores.identity.create_api_key(key("admin", None, "2026-01-01T00:00:02.000Z"))
    await stores.identity.create_api_key(key("new", "u1", "2026-01-01T00:00:03.000Z"))
    assert [k.key_id for k in await stores.identity.list_api_keys("u1")] == ["new", "old"]
    assert [k.key_id for k in await stores.identity.list_api_keys(None)] == ["new", "admin", "old"]
    assert await stores.identity.list_api_keys("u2") == []


async def test_revoking_keeps_the_first_time_and_touching_records_use(stores):
    await stores.identity.create_user(user("u1", "a@example.com"))
    await stores.identity.create_api_key(key("k1", "u1", "2026-01-01T00:00:00.000Z"))
    revoked = await stores.identity.revoke_api_key("k1", "2026-01-02T00:00:00.000Z")
    assert revoked.revoked_at == "2026-01-02T00:00:00.000Z"
    again = await stores.identity.revoke_api_key("k1", "2026-01-03T00:00:00.000Z")
    assert again.revoked_at == "2026-01-02T00:00:00.000Z"
    assert await stores.identity.revoke_api_key("missing", "2026-01-03T00:00:00.000Z") is None
    await stores.identity.touch_api_key("k1", "2026-01-04T00:00:00.000Z")
    assert (await stores.identity.get_api_key("k1")).last_used_at == "2026-01-04T00:00:00.000Z"
