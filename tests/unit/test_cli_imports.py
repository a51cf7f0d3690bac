"""The command line stays light: it imports no service and none of the services' machinery, and
`congress --help` imports neither the HTTP client, Rich nor the contract's schemas (issue 13).

Each check runs in a fresh interpreter, as the `congress` script starts."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Never in the CLI's process: the services and what only they need.
FORBIDDEN = ("nameko", "eventlet", "sqlalchemy", "kombu", "voting", "sections", "secretariat", "gateway")
# Not at start-up: each costs a tenth of a second or so, and --help needs none of them.
NOT_AT_START = ("requests", "urllib3", "rich", "marshmallow", "cryptography")
MODULES = (
    "admin",
    "client",
    "command",
    "count",
    "delegate",
    "elections",
    "imports",
    "output",
    "platform",
    "results",
    "secretariat",
    "vocabulary",
    "voting",
)


def loaded_after(code: str) -> set[str]:
    """The top-level packages loaded after running `code` in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_importing_the_cli_entry_module_loads_no_service_and_nothing_heavy() -> None:
    loaded = loaded_after("import congress.cli")

    assert loaded & set(FORBIDDEN) == set()
    assert loaded & set(NOT_AT_START) == set()


def test_help_loads_nothing_heavy() -> None:
    loaded = loaded_after(
        "import contextlib, io\nfrom congress.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n    assert main(['--help']) == 0\n"
        "    assert main(['sections', '--help']) == 0\n    assert main(['inbox', '--help']) == 0"
    )

    assert loaded & set(FORBIDDEN) == set()
    assert loaded & set(NOT_AT_START) == set()


@pytest.mark.parametrize("module", MODULES)
def test_every_cli_module_imports_without_the_services(module: str) -> None:
    # count.py recounts with voting's domain, imported inside the command only (to move to a shared package).
    assert loaded_after(f"import congress.cli.{module}") & set(FORBIDDEN) == set()


def test_importtime_of_the_entry_module_names_no_service() -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import congress.cli"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in done.stderr.splitlines() if "|" in line}
    assert imported & set(FORBIDDEN) == set()


def test_every_command_answers_help_without_the_services() -> None:
    # Walks the whole tree (each group's module imported as its help is asked for), as a user would.
    walk = """
import contextlib, io
import click
from congress.cli import cli, main

def paths(command, prefix):
    yield prefix
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            yield from paths(command.get_command(ctx, name), [*prefix, name])

for path in paths(cli, []):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([*path, "--help"]) == 0, path
    assert "usage: congress" in out.getvalue(), (path, out.getvalue())
"""
    assert loaded_after(walk) & set(FORBIDDEN) == set()
