from __future__ import annotations

import json
import uuid

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from voting.domain.sealing import (
    BLOCK,
    NONCE_BYTES,
    SealError,
    box_aad,
    pad,
    padded_size,
    receipt_aad,
    seal,
    unseal,
)

KEY = AESGCM(AESGCM.generate_key(256))
RECEIPT = "9f" * 16
BALLOT = str(uuid.uuid4())


def test_a_sealed_ballot_opens_with_its_key_and_ballot_only() -> None:
    ballot = {"receipt": RECEIPT, "choice": "yes", "ranking": None}
    sealed = seal(KEY, ballot, box_aad(BALLOT), 256)
    assert unseal(KEY, sealed, box_aad(BALLOT)) == ballot
    assert unseal(KEY, memoryview(sealed), box_aad(BALLOT)) == ballot  # as PostgreSQL's driver gives it
    with pytest.raises(SealError):
        unseal(KEY, sealed, box_aad(str(uuid.uuid4())))  # copied to another ballot
    with pytest.raises(SealError):
        unseal(AESGCM(AESGCM.generate_key(256)), sealed, box_aad(BALLOT))
    altered = bytearray(sealed)
    altered[NONCE_BYTES + 3] ^= 1
    with pytest.raises(SealError):
        unseal(KEY, bytes(altered), box_aad(BALLOT))
    for short in (b"", b"x" * 5, sealed[:20]):
        with pytest.raises(SealError):
            unseal(KEY, short, box_aad(BALLOT))


def test_nothing_of_the_plaintext_shows_and_no_two_seals_are_alike() -> None:
    ballot = {"receipt": RECEIPT, "choice": "abstain", "ranking": None}
    seals = [seal(KEY, ballot, box_aad(BALLOT), 256) for _ in range(50)]
    assert len({s[:NONCE_BYTES] for s in seals}) == 50  # a fresh random nonce each time
    assert len(set(seals)) == 50
    assert not [s for s in seals if RECEIPT.encode() in s or b"abstain" in s]


def test_every_choice_and_every_ranking_of_a_ballot_seal_to_one_length() -> None:
    size = padded_size({"receipt": RECEIPT, "choice": "abstain", "ranking": None})
    assert size == BLOCK
    lengths = {len(seal(KEY, {"receipt": RECEIPT, "choice": c, "ranking": None}, b"", size)) for c in ("yes", "no")}
    assert lengths == {len(seal(KEY, {"receipt": RECEIPT, "choice": "abstain", "ranking": None}, b"", size))}

    candidates = [str(uuid.uuid4()) for _ in range(12)]  # more than one block's worth when all ranked
    size = padded_size({"receipt": RECEIPT, "choice": None, "ranking": candidates})
    assert size > BLOCK and size % BLOCK == 0
    rankings = [candidates[:1], candidates[:5], candidates[::-1], candidates]
    sealed = [seal(KEY, {"receipt": RECEIPT, "choice": None, "ranking": r}, b"", size) for r in rankings]
    assert len({len(s) for s in sealed}) == 1
    assert [unseal(KEY, s, b"")["ranking"] for s in sealed] == rankings


def test_padding_is_whitespace_json_ignores_and_never_truncates() -> None:
    data = json.dumps({"choice": "no"}).encode()
    padded = pad(data, 64)
    assert len(padded) == 64 and json.loads(padded) == {"choice": "no"}
    assert pad(data, len(data)) == data
    with pytest.raises(ValueError):
        pad(data, len(data) - 1)
    with pytest.raises(ValueError):
        seal(KEY, {"ranking": ["x" * 300]}, b"", 256)


def test_a_sealed_receipt_opens_only_for_its_voter_in_its_ballot_with_its_credential_key() -> None:
    held = {"receipt": RECEIPT, "slot": "0a" * 16}
    member, other = str(uuid.uuid4()), str(uuid.uuid4())
    sealed = seal(KEY, held, receipt_aad(BALLOT, member, "k1"), 128)
    assert unseal(KEY, sealed, receipt_aad(BALLOT, member, "k1")) == held
    for aad in (
        receipt_aad(BALLOT, other, "k1"),  # moved to another voter's row
        receipt_aad(str(uuid.uuid4()), member, "k1"),
        receipt_aad(BALLOT, member, "k2"),  # a reissued credential
        box_aad(BALLOT),
    ):
        with pytest.raises(SealError):
            unseal(KEY, sealed, aad)
    # The parts cannot be shifted into one another: (a, bc) is not (ab, c).
    assert receipt_aad("a", "bc") != receipt_aad("ab", "c")
