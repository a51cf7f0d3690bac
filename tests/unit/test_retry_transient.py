"""A lost database connection is retried inside the service, never shown to the caller."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from congress.messaging.store import retry_transient


def lost() -> sa.exc.OperationalError:
    return sa.exc.OperationalError("INSERT …", {}, Exception("terminating connection due to administrator command"))


def test_a_use_case_whose_connection_was_lost_runs_again_and_answers() -> None:
    calls: list[int] = []

    @retry_transient(pause=0)
    def vote() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise lost()
        return "receipt"

    assert vote() == "receipt" and len(calls) == 3


def test_it_gives_up_after_its_attempts_and_other_errors_pass_at_once() -> None:
    calls: list[int] = []

    @retry_transient(attempts=2, pause=0)
    def never() -> None:
        calls.append(1)
        raise lost()

    with pytest.raises(sa.exc.OperationalError):
        never()
    assert len(calls) == 2

    @retry_transient(pause=0)
    def wrong() -> None:
        calls.append(1)
        raise sa.exc.IntegrityError("INSERT …", {}, Exception("duplicate key"))

    with pytest.raises(sa.exc.IntegrityError):
        wrong()
    assert len(calls) == 3
