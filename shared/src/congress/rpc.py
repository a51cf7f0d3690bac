"""RPC between services: domain errors cross intact, and every call is bounded in time."""

from __future__ import annotations

from typing import Any

import eventlet
from nameko.exceptions import UnknownService, deserialize_to_instance

from congress.errors import ALL_ERRORS
from congress.proof import InvalidProof

# A domain error raised in one service arrives in the caller as the same class, fields intact.
for _error in (*ALL_ERRORS, InvalidProof):
    deserialize_to_instance(_error)

DEFAULT_TIMEOUT = 10.0


class ServiceUnavailable(Exception):
    """A service did not answer in time, or is not running."""


def call(method: Any, *args: Any, timeout: float = DEFAULT_TIMEOUT, **kwargs: Any) -> Any:
    """nameko 2 RPC waits forever by default; this gives up after `timeout` seconds."""
    try:
        with eventlet.Timeout(timeout):
            return method(*args, **kwargs)
    except eventlet.Timeout:
        raise ServiceUnavailable(f"{method.service_name} did not answer within {timeout:.0f}s") from None
    except UnknownService:
        raise ServiceUnavailable(f"{method.service_name} is not running") from None
