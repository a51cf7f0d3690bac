"""Proof of who asked, carried inside every RPC and every event (the broker is not a trust boundary).

A caller signs the call it makes: which service signs (`iss`), which method it is for (`aud`), a
digest of the exact arguments, and a short expiry. A producer signs each event it publishes: its
name and a digest of the envelope. The key (`CONGRESS_SERVICE_KEY`) is held by the services only,
so a user of the broker who has no key can neither make a call a service acts on nor publish an
event a service believes. HMAC-SHA256 as a JSON Web Token (PyJWT), no cryptography of our own.
"""

from __future__ import annotations

import hashlib
import json
import time
from functools import cache
from typing import Any

import jwt

from congress.errors import Forbidden
from congress.keys import service_key

# nameko sends a worker's context data as `nameko.<key>` headers; the proof travels as one.
CALL_PROOF = "congress_proof"
EVENT_PROOF = "congress-proof"
CALL_TTL = 30.0  # seconds: a captured proof is useless soon after, and clocks of one cluster agree
LEEWAY = 5.0
ALGORITHM = "HS256"


class InvalidProof(Forbidden):
    """A call or event whose proof is missing, forged, for something else, or expired."""


@cache
def _key() -> bytes:
    return service_key()


def canonical(value: Any) -> bytes:
    """The canonical JSON form digests are taken of (a relay publishes events in it, and so digests
    what it sends without writing it twice)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str).encode()


def digest(value: Any) -> str:
    """SHA-256 of a canonical JSON form: the same for what was sent and what the broker delivered."""
    return digest_of(canonical(value))


def digest_of(canonical_form: bytes) -> str:
    return hashlib.sha256(canonical_form).hexdigest()


def _call_digest(args: Any, kwargs: Any) -> str:
    return digest({"args": list(args), "kwargs": dict(kwargs)})


def sign_call(
    issuer: str, service: str, method: str, args: Any, kwargs: Any, key: bytes | None = None, ttl: float | None = None
) -> str:
    """`ttl`: how long the caller will wait for the answer (at most CALL_TTL); a request still
    queued after that (the broker was away) is refused unworked: nobody waits for its answer."""
    now = time.time()
    claims = {
        "iss": issuer,
        "aud": f"{service}.{method}",
        "iat": int(now),
        "exp": int(now + min(ttl or CALL_TTL, CALL_TTL) + 1),
        "dig": _call_digest(args, kwargs),
    }
    return jwt.encode(claims, key or _key(), algorithm=ALGORITHM)


def verify_call(proof: Any, service: str, method: str, args: Any, kwargs: Any, key: bytes | None = None) -> str:
    """The name of the service that signed this very call; raises InvalidProof otherwise."""
    if not isinstance(proof, str) or not proof:
        raise InvalidProof(f"{service}.{method}: the call carries no proof of who asked")
    try:
        claims = jwt.decode(
            proof,
            key or _key(),
            algorithms=[ALGORITHM],
            audience=f"{service}.{method}",
            leeway=LEEWAY,
            options={"require": ["iss", "aud", "iat", "exp", "dig"]},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidProof(f"{service}.{method}: the call's proof has expired") from None
    except jwt.InvalidAudienceError:
        raise InvalidProof(f"{service}.{method}: the call's proof is for another call") from None
    except jwt.PyJWTError:
        raise InvalidProof(f"{service}.{method}: the call's proof is not valid") from None
    if claims["dig"] != _call_digest(args, kwargs):
        raise InvalidProof(f"{service}.{method}: the call's arguments are not the ones signed")
    return str(claims["iss"])


def sign_event(
    producer: str, envelope: dict[str, Any], key: bytes | None = None, envelope_digest: str | None = None
) -> str:
    """`envelope_digest`: `digest(envelope)`, when the caller has it already."""
    claims = {"iss": producer, "aud": "event", "iat": int(time.time()), "dig": envelope_digest or digest(envelope)}
    return jwt.encode(claims, key or _key(), algorithm=ALGORITHM)


def verify_event(proof: Any, producer: str, envelope: Any, key: bytes | None = None) -> None:
    """Raises InvalidProof unless `producer` signed exactly this envelope. Events do not expire:
    a late or replayed one is dropped by its event id, not by its age."""
    if not isinstance(proof, str) or not proof:
        raise InvalidProof(f"an event from {producer} carries no proof of its producer")
    try:
        claims = jwt.decode(
            proof,
            key or _key(),
            algorithms=[ALGORITHM],
            audience="event",
            options={"require": ["iss", "aud", "dig"], "verify_exp": False},
        )
    except jwt.PyJWTError:
        raise InvalidProof(f"an event claiming to come from {producer} has no valid proof") from None
    if claims["iss"] != producer:
        raise InvalidProof(f"an event on {producer}'s exchange was signed by {claims['iss']}")
    if claims["dig"] != digest(envelope):
        raise InvalidProof(f"an event from {producer} was changed after it was signed")
