"""Fill a big ballot for the close benchmark: `voting.balloting.cast_vote` called in worker
processes on the stack's voting database (no HTTP, no RPC), so whatever a vote writes (sealed
rows, participation, outbox) is written by the service's own code. The workers commit without
waiting for the WAL flush: the fill is not what is measured (the close is), and with it a
10,000-vote fill takes minutes on two cores."""

from __future__ import annotations

import multiprocessing
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any


class InProcessStore:
    """What `voting.balloting` expects as `store`."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy.orm import sessionmaker

        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def unit_of_work(self, correlation_id: str | None = None) -> Any:
        from congress.messaging.store import UnitOfWork

        return UnitOfWork(self._sessions, producer="voting", correlation_id=correlation_id)

    def session(self) -> Any:
        return self._sessions()


def _fill(url: str, ballot_id: str, voters: Sequence[tuple[str, str, str]], until: float) -> Counter[str]:
    import sqlalchemy as sa

    from congress.actors import Actor
    from gateway.auth import receipt_key
    from voting import balloting

    # Not what is measured: commits without waiting for the WAL flush, so the fill takes seconds.
    engine = sa.create_engine(url, pool_size=1, max_overflow=0, connect_args={"options": "-c synchronous_commit=off"})
    store = InProcessStore(engine)
    done: Counter[str] = Counter()
    for member_id, credential, choice in voters:
        if time.time() > until:
            break
        vote = {"choice": choice, "request_id": str(uuid.uuid4())}
        for attempt in range(3):  # a dropped connection: the same request again is answered as a repeat
            try:
                balloting.cast_vote(
                    store,
                    Actor("delegate", member=member_id),
                    ballot_id,
                    dict(vote),
                    receipt_key(credential, ballot_id),
                )
                break
            except sa.exc.DBAPIError:
                if attempt == 2:
                    raise
                time.sleep(1.0)
        done[choice] += 1
    engine.dispose()
    return done


def fill_ballot(
    url: str, ballot_id: str, voters: Sequence[tuple[str, str, str]], processes: int, seconds: float
) -> Counter[str]:
    """Cast every (member id, credential, choice) in `processes` processes; stop after `seconds`."""
    until = time.time() + seconds
    total: Counter[str] = Counter()
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        parts = [voters[i::processes] for i in range(processes)]
        for done in pool.map(_fill, [url] * processes, [ballot_id] * processes, parts, [until] * processes):
            total.update(done)
    return total
