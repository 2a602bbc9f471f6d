"""API key material: generation, the keyed hash that is stored, and the display prefix (guide §15).

The full key exists only in the response that shows it once; the database keeps ``key_prefix`` (for lookup and
display) and ``key_hash`` = HMAC-SHA256(pepper, key). A database dump without the pepper yields no usable key and
no way to test guesses offline.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings

# Guide §15 samples are lowercase hex of 64 characters: 32 random bytes from the OS CSPRNG (256 bits).
KEY_BYTES = 32
KEY_LENGTH = KEY_BYTES * 2
# 12 hex characters (48 bits) make the lookup index practically collision-free and still leave 208 secret bits.
PREFIX_LENGTH = 12


def key_generate() -> str:
    return secrets.token_hex(KEY_BYTES)


def key_prefix(key: str) -> str:
    return key[:PREFIX_LENGTH]


def key_hash(key: str) -> str:
    pepper = str(settings.PORTAL_API_KEY_PEPPER).encode()
    return hmac.new(pepper, key.encode(), hashlib.sha256).hexdigest()


def key_matches(key: str, stored_hash: str) -> bool:
    """Compare in constant time, so the response time says nothing about how much of a guess was right."""
    return hmac.compare_digest(key_hash(key), stored_hash)


def key_is_well_formed(key: str) -> bool:
    return len(key) == KEY_LENGTH and all(c in "0123456789abcdef" for c in key)
