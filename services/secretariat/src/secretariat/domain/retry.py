"""When to try a failed delivery again: exponential backoff with jitter. No framework."""

from __future__ import annotations

import random
from collections.abc import Callable


def backoff(attempt: int, base: float, cap: float = 3600.0, rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait after the `attempt`-th failed attempt (1, 2, …).

    base·2^(attempt-1), capped, with "equal jitter": half of it fixed, half random, so replicas
    and recipients that failed together do not all come back at the same instant.
    """
    delay = min(cap, base * 2 ** max(attempt - 1, 0))
    return delay / 2 + rng() * delay / 2


def gives_up(attempts: int, limit: int) -> bool:
    """True once `attempts` made have used the delivery's budget."""
    return attempts >= limit
