"""Acceptance 5 of issue 13: the CLI package alone, in a fresh venv.

`pip install` of congress-cli with its two local dependencies (congress-counting, congress-contract),
non-editable, the rest from the package registry as this machine configures it, brings neither
nameko nor SQLAlchemy (nor eventlet, kombu, the messaging kit), and `congress count stv|apportion|
ballot` work there. Skips only if the registry cannot be reached.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from congress_counting.record import election_record, public_key_text, sign_record

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ("counting", "contract", "cli")  # in dependency order
ABSENT = ("nameko", "sqlalchemy", "eventlet", "kombu", "alembic", "congress-shared")
STV_FILE = ROOT / "tests" / "data" / "stv" / "meek_vs_gregory_small_example_maciver.blt"
STV_PUBLISHED = json.loads(STV_FILE.with_suffix(".json").read_text(encoding="utf-8"))["published_result"]["meek"]
# What pip says when it cannot reach an index: only these skip, any other failure fails.
UNREACHABLE = re.compile(
    r"NewConnectionError|Max retries exceeded|Temporary failure in name resolution|Network is unreachable"
    r"|Connection refused|ProxyError|ConnectTimeout|ReadTimeout|Could not find a version that satisfies"
)

pytestmark = pytest.mark.timeout(900)


def run(*command: str | Path, timeout: float = 120, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=timeout, **kwargs)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv holding congress-cli and what it needs, and nothing of the repository's own venv."""
    base = tmp_path_factory.mktemp("cli-package")
    # Copies, so the build leaves nothing (build/, *.egg-info) in the working tree.
    sources = []
    for name in LOCAL:
        copy = base / "src" / name
        shutil.copytree(
            ROOT / "shared" / name, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "tests")
        )
        sources.append(copy)
    home = base / "venv"
    made = run(sys.executable, "-m", "venv", home, timeout=120)
    assert made.returncode == 0, made.stderr
    python = home / "bin" / "python"
    installed = run(
        python, "-m", "pip", "install", "--disable-pip-version-check", "-c", ROOT / "constraints.txt", *sources,
        timeout=600,
        cwd=base,
    )  # fmt: skip
    if installed.returncode != 0 and UNREACHABLE.search(installed.stdout + installed.stderr):
        pytest.skip(f"the package registry cannot be reached: {installed.stderr.strip().splitlines()[-1]}")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    yield home


def congress(venv: Path, tmp_path: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """The fresh venv's `congress`, away from the repository: no PYTHONPATH, no CONGRESS_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONGRESS_", "PYTHON", "VIRTUAL_ENV"))}
    env |= {"HOME": str(tmp_path), "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"}
    return run(venv / "bin" / "congress", *args, cwd=tmp_path, env=env, timeout=60)


def test_the_cli_alone_brings_neither_nameko_nor_sqlalchemy(venv: Path) -> None:
    listed = run(venv / "bin" / "python", "-m", "pip", "list", "--format=json", "--disable-pip-version-check")
    assert listed.returncode == 0, listed.stderr
    names = {package["name"].lower().replace("_", "-") for package in json.loads(listed.stdout)}
    assert {"congress-cli", "congress-contract", "congress-counting", "click", "rich", "requests"} <= names
    assert [name for name in ABSENT if name in names] == []
    # The kit's modules are not there either: the namespace holds the contract and the CLI only.
    probe = run(
        venv / "bin" / "python", "-c",
        "import importlib.util as u; print(u.find_spec('congress.cli') is not None, u.find_spec('congress.messaging'))",
        cwd=venv,
    )  # fmt: skip
    assert probe.stdout.split() == ["True", "None"], probe.stderr


def test_count_stv_meek(venv: Path, tmp_path: Path) -> None:
    done = congress(venv, tmp_path, "count", "stv", STV_FILE, "--method", "meek", "--json")
    assert done.returncode == 0, done.stderr
    assert sorted(json.loads(done.stdout)["elected"]) == sorted(STV_PUBLISHED)


def test_count_apportion_dhondt(venv: Path, tmp_path: Path) -> None:
    returns = tmp_path / "returns.csv"
    returns.write_text("section,members\nA,1000\nB,600\nC,300\nD,100\n", encoding="utf-8")
    done = congress(venv, tmp_path, "count", "apportion", returns, "--seats", "10", "--method", "dhondt")
    assert done.returncode == 0, done.stderr
    assert re.search(r"^A\s+1000\s+5\b", done.stdout, re.M), done.stdout
    assert re.search(r"^B\s+600\s+3\b", done.stdout, re.M), done.stdout
    done = congress(venv, tmp_path, "count", "apportion", returns, "--seats", "10", "--method", "dhondt", "--json")
    assert json.loads(done.stdout)["allocations"] == {"A": 5, "B": 3, "C": 1, "D": 1}


def test_count_ballot_recounts_a_signed_record(venv: Path, tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    candidates = {"c1": "Ana", "c2": "Ben", "c3": "Cas"}
    ballot = {
        "id": "b-meek", "kind": "election", "election_id": "e-meek", "title": "Elect the IEC", "body_id": "congress",
        "secrecy": "secret", "method": "meek", "seats": 2, "electorate": 10, "quorum": 6, "seed": "b-meek",
        "candidates": candidates,
    }  # fmt: skip
    rankings = [["c1", "c2"]] * 4 + [["c2", "c3"]] * 3 + [["c3", "c1"]] * 2
    ballots = [{"receipt": f"r{i:02d}", "ranking": ranking} for i, ranking in enumerate(rankings)]
    participants = [{"member_id": f"m{i:02d}", "name": f"Delegate {i}", "section": "ew"} for i in range(len(ballots))]
    record = sign_record(election_record(ballot, ballots, participants), key)
    path = tmp_path / "record.json"
    path.write_text(json.dumps(record), encoding="utf-8")

    done = congress(venv, tmp_path, "count", "ballot", path, "--key", public_key_text(key.public_key()), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    checked = json.loads(done.stdout)
    assert checked["digest"] == record["digest"]
    assert checked["result"]["elected"] == record["result"]["elected"] == ["c1", "c2"]
    # A record signed by another key is refused, with one line.
    other = public_key_text(Ed25519PrivateKey.generate().public_key())
    refused = congress(venv, tmp_path, "count", "ballot", path, "--key", other)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr, refused.stderr
