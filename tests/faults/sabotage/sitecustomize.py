"""A deliberately broken build, for the test of the test only (tests/faults/test_checker.py).

On PYTHONPATH of a voting process with FAULTS_SABOTAGE=drop-one-vote, it patches
`voting.balloting._plan` (every way in: by member, by credential, gathered in a batch) when that
module is imported so that the FAULTS_SABOTAGE_AT-th vote (5th by default) this process handles is
acknowledged with a receipt and never stored: an acknowledged vote lost, which the invariant
checker must catch. Product code is untouched; without the variable this file does nothing.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import secrets
import sys
from typing import Any


def _sabotage(module: Any) -> None:
    original = module._plan
    at = int(os.environ.get("FAULTS_SABOTAGE_AT", "5"))
    calls = [0]

    def _plan(session: Any, caster: Any, ballot_id: str, *args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == at:  # acknowledged as a vote, with nothing to write
            return module._Planned({"ballot_id": ballot_id, "receipt": secrets.token_hex(16)})
        return original(session, caster, ballot_id, *args, **kwargs)

    module._plan = _plan


class _PatchOnImport(importlib.abc.MetaPathFinder):
    target = "voting.balloting"

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != self.target:
            return None
        sys.meta_path.remove(self)  # once, and not for the lookup below
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        run = loader.exec_module

        def exec_module(module: Any) -> None:
            run(module)
            _sabotage(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


if os.environ.get("FAULTS_SABOTAGE") == "drop-one-vote":
    sys.meta_path.insert(0, _PatchOnImport())
