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
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
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


def blind_index_of_bytes(*parts: bytes, purpose: str) -> str:
    """blind_index of the concatenated parts, hashed as they are: a file of megabytes is not copied.

    Equal to blind_index(b"".join(parts).decode(), purpose=purpose) for UTF-8 text.
    """
    mac = hmac.new(_blind_key(settings.BLIND_INDEX_KEY), f"{purpose}\x1f".encode(), hashlib.sha256)
    for part in parts:
        mac.update(part)
    return base64.b32encode(mac.digest()[:20]).decode("ascii").lower()


# --- Envelope encryption of large values (uploaded files; later recordings).
#
# A large value is encrypted once with a data key of its own; only that small data key is
# encrypted with the keyring (as a text token above). Rotating the keyring re-wraps the data
# key and never re-encrypts the value: a 50 MB file costs a few hundred bytes to rotate.
# Layout: b"tc2" | length of the wrapped key (2 bytes) | wrapped key (ASCII) | nonce | ciphertext.
BLOB_PREFIX = b"tc2"


def _data_key_header(data_key: bytes, nonce: bytes, *, context: str) -> bytes:
    wrapped = encrypt(base64.b64encode(data_key).decode("ascii"), context=f"data-key:{context}").encode("ascii")
    return BLOB_PREFIX + len(wrapped).to_bytes(2, "big") + wrapped + nonce


def seal_bytes(data: bytes, *, context: str) -> bytes:
    data_key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(_NONCE_BYTES)
    return _data_key_header(data_key, nonce, context=context) + AESGCM(data_key).encrypt(nonce, data, context.encode("utf-8"))


class BlobSealer:
    """seal_bytes for data that arrives piece by piece (an upload): the same layout, written to `out` as it comes.

    AES-GCM's output is the ciphertext followed by its 16-byte tag, so streaming it gives exactly
    what seal_bytes gives, and open_bytes opens it; the clear data is never whole in memory.
    """

    def __init__(self, out: BinaryIO, *, context: str) -> None:
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(_NONCE_BYTES)
        self._out = out
        self._encryptor = Cipher(algorithms.AES(data_key), modes.GCM(nonce)).encryptor()
        self._encryptor.authenticate_additional_data(context.encode("utf-8"))
        out.write(_data_key_header(data_key, nonce, context=context))

    def update(self, data: bytes) -> None:
        self._out.write(self._encryptor.update(data))

    def finish(self) -> None:
        self._out.write(self._encryptor.finalize() + self._encryptor.tag)


@dataclass(frozen=True)
class Sealed:
    """A value sealed already (by BlobSealer, under its field's context): an EncryptedBlobField stores it as it is."""

    blob: bytes
    size: int = 0  # of the clear data, when known


def _blob_parts(blob: bytes | memoryview) -> tuple[str, int]:
    """(wrapped data key, offset of the nonce)."""
    if len(blob) < 5 or bytes(blob[:3]) != BLOB_PREFIX:
        raise DecryptionError("The stored value is not an encrypted TraceCenter blob.")
    size = int.from_bytes(blob[3:5], "big")
    end = 5 + size
    if len(blob) < end + _NONCE_BYTES:
        raise DecryptionError("The stored blob is cut short.")
    return bytes(blob[5:end]).decode("ascii", errors="replace"), end


def open_bytes(blob: bytes, *, context: str) -> bytes:
    # Slices of a memoryview, not of the bytes: a 50 MB file is not copied on its way to the cipher.
    view = memoryview(blob)
    wrapped, offset = _blob_parts(view)
    data_key = base64.b64decode(decrypt(wrapped, context=f"data-key:{context}"))
    try:
        return AESGCM(data_key).decrypt(view[offset : offset + _NONCE_BYTES], view[offset + _NONCE_BYTES :], context.encode())
    except (InvalidTag, ValueError):
        raise DecryptionError("The stored blob failed authentication: wrong column or tampered.") from None


def blob_key_id(head: bytes) -> str | None:
    """The keyring key that wraps a blob's data key, read from its first few hundred bytes."""
    try:
        wrapped, _offset = _blob_parts(bytes(head) + b"\0" * _NONCE_BYTES)
    except DecryptionError:
        return None
    return key_id_of(wrapped)


def rewrap_head(head: bytes, *, context: str) -> tuple[bytes, int]:
    """A blob's new header (data key wrapped with the current key) and the length of the old one."""
    wrapped, offset = _blob_parts(bytes(head) + b"\0" * _NONCE_BYTES)
    data_key = decrypt(wrapped, context=f"data-key:{context}")
    rewrapped = encrypt(data_key, context=f"data-key:{context}").encode("ascii")
    return BLOB_PREFIX + len(rewrapped).to_bytes(2, "big") + rewrapped, offset
