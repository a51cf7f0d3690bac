from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Registered here (not in pyproject.toml) so the marker lives with the only tests that use it.
    config.addinivalue_line("markers", "fuzz: schemathesis against the whole stack, bounded to a few minutes")
