"""Bearer tokens (spec section 6): compared as SHA-256 hashes only, never kept in clear."""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import math
import os
import secrets
import sys
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable

from congress.actors import Actor
from congress.errors import NotAuthenticated

# Placeholders people leave in config files: never an admin token.
WEAK_TOKENS = {"", "change-me", "changeme", "admin", "secret", "password", "token"}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def presented_token(authorization: str | None) -> str:
    if not authorization:
        raise NotAuthenticated("a bearer token is required (Authorization: Bearer …)")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("the Authorization header must be 'Bearer <token>'")
    return token.strip()


class TokenBook:
    """The gateway's bootstrap tokens: ADMIN_TOKEN and, optionally, OBSERVER_TOKEN.

    Section officers' tokens are issued, kept (as hashes) and revoked by the sections service.
    """

    def __init__(self, hashes: dict[str, Actor]) -> None:
        self._hashes = hashes

    @classmethod
    def from_environment(cls) -> TokenBook:
        admin = os.environ.get("ADMIN_TOKEN", "").strip()
        if admin.lower() in WEAK_TOKENS or len(admin) < 12:
            if admin:
                print("gateway: ADMIN_TOKEN is a placeholder or under 12 characters; ignored", file=sys.stderr)
            admin = secrets.token_urlsafe(32)
            # Printed once so a newcomer can use the stack; set ADMIN_TOKEN to choose your own.
            print(f"gateway: ADMIN_TOKEN not set; generated admin token: {admin}", file=sys.stderr)
        hashes = {token_hash(admin): Actor("admin")}
        observer = os.environ.get("OBSERVER_TOKEN")
        if observer:
            hashes[token_hash(observer)] = Actor("observer")
        return cls(hashes)

    def find(self, presented_hash: str) -> Actor | None:
        for known, actor in self._hashes.items():
            if hmac.compare_digest(known, presented_hash):
                return actor
        return None


def receipt_key(credential: str, ballot_id: str) -> str:
    """A one-time key, per voter and ballot, that only the holder of the credential can make.

    While the ballot is open the voting service keeps the voter's (random) receipt sealed with
    AES-GCM under its ballot key, with this value bound in as associated data: a retry with the
    same credential opens it and gets the same receipt back, a reissued credential does not. The
    sealed copy is erased at the close; knowing a credential later reveals nothing."""
    return hmac.new(credential.encode(), f"congress-receipt-key:{ballot_id}".encode(), hashlib.sha256).hexdigest()[:32]


class FailureLimiter:
    """Failed authentications per client in a sliding window (AUTH_FAILURES_PER_MINUTE).

    In process, per gateway replica. Memory is bounded: at most `limit` timestamps for each of
    at most `max_clients` clients; past that, the client whose last failure is oldest is
    forgotten. IPv6 clients are counted per /64, which one subscriber usually holds whole.
    No lock: under eventlet nothing here yields, so no other green thread runs in between.
    """

    def __init__(
        self,
        limit: int = 20,
        window: float = 60.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or window <= 0 or max_clients < 1:
            raise ValueError("the failure limit, its window and the number of clients tracked must be positive")
        self.limit = limit
        self.window = window
        self.max_clients = max_clients
        self.clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, client: str) -> int | None:
        """Whole seconds until this client may try again, or None if it may now."""
        key = client_key(client)
        failures = self._failures.get(key)
        if failures is None:
            return None
        now = self.clock()
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return None
        if len(failures) < self.limit:
            return None
        return max(1, math.ceil(failures[0] + self.window - now))

    def failed(self, client: str) -> None:
        key = client_key(client)
        failures = self._failures.get(key)
        if failures is None:
            failures = self._failures[key] = deque(maxlen=self.limit)
        failures.append(self.clock())
        self._failures.move_to_end(key)
        while len(self._failures) > self.max_clients:
            self._failures.popitem(last=False)

    def __len__(self) -> int:
        return len(self._failures)


@functools.lru_cache(maxsize=4096)  # parsed once per address, not once per request
def client_key(address: str) -> str:
    try:
        parsed = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return address[:100]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(parsed) >> 64 << 64, 64)))
    return str(parsed)


def parse_proxies(spec: str | Iterable[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """TRUSTED_PROXIES: comma-separated addresses or CIDRs of the proxies in front of the gateway."""
    entries = spec.split(",") if isinstance(spec, str) else list(spec)
    try:
        return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip())
    except ValueError as exc:
        raise ValueError(f"TRUSTED_PROXIES: {exc}") from None


def _trusted(address: str, proxies: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        parsed = ipaddress.ip_address(address.strip().split("%")[0])
    except ValueError:
        return False
    return any(parsed.version == net.version and parsed in net for net in proxies)


def client_address(
    peer: str | None,
    forwarded_for: str | None,
    proxies: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network] = (),
) -> str:
    """Who is asking: the peer, unless the peer is a trusted proxy; then the nearest address in
    X-Forwarded-For that is not one of ours (a client can prepend anything it likes)."""
    proxies = tuple(proxies)
    address = peer or "unknown"
    if not (proxies and forwarded_for and _trusted(address, proxies)):
        return address
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        address = hop
        if not _trusted(hop, proxies):
            break
    return address
