"""RPC between services: domain errors cross intact, and every call is bounded in time.

What a caller cannot help and should simply try again later arrives as `ServiceUnavailable`
(the HTTP edge answers it 503 with Retry-After): no answer in time, no such service running,
the broker away, and a callee that failed because *its* dependency was away (a lost database
connection it could not get back, or a service it called in turn that was unavailable)."""

from __future__ import annotations

import threading
from typing import Any, TypeGuard

import eventlet
from amqp.exceptions import AMQPError
from kombu.exceptions import OperationalError
from nameko.exceptions import RemoteError, UnknownService, deserialize_to_instance

from congress.errors import ALL_ERRORS
from congress.proof import InvalidProof

# A domain error raised in one service arrives in the caller as the same class, fields intact.
for _error in (*ALL_ERRORS, InvalidProof):
    deserialize_to_instance(_error)

DEFAULT_TIMEOUT = 10.0
# What a publish to a broker that is away raises (a cut connection, a refused one, a reset).
BROKER_AWAY = (OperationalError, AMQPError, OSError)
# A callee's failure that says "not now" rather than "never": the type names a RemoteError carries.
TRANSIENT_REMOTE = frozenset({"OperationalError", "InterfaceError", "DisconnectionError", "ServiceUnavailable"})

RETRY_SOON = 2  # seconds a client should wait after a transient refusal (Retry-After)
RETRY_LATER = 5  # after a timeout or with the broker away: a few seconds are needed

# Under nameko, threading is monkey-patched: this is per greenthread, i.e. per call in flight.
_waiting = threading.local()


class ServiceUnavailable(Exception):
    """A service did not answer in time, is not running, or the broker is away.

    `retry_after`: the seconds a client is told to wait before trying again."""

    def __init__(self, message: str = "a service is unavailable", retry_after: int = RETRY_LATER) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BrokerUnavailable(ServiceUnavailable):
    """The request could not be sent: the broker is away (or the connection to it just broke)."""


def is_transient_remote(exc: BaseException) -> TypeGuard[RemoteError]:
    """A RemoteError whose remote cause is one a retry later can cure."""
    return isinstance(exc, RemoteError) and exc.exc_type in TRANSIENT_REMOTE


def call_deadline() -> float | None:
    """How long the current `call` will wait: the proof of its request expires with it."""
    return getattr(_waiting, "timeout", None)


def call(method: Any, *args: Any, timeout: float = DEFAULT_TIMEOUT, **kwargs: Any) -> Any:
    """nameko 2 RPC waits forever by default; this gives up after `timeout` seconds."""
    _waiting.timeout = timeout
    try:
        with eventlet.Timeout(timeout):
            return method(*args, **kwargs)
    except eventlet.Timeout:
        raise ServiceUnavailable(f"{method.service_name} did not answer within {timeout:.0f}s") from None
    except UnknownService:
        raise ServiceUnavailable(f"{method.service_name} is not running") from None
    except BROKER_AWAY as exc:
        raise BrokerUnavailable(f"the message broker cannot be reached ({type(exc).__name__})") from None
    except RemoteError as exc:
        if is_transient_remote(exc):
            raise ServiceUnavailable(
                f"{method.service_name} cannot answer now ({exc.exc_type}); try again shortly", retry_after=RETRY_SOON
            ) from None
        raise
    finally:
        _waiting.timeout = None
