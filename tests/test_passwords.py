"""Password hashes: argon2id at RFC 9106's low-memory profile unless
configured (PASSWORD_HASH_*), each verified at the cost it was made with."""

from __future__ import annotations

from agent_runtime.config import AuthSettings
from agent_runtime.identity.passwords import Passwords


def default_passwords() -> Passwords:
    defaults = AuthSettings()
    return Passwords(defaults.password_hash_memory_kib, defaults.password_hash_passes)


async def test_new_hashes_use_rfc_9106s_low_memory_profile_by_default():
    passwords = default_passwords()
    stored = await passwords.hash("correct horse battery")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert await passwords.verify(stored, "correct horse battery")
    assert not await passwords.verify(stored, "wrong horse battery")


async def test_a_changed_cost_applies_to_new_hashes_and_old_ones_still_verify():
    made_before = await default_passwords().hash("correct horse battery")
    cheaper = Passwords(memory_kib=64, passes=1)
    assert (await cheaper.hash("correct horse battery")).startswith("$argon2id$v=19$m=64,t=1,p=4$")
    assert await cheaper.verify(made_before, "correct horse battery")


async def test_an_unknown_user_fails_like_a_wrong_password():
    passwords = Passwords(memory_kib=64, passes=1)
    assert not await passwords.verify(None, "anything at all")
    assert not await passwords.verify(None, "not-a-real-password")
