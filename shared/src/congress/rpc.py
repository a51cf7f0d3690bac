"""RPC between services: domain errors cross intact, and every call is bounded in time."""

from __future__ import annotations

import threading
from typing import Any

import eventlet
from amqp.exceptions import AMQPError
from kombu.exceptions import OperationalError
from nameko.exceptions import UnknownService, deserialize_to_instance

from congress.errors import ALL_ERRORS
from congress.proof import InvalidProof

# A domain error raised in one service arrives in the caller as the same class, fields intact.
for _error in (*ALL_ERRORS, InvalidProof):
    deserialize_to_instance(_error)

DEFAULT_TIMEOUT = 10.0
# What a publish to a broker that is away raises (a cut connection, a refused one, a reset).
BROKER_AWAY = (OperationalError, AMQPError, OSError)

# Under nameko, threading is monkey-patched: this is per greenthread, i.e. per call in flight.
_waiting = threading.local()


class ServiceUnavailable(Exception):
    """A service did not answer in time, is not running, or the broker is away."""


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
        raise ServiceUnavailable(f"the message broker cannot be reached ({type(exc).__name__})") from None
    finally:
        _waiting.timeout = None
