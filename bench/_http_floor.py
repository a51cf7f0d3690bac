"""The floor under the vote path's latency: a nameko service whose @http route does nothing.

It answers the same request the delegates send (POST /api/v1/ballots/<id>/votes, 201 with a
receipt) through the same nameko HTTP server (eventlet's WSGI server, werkzeug, a worker per
request) with as many workers as the gateway. No vote can be answered faster than this; the bench
loads it the way it loads the gateway, in the same round, so the two are compared side by side.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nameko.web.handlers import http
from werkzeug.wrappers import Response

RECEIPT = json.dumps({"ballot_id": "", "receipt": "0" * 32})


class Floor:
    name = "http_floor"

    @http("POST", "/api/v1/ballots/<string:ballot_id>/votes")
    def vote(self, request: Any, ballot_id: str) -> Response:
        return Response(RECEIPT, status=201, mimetype="application/json")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def floor_server(workers: int, amqp_uri: str) -> Iterator[tuple[str, int]]:
    """(its URL, its pid) while it runs."""
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="congress-http-floor-") as folder:
        config = Path(folder) / "config.yml"
        config.write_text(
            f"AMQP_URI: {json.dumps(amqp_uri)}\nWEB_SERVER_ADDRESS: 127.0.0.1:{port}\nmax_workers: {workers}\n"
        )
        nameko = Path(sys.executable).with_name("nameko")
        process = subprocess.Popen(
            [str(nameko), "run", "--config", str(config), "_http_floor:Floor"],
            cwd=Path(__file__).parent,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the empty nameko HTTP service did not start")
                time.sleep(0.1)
            yield f"http://127.0.0.1:{port}", process.pid
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
