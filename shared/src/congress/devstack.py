"""The whole stack as local processes: what `make run` starts and what end-to-end tests drive.

python -m congress.devstack      check RabbitMQ, give each service its own broker account (when
                                  the management API or rabbitmqctl lets us), start the four
                                  services, print the gateway URL and admin token, stop them all
                                  on Ctrl-C
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from congress import broker_accounts
from congress.keys import ALL_KEYS, ensure_keys
from congress.launcher import SERVICES, amqp_uri

BIN = Path(sys.executable).parent


class LocalStack:
    def __init__(
        self,
        env: dict[str, str] | None = None,
        log_dir: Path | str = "var/log",
        services: tuple[str, ...] = SERVICES,
        service_env: dict[str, dict[str, str]] | None = None,
        replicas: dict[str, int] | None = None,
        keys_dir: Path | str | None = None,
    ) -> None:
        self.env = {**os.environ, **(env or {})}
        # Keys the services need and nobody gave: made once, next to the logs (0600 files, 0700 folder).
        if not all(self.env.get(name) or self.env.get(f"{name}_FILE") for name in ALL_KEYS):
            made = ensure_keys(keys_dir or Path(log_dir).parent / "keys")
            self.env.update(
                {k: v for k, v in made.items() if not (self.env.get(k) or self.env.get(k.removesuffix("_FILE")))}
            )
        self.service_env = service_env or {}
        self.replicas = replicas or {}
        self.env.setdefault("GATEWAY_PORT", "8000")
        # Where delegates vote: the credential email links to PUBLIC_URL/vote.
        self.env.setdefault("PUBLIC_URL", f"http://127.0.0.1:{self.env['GATEWAY_PORT']}")
        self.log_dir = Path(log_dir)
        self.services = services
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def use_own_broker_accounts(self, folder: Path | str | None = None) -> str | None:
        """Run each service as its own broker account (URIs in `folder`/<service>/amqp_uri, 0600);
        None when done, else why not (the services then share the given AMQP_URI)."""
        uri = self.env.get("AMQP_URI") or amqp_uri()
        host, port, vhost = broker_accounts.parse_amqp_uri(uri)
        folder = Path(folder) if folder is not None else self.log_dir.parent / "broker"
        try:
            admin = broker_accounts.connect_admin(amqp_host=host)
            broker_accounts.apply_service_accounts(admin, vhost, host, port, folder=folder, services=self.services)
        except broker_accounts.BrokerAdminError as exc:
            return str(exc)
        for service in self.services:
            self.service_env.setdefault(service, {})["AMQP_URI_FILE"] = str(broker_accounts.uri_file(folder, service))
        return None

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.env['GATEWAY_PORT']}"

    def start(self, service: str | None = None) -> None:
        """Start every service (or one), each in as many replicas as asked: `voting`, `voting-2`, …"""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name in [service] if service else self.services:
            for replica in range(1, self.replicas.get(name, 1) + 1):
                self._spawn(name if replica == 1 else f"{name}-{replica}", name)

    def restart(self, key: str) -> None:
        """Start again the one process `key` (`voting-2`, say) in place of one that exited."""
        self._spawn(key, key.split("-")[0])

    def _spawn(self, key: str, name: str) -> None:
        (self.log_dir / key).mkdir(exist_ok=True)  # the replica's own heartbeat
        with open(self.log_dir / f"{key}.log", "ab") as log:
            self.processes[key] = subprocess.Popen(
                [str(BIN / "congress-service"), "run", name],
                env={**self.env, **self.service_env.get(name, {}), "CONGRESS_HEARTBEAT_DIR": str(self.log_dir / key)},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}; see {self.log_dir / (name + '.log')}")
            try:
                with urllib.request.urlopen(self.gateway_url + "/health", timeout=5) as answer:
                    if answer.status == 200:
                        return
            except urllib.error.HTTPError as exc:
                last = exc.read().decode(errors="replace")
            except OSError as exc:
                last = str(exc)
            time.sleep(0.3)
        raise TimeoutError(f"the stack did not become healthy in {timeout:.0f}s: {last}")

    def stop(self, service: str | None = None, sig: int = signal.SIGTERM) -> None:
        names = [service] if service else list(self.processes)
        for name in names:
            process = self.processes[name]
            if process.poll() is None:
                process.send_signal(sig)
        for name in names:
            process = self.processes.pop(name)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def broker_reachable(uri: str) -> str | None:
    """None if RabbitMQ answers at `uri`, else why not."""
    from kombu import Connection

    try:
        with Connection(uri, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:
        return str(exc) or type(exc).__name__
    return None


class Supervisor:
    """What `make run` does when a service process dies: start it again (the others keep serving),
    unless it keeps dying, which a restart would not mend (a bad setting, say)."""

    def __init__(self, stack: LocalStack, burst: int = 5, window: float = 60.0) -> None:
        self.stack = stack
        self.burst = burst
        self.window = window
        self.restarts: dict[str, list[float]] = {}

    def tend(self) -> bool:
        """Restart what died; False when a service died `burst` times within `window` seconds."""
        for name, process in list(self.stack.processes.items()):
            if process.poll() is None:
                continue
            log = self.stack.log_dir / f"{name}.log"
            now = time.monotonic()
            recent = [t for t in self.restarts.get(name, []) if now - t < self.window] + [now]
            self.restarts[name] = recent
            if len(recent) > self.burst:
                print(f"{name} keeps exiting ({process.returncode}); see {log}", file=sys.stderr)
                return False
            print(f"{name} exited with {process.returncode}; starting it again (see {log})", file=sys.stderr)
            self.stack.restart(name)
        return True


def main() -> int:
    uri = amqp_uri()
    problem = broker_reachable(uri)
    if problem:
        where = broker_accounts.redact(uri)
        print(f"make run: RabbitMQ is not reachable at {where} ({problem}); start it or set AMQP_URI", file=sys.stderr)
        return 1
    token = os.environ.get("ADMIN_TOKEN") or secrets.token_urlsafe(24)
    stack = LocalStack(env={"ADMIN_TOKEN": token})
    refused = stack.use_own_broker_accounts()
    if refused:  # a remote broker where we hold no admin rights: still usable, just less strict
        print(
            f"make run: no broker accounts of their own for the services ({refused}); they use AMQP_URI",
            file=sys.stderr,
        )
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    stack.start()
    try:
        stack.wait_healthy(timeout=120)
        print(f"congress is running: {stack.gateway_url}  (logs in {stack.log_dir}/)")
        print(f"admin token: {token}")
        print("Ctrl-C stops every service.")
        supervisor = Supervisor(stack)
        while not stopping:
            if not supervisor.tend():
                stopping = True
            time.sleep(0.5)
    except (RuntimeError, TimeoutError) as exc:
        print(f"make run: {exc}", file=sys.stderr)
        return 1
    finally:
        print("stopping…")
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
