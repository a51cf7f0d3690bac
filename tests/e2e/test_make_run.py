"""What `make run` promises a newcomer: one clear line without RabbitMQ, a URL and a token with
it, and every service stopped on Ctrl-C. (`make run` is `python -m congress.devstack` in the venv.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import requests

from tests.e2e.conftest import free_port
from tests.support.infra import eventually

pytestmark = pytest.mark.e2e


def devstack(tmp_path, **env: str) -> subprocess.Popen[str]:
    clean = {k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL")}
    return subprocess.Popen(
        [sys.executable, "-m", "congress.devstack"],
        cwd=tmp_path,
        env={**clean, "CONGRESS_HEARTBEAT_DIR": str(tmp_path), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_without_rabbitmq_make_run_fails_with_one_clear_line(tmp_path) -> None:
    process = devstack(tmp_path, AMQP_URI=f"amqp://guest:guest@127.0.0.1:{free_port()}/")

    _, err = process.communicate(timeout=60)

    assert process.returncode == 1
    assert len(err.strip().splitlines()) == 1
    assert "RabbitMQ is not reachable" in err and "AMQP_URI" in err


def test_make_run_prints_url_and_token_and_ctrl_c_stops_every_service(tmp_path, amqp_uri: str) -> None:
    port = free_port()
    process = devstack(tmp_path, AMQP_URI=amqp_uri, GATEWAY_PORT=str(port), ADMIN_TOKEN="")
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while not any(line.startswith("admin token:") for line in lines):
            assert time.monotonic() < deadline, lines
            line = process.stdout.readline()
            assert line or process.poll() is None, f"exited early: {process.stderr.read()}"
            lines.append(line.strip())
        token = next(line for line in lines if line.startswith("admin token:")).split(":", 1)[1].strip()
        assert f"http://127.0.0.1:{port}" in "\n".join(lines)
        answer = requests.get(
            f"http://127.0.0.1:{port}/api/v1/sections", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert answer.status_code == 200
        assert (tmp_path / "var" / "sections.sqlite").exists()  # embedded default store
        children = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()
        assert len(children) == 4
        # The stores and keys are for the services' user only.
        assert (tmp_path / "var").stat().st_mode & 0o777 == 0o700
        assert {p.stat().st_mode & 0o777 for p in (tmp_path / "var" / "keys").iterdir()} == {0o600}

        # A service that dies is started again; the others keep serving meanwhile.
        victim = children[1]
        os.kill(int(victim), signal.SIGKILL)

        def replaced() -> list[str]:
            now = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()
            return now if len(now) == 4 and victim not in now else []

        children = eventually(replaced, timeout=30, what="the killed service started again")
        eventually(
            lambda: requests.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200,
            timeout=60,
            what="the stack healthy again",
        )
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    assert process.returncode == 0
    assert not [pid for pid in children if os.path.exists(f"/proc/{pid}")]
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/health", timeout=5)


def test_the_congress_cli_answers_version_and_help() -> None:
    cli = os.path.join(os.path.dirname(sys.executable), "congress")

    version = subprocess.run([cli, "--version"], capture_output=True, text=True, check=True)
    help_text = subprocess.run([cli, "--help"], capture_output=True, text=True, check=True)

    assert version.stdout.startswith("congress ")
    assert "usage: congress" in help_text.stdout
