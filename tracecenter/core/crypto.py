"""Field-level encryption (AES-256-GCM) and blind indexes (HMAC-SHA256).

Keys live outside the database, in settings read from the environment. The keyring
holds several keys: the first encrypts, every one decrypts, so a rotation is: put
the new key first, keep the old one, run `manage.py rotate_keys`, then drop the old
key. Each value is bound to its model field (associated data), so a ciphertext
copied from one column to another fails to decrypt instead of leaking.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PREFIX = "tc1"
_NONCE_BYTES = 12


class DecryptionError(Exception):
    """A stored value could not be decrypted: wrong key, wrong column, or tampered."""


@dataclass(frozen=True)
class Keyring:
    current_kid: str
    keys: dict[str, AESGCM]


def _decode_key(kid: str, material: str) -> bytes:
    try:
        raw = base64.b64decode(material, validate=True)
    except binascii.Error:
        raise ImproperlyConfigured(f"Encryption key {kid!r} is not valid base64.") from None
    if len(raw) != 32:
        raise ImproperlyConfigured(f"Encryption key {kid!r} must be 32 bytes (AES-256), not {len(raw)}.")
    return raw


@lru_cache(maxsize=4)
def _parse_keyring(spec: str) -> Keyring:
    keys: dict[str, AESGCM] = {}
    order: list[str] = []
    for entry in spec.split(","):
        entry = entry.strip()
        if not entry:
            continue
        kid, sep, material = entry.partition(":")
        if not sep or not kid or "$" in kid:
            raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS entries must look like 'kid:base64key'.")
        if kid in keys:
            raise ImproperlyConfigured(f"Encryption key id {kid!r} appears twice.")
        keys[kid] = AESGCM(_decode_key(kid, material))
        order.append(kid)
    if not order:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS holds no key.")
    return Keyring(current_kid=order[0], keys=keys)


def keyring() -> Keyring:
    return _parse_keyring(settings.FIELD_ENCRYPTION_KEYS)


def encrypt(plaintext: str, *, context: str) -> str:
    ring = keyring()
    nonce = os.urandom(_NONCE_BYTES)
    sealed = ring.keys[ring.current_kid].encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
    return f"{PREFIX}${ring.current_kid}${base64.b64encode(nonce + sealed).decode('ascii')}"


def key_id_of(token: str) -> str | None:
    parts = token.split("$", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        return None
    return parts[1]


def decrypt(token: str, *, context: str) -> str:
    parts = token.split("$", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        raise DecryptionError("The stored value is not an encrypted TraceCenter value.")
    _, kid, body = parts
    ring = keyring()
    key = ring.keys.get(kid)
    if key is None:
        raise DecryptionError(f"No key with id {kid!r} is configured; it was removed before rotation finished.")
    try:
        raw = base64.b64decode(body, validate=True)
        return key.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode("utf-8")).decode("utf-8")
    except (binascii.Error, InvalidTag, ValueError):
        raise DecryptionError("The stored value failed authentication: wrong key, wrong column or tampered.") from None


@lru_cache(maxsize=4)
def _blind_key(material: str) -> bytes:
    try:
        raw = base64.b64decode(material, validate=True)
    except binascii.Error:
        raise ImproperlyConfigured("BLIND_INDEX_KEY is not valid base64.") from None
    if len(raw) < 32:
        raise ImproperlyConfigured("BLIND_INDEX_KEY must be at least 32 bytes.")
    return raw


def blind_index(normalized: str, *, purpose: str) -> str:
    """A keyed hash of an already-normalized value; equal inputs give equal indexes.

    `purpose` separates the index spaces, so a last name and a city that happen to be
    spelled alike do not share an index value.
    """
    key = _blind_key(settings.BLIND_INDEX_KEY)
    digest = hmac.new(key, f"{purpose}\x1f{normalized}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:20]).decode("ascii").lower()
