"""Counting is pure and dependencies point one way (issue 13, "Packages along their dependencies").

`congress_counting` imports no framework and nothing of ours; nothing in `shared/` (the
`congress` package, the CLI with it) imports a service, so the CLI recounts without them.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).parents[2]
COUNTING = ROOT / "shared" / "counting" / "src" / "congress_counting"
CONGRESS = ROOT / "shared" / "src" / "congress"
FORBIDDEN = ("nameko", "eventlet", "kombu", "sqlalchemy", "marshmallow", "voting", "sections", "congress")
SERVICES = ("voting", "sections", "secretariat", "gateway")

IMPORT_ALL = """
import importlib, json, pkgutil, sys
import congress_counting
names = [m.name for m in pkgutil.walk_packages(congress_counting.__path__, "congress_counting.")]
for name in names:
    importlib.import_module(name)
print(json.dumps({"modules": names, "loaded": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def imported(path: Path) -> Iterator[tuple[int, str]]:
    """Every absolute import in a file, at any depth (imports inside functions too): (line, top name)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]


def test_importing_every_counting_module_loads_no_framework_and_nothing_of_ours() -> None:
    done = subprocess.run([sys.executable, "-c", IMPORT_ALL], capture_output=True, text=True, timeout=60, check=True)
    report = json.loads(done.stdout)
    assert {"congress_counting.record", "congress_counting.stv", "congress_counting.apportionment"} <= set(
        report["modules"]
    )
    assert [name for name in FORBIDDEN if name in report["loaded"]] == []


def test_counting_imports_only_the_standard_library_cryptography_and_itself() -> None:
    allowed = set(sys.stdlib_module_names) | {"__future__", "cryptography", "congress_counting"}
    files = sorted(COUNTING.rglob("*.py"))
    assert files
    found = [f"{path.relative_to(ROOT)}:{line}: {name}" for path in files for line, name in imported(path)]
    assert [entry for entry in found if entry.rsplit(": ", 1)[1] not in allowed] == []


def test_nothing_in_the_congress_package_imports_a_service() -> None:
    files = sorted(CONGRESS.rglob("*.py"))
    assert files
    found = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in files
        for line, name in imported(path)
        if name in SERVICES
    ]
    assert found == []


def test_a_records_key_label_is_the_form_the_api_serves() -> None:
    from congress.keys import public_key_text as served
    from congress_counting.record import public_key_text

    key = Ed25519PrivateKey.generate().public_key()
    assert public_key_text(key) == served(key)
