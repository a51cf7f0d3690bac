"""Fault tests run only when asked: `pytest tests/faults -m faults` (what `make test-faults`
runs) or CONGRESS_FAULTS=1; `make test` collects and skips them. The checker's own unit tests
(unmarked) run everywhere.

Settings (environment): FAULTS_VOTERS (300), FAULTS_RATE (votes/s, 40), FAULTS_SEED (random),
FAULTS_BROKER_CUT_SECONDS (60), FAULTS_CLIENT_TIMEOUT (15 s). Results: var/faults/last-run.{json,md}.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from typing import Any

import pytest

from tests.faults import invariants
from tests.faults.harness import FaultStack, env_int, fault_stack
from tests.support.congress import Congress, congress_in_session


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "faults: a congress under load with one fault injected (make test-faults)")


def _asked(config: pytest.Config) -> bool:
    return "faults" in (config.option.markexpr or "") or os.environ.get("CONGRESS_FAULTS") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    marked = [item for item in items if item.get_closest_marker("faults")]
    if not marked:
        return
    if not _asked(config):
        skip = pytest.mark.skip(reason="fault tests run with `make test-faults` (-m faults) or CONGRESS_FAULTS=1")
        for item in marked:
            item.add_marker(skip)
        return
    invariants.reset_results()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if invariants.REPORTED:
        terminalreporter.section("fault figures")
        for line in invariants.REPORTED:
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"table: {invariants.RESULTS_DIR / 'last-run.md'}")


@pytest.fixture
def seed(request: pytest.FixtureRequest) -> int:
    """The test's seed: FAULTS_SEED to replay a run, else a fresh one (printed with the figures)."""
    chosen = env_int("FAULTS_SEED", random.SystemRandom().randrange(1, 10**6))
    print(f"\n{request.node.name}: seed {chosen} (FAULTS_SEED={chosen} replays it)", flush=True)
    return chosen


@pytest.fixture(scope="module")
def stack() -> Iterator[FaultStack]:
    with fault_stack(
        invariants.stack_dir("main"),
        voting_replicas=3,
        # A claim left by a killed secretariat expires in seconds, not the default two minutes.
        service_env={"secretariat": {"DELIVERY_LEASE_SECONDS": "10"}},
    ) as running:
        print(f"\nfault stack: logs in {running.log_dir}", flush=True)
        yield running


@pytest.fixture(scope="module")
def congress(stack: FaultStack) -> Congress:
    return congress_in_session(stack, env_int("FAULTS_VOTERS", 300), workers=8)


@pytest.fixture
def healthy(stack: FaultStack) -> Iterator[FaultStack]:
    """The module's stack, whole again: what an earlier test left dead is restarted first."""
    restarted = stack.heal()
    if restarted:
        print(f"\nrestarted before this test: {', '.join(restarted)}", flush=True)
    yield stack
