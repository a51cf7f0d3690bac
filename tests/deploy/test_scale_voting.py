"""deploy/scale-voting.sh (`make scale-voting N=…`) with Docker Compose v2, Debian's
docker-compose v1, both or neither: fake `docker` and `docker-compose` executables on a PATH of
their own record how they were called, so no Docker engine is needed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "scale-voting.sh"
BASH = shutil.which("bash") or "/bin/bash"
SCALE = ["up", "-d", "--no-recreate", "--scale", "voting=5", "voting"]

# Records [its name, *argv, cwd] as one JSON line; `docker compose version` answers as told.
FAKE = """#!{python}
import json, os, sys
name = os.path.basename(sys.argv[0])
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps([name, *sys.argv[1:], os.getcwd()]) + "\\n")
if name == "docker" and sys.argv[1:3] == ["compose", "version"]:
    sys.exit(int(os.environ.get("FAKE_COMPOSE_V2_STATUS", "0")))
sys.exit(int(os.environ.get("FAKE_STATUS", "0")))
"""


def fake_path(tmp_path: Path, *fakes: str) -> str:
    """A PATH holding only the fakes asked for and the few real tools the script and make use."""
    fake_bin, tools = tmp_path / "fake-bin", tmp_path / "tools"
    fake_bin.mkdir()
    tools.mkdir()
    for name in fakes:
        path = fake_bin / name
        path.write_text(FAKE.format(python=sys.executable))
        path.chmod(0o755)
    for tool in ("bash", "dirname"):
        found = shutil.which(tool)
        assert found, tool
        (tools / tool).symlink_to(found)
    return f"{fake_bin}{os.pathsep}{tools}"


def run(
    tmp_path: Path, fakes: tuple[str, ...], *args: str, **env: str
) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
    log = tmp_path / "calls.jsonl"
    environment = {
        "PATH": fake_path(tmp_path, *fakes),
        "FAKE_LOG": str(log),
        "HOME": str(tmp_path),
        **env,
    }
    done = subprocess.run(
        [BASH, str(SCRIPT), *args], env=environment, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return done, calls


def commands(calls: list[list[Any]]) -> list[list[str]]:
    """The calls without the working directory each recorded."""
    return [call[:-1] for call in calls]


def test_compose_v2_is_used_when_docker_has_it(tmp_path: Path) -> None:
    done, calls = run(tmp_path, ("docker", "docker-compose"), "5")
    assert done.returncode == 0, done.stderr
    assert commands(calls) == [["docker", "compose", "version"], ["docker", "compose", *SCALE]]
    # From the project's folder, where docker-compose.yml is, wherever it was called from.
    assert calls[-1][-1] == str(ROOT)


def test_debian_docker_compose_v1_when_docker_has_no_compose_plugin(tmp_path: Path) -> None:
    done, calls = run(tmp_path, ("docker", "docker-compose"), "5", FAKE_COMPOSE_V2_STATUS="1")
    assert done.returncode == 0, done.stderr
    assert commands(calls) == [["docker", "compose", "version"], ["docker-compose", *SCALE]]
    assert calls[-1][-1] == str(ROOT)


def test_docker_compose_v1_alone(tmp_path: Path) -> None:
    done, calls = run(tmp_path, ("docker-compose",), "5")
    assert done.returncode == 0, done.stderr
    assert commands(calls) == [["docker-compose", *SCALE]]


def test_neither_is_one_clear_line(tmp_path: Path) -> None:
    done, calls = run(tmp_path, (), "5")
    assert done.returncode != 0
    assert calls == []
    (line,) = done.stderr.splitlines()
    assert "docker compose" in line and "docker-compose" in line


def test_docker_without_the_plugin_and_no_v1_is_the_same_error(tmp_path: Path) -> None:
    done, calls = run(tmp_path, ("docker",), "5", FAKE_COMPOSE_V2_STATUS="1")
    assert done.returncode != 0
    assert commands(calls) == [["docker", "compose", "version"]]
    assert len(done.stderr.splitlines()) == 1 and "docker-compose" in done.stderr


def test_the_replica_count_comes_from_the_argument_or_N(tmp_path: Path) -> None:
    done, calls = run(tmp_path, ("docker-compose",), N="4")
    assert done.returncode == 0, done.stderr
    assert commands(calls) == [["docker-compose", "up", "-d", "--no-recreate", "--scale", "voting=4", "voting"]]


@pytest.mark.parametrize("bad", ["0", "-1", "three", "3; rm -rf /", "05x"])
def test_a_bad_replica_count_runs_nothing(tmp_path: Path, bad: str) -> None:
    done, calls = run(tmp_path, ("docker", "docker-compose"), bad, N=bad)
    assert done.returncode == 2
    assert calls == []
    assert len(done.stderr.splitlines()) == 1 and "N must be" in done.stderr


def test_a_failing_compose_fails_the_script(tmp_path: Path) -> None:
    done, _ = run(tmp_path, ("docker-compose",), "5", FAKE_STATUS="3")
    assert done.returncode == 3


def test_make_scale_voting_runs_the_script(tmp_path: Path) -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("no make on this machine")
    log = tmp_path / "calls.jsonl"
    env = {"PATH": fake_path(tmp_path, "docker-compose"), "FAKE_LOG": str(log), "HOME": str(tmp_path)}
    done = subprocess.run(
        [make, "-s", "-C", str(ROOT), "scale-voting", "N=5"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert commands(calls) == [["docker-compose", *SCALE]]
