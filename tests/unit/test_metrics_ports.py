"""`make run` with METRICS_PORT set: every service (and every voting replica) on one host gets a port."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.request

from congress.metrics import metrics_port

SERVE = (
    "import sys; from congress.metrics import serve_if_configured; "
    "print(serve_if_configured(sys.argv[1]), flush=True); sys.stdin.read()"
)


def free_base() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_each_service_has_its_own_offset_and_its_own_setting_wins(monkeypatch) -> None:
    monkeypatch.setenv("METRICS_PORT", "9100")
    assert [metrics_port(s) for s in ("sections", "voting", "secretariat")] == [9100, 9101, 9102]
    monkeypatch.setenv("VOTING_METRICS_PORT", "9200")
    assert metrics_port("voting") == 9200
    monkeypatch.setenv("METRICS_PORT", "0")
    assert metrics_port("sections") == 0


def test_three_services_and_two_voting_replicas_on_one_host_all_serve_metrics() -> None:
    base = free_base()
    env = {"METRICS_PORT": str(base), "PATH": "/usr/bin:/bin"}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", SERVE, service], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        for service in ("sections", "voting", "voting", "secretariat")
    ]
    try:
        ports = []
        for process in processes:  # started together: the replica that loses a port race moves up
            ports.append(int(process.stdout.readline()))
        assert len(set(ports)) == 4, ports
        for port in ports:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
                assert b"congress_outbox_pending" in answer.read()
    finally:
        for process in processes:
            process.kill()
            process.wait()
