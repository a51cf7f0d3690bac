"""What an open ballot writes, sealed: AES-GCM under the ballot key, which is not in the database.

A vote writes two rows in one transaction, so a reader of the database can always pair them
(PostgreSQL's xmin and ctid, SQLite's rowid, the WAL). Sealing makes the pair worthless: the
ballot-box row holds the receipt and the choice or ranking only as ciphertext, padded to one length
for the whole ballot so that "yes" and "abstain", or a short and a long ranking, look the same;
the participation row holds the receipt only as ciphertext too. The close opens the box and
rewrites it in clear, in receipt order.

Each seal is a random 12-byte nonce followed by the AES-GCM ciphertext and tag; the associated
data binds it to its ballot (and, in participation, to its voter), so a sealed value copied to
another row does not open.
"""

from __future__ import annotations

import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
BLOCK = 256  # sealed plaintexts are whole blocks of this many bytes


class SealError(ValueError):
    """A sealed value that does not open: another key, another ballot or voter, or altered."""


def padded_size(longest: dict[str, Any]) -> int:
    """The one plaintext length for a ballot: the longest payload it can hold, in whole blocks."""
    return -(-len(_json(longest)) // BLOCK) * BLOCK


def pad(data: bytes, size: int) -> bytes:
    """JSON ignores trailing whitespace, so spaces pad it without a length field."""
    if len(data) > size:
        raise ValueError(f"{len(data)} bytes do not fit in {size}")
    return data + b" " * (size - len(data))


def seal(aead: AESGCM, payload: dict[str, Any], aad: bytes, size: int) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + aead.encrypt(nonce, pad(_json(payload), size), aad)


def unseal(aead: AESGCM, sealed: bytes | memoryview, aad: bytes) -> dict[str, Any]:
    sealed = bytes(sealed)  # PostgreSQL's driver hands bytea over as a memoryview
    try:
        plain = aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
    except (InvalidTag, ValueError) as exc:  # ValueError: too short to hold even a nonce
        raise SealError("the sealed value does not open with this key for this ballot") from exc
    return json.loads(plain)


def box_aad(ballot_id: str) -> bytes:
    return b"congress ballot box\x00" + ballot_id.encode()


def receipt_aad(ballot_id: str, member_id: str, voter_key: str = "") -> bytes:
    """`voter_key`, if given, is one only the voter's credential makes: a retry after the
    credential was reissued then does not get the receipt back (it is refused as a second vote)."""
    return b"\x00".join((b"congress receipt", ballot_id.encode(), member_id.encode(), voter_key.encode()))


def _json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
