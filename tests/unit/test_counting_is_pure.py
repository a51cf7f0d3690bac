"""Counting is pure and dependencies point one way (issue 13, "Packages along their dependencies").

`shared/` holds four distributions; `congress` is a PEP 420 namespace package that three of them
share:

- congress-counting (`congress_counting`): pure, imports no framework and nothing of ours;
- congress-contract (`congress.contract`, `congress.errors`, `.actors`, `.keys`, `.version`):
  imports only itself and marshmallow, apispec, cryptography;
- congress-cli (`congress.cli`): the contract and counting, never the messaging kit;
- congress-shared, the kit (`congress.messaging`, `.launcher`, ...): the contract and counting.

Nothing in `shared/` imports a service, so the CLI recounts without them.
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
SHARED = ROOT / "shared"
COUNTING = SHARED / "counting" / "src" / "congress_counting"
# Each distribution's portion of the `congress` namespace.
PORTIONS = {
    "contract": SHARED / "contract" / "src" / "congress",
    "cli": SHARED / "cli" / "src" / "congress",
    "kit": SHARED / "src" / "congress",
}
FRAMEWORKS = ("nameko", "eventlet", "kombu", "sqlalchemy", "amqp", "alembic", "psycopg2")
FORBIDDEN = (*FRAMEWORKS, "marshmallow", "voting", "sections", "congress")
SERVICES = ("voting", "sections", "secretariat", "gateway")
STDLIB = set(sys.stdlib_module_names) | {"__future__"}
# What each distribution may import besides the standard library and itself: its declared
# dependencies (pyproject.toml), ours by distribution, third-party ones by top-level module.
MAY_IMPORT = {
    "counting": {"cryptography"},
    "contract": {"marshmallow", "apispec", "cryptography"},
    "cli": {"contract", "counting", "click", "rich", "requests", "marshmallow", "cryptography"},
    "kit": {"contract", "counting", "nameko", "eventlet", "kombu", "amqp", "sqlalchemy", "alembic", "psycogreen",
            "prometheus_client", "jwt", "yaml"},
}  # fmt: skip

IMPORT_ALL = """
import importlib, json, pkgutil, sys
package = importlib.import_module(sys.argv[1])
names = [sys.argv[1]] + [m.name for m in pkgutil.walk_packages(package.__path__, sys.argv[1] + ".")]
names += sys.argv[2:]
for name in names:
    importlib.import_module(name)
print(json.dumps({"modules": names, "loaded": sorted(sys.modules)}))
"""


def load_all(package: str, *more: str) -> dict[str, list[str]]:
    """Import every module of a package (and `more`) in a fresh interpreter: which modules, what got loaded."""
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL, package, *more], capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(done.stdout)


def module_name(path: Path, root: Path) -> str:
    """`congress.cli.count` for .../src/congress/cli/count.py, given root .../src."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path, root: Path | None = None) -> Iterator[tuple[int, str]]:
    """Every import in a file, at any depth (imports inside functions too): (line, dotted module name).

    `from congress import keys` counts as `congress.keys`; relative imports are resolved from `root`
    (the folder holding the top-level package), or skipped without it.
    """
    package = module_name(path, root) if root else ""
    if root and path.name != "__init__.py":
        package = package.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if not root:
                    continue
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            if module == "congress":  # a namespace: what is imported from it is a module
                for alias in node.names:
                    yield node.lineno, f"congress.{alias.name}"
            else:
                yield node.lineno, module


def owners() -> dict[str, str]:
    """Each top-level module of the `congress` namespace (`congress.cli`, `congress.keys`) and its distribution."""
    owned: dict[str, str] = {}
    for distribution, portion in PORTIONS.items():
        for child in portion.iterdir():
            if child.name == "__pycache__" or not (child.suffix == ".py" or (child / "__init__.py").exists()):
                continue
            name = f"congress.{child.stem}"
            assert name not in owned, f"{name} is in both {owned[name]} and {distribution}"
            owned[name] = distribution
    return owned


def distribution_of(module: str, owned: dict[str, str]) -> str:
    """Ours by distribution (`contract`, `cli`, `kit`, `counting`), anything else by its top-level name."""
    top = module.split(".")[0]
    if top == "congress_counting":
        return "counting"
    if top == "congress":
        return owned.get(".".join(module.split(".")[:2]), module)
    return top


def test_the_namespace_has_no_init_and_each_module_one_distribution() -> None:
    assert [portion for portion in PORTIONS.values() if (portion / "__init__.py").exists()] == []
    owned = owners()
    assert {name for name, owner in owned.items() if owner == "contract"} == {
        "congress.contract", "congress.errors", "congress.actors", "congress.keys", "congress.version"
    }  # fmt: skip
    assert {name for name, owner in owned.items() if owner == "cli"} == {"congress.cli"}
    assert {"congress.messaging", "congress.launcher", "congress.proof", "congress.rpc"} <= {
        name for name, owner in owned.items() if owner == "kit"
    }


def test_importing_every_counting_module_loads_no_framework_and_nothing_of_ours() -> None:
    report = load_all("congress_counting")
    assert {"congress_counting.record", "congress_counting.stv", "congress_counting.apportionment"} <= set(
        report["modules"]
    )
    loaded = {name.split(".")[0] for name in report["loaded"]}
    assert [name for name in FORBIDDEN if name in loaded] == []


def test_importing_the_contract_loads_no_framework_no_kit_and_no_cli() -> None:
    report = load_all("congress.contract", "congress.errors", "congress.actors", "congress.keys", "congress.version")
    assert {"congress.contract.catalogue", "congress.contract.asyncapi", "congress.contract.api"} <= set(
        report["modules"]
    )
    owned = owners()
    wrong = [
        name
        for name in report["loaded"]
        if name.split(".")[0] in FRAMEWORKS or distribution_of(name, owned) in ("cli", "kit", "counting")
    ]
    assert wrong == []


def test_importing_every_cli_module_loads_no_framework_and_no_messaging_kit() -> None:
    report = load_all("congress.cli")
    assert {"congress.cli.count", "congress.cli.admin", "congress.cli.voting"} <= set(report["modules"])
    owned = owners()
    wrong = [
        name
        for name in report["loaded"]
        if name.split(".")[0] in (*FRAMEWORKS, *SERVICES) or distribution_of(name, owned) == "kit"
    ]
    assert wrong == []


def test_dependencies_point_one_way() -> None:
    """counting <- contract? no: counting and contract import nothing of ours; cli and kit -> contract + counting."""
    owned = owners()
    sources = {"counting": (COUNTING, COUNTING.parent)} | {
        distribution: (portion if distribution != "cli" else portion / "cli", portion.parent)
        for distribution, portion in PORTIONS.items()
    }
    wrong = []
    for distribution, (folder, root) in sources.items():
        files = sorted(folder.rglob("*.py"))
        assert files, folder
        for path in files:
            for line, module in imported(path, root):
                target = distribution_of(module, owned)
                if target != distribution and target.split(".")[0] not in STDLIB | MAY_IMPORT[distribution]:
                    wrong.append(f"{path.relative_to(ROOT)}:{line}: {module} ({distribution} -> {target})")
    assert wrong == []


def test_nothing_in_shared_imports_a_service() -> None:
    files = sorted(SHARED.glob("**/src/**/*.py"))
    assert len({path.parts[: path.parts.index("src")] for path in files}) == 4  # shared, counting, contract, cli
    found = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in files
        for line, name in imported(path)
        if name.split(".")[0] in SERVICES
    ]
    assert found == []


def test_a_records_key_label_is_the_form_the_api_serves() -> None:
    from congress.keys import public_key_text as served
    from congress_counting.record import public_key_text

    key = Ed25519PrivateKey.generate().public_key()
    assert public_key_text(key) == served(key)
