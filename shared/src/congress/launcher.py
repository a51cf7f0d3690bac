"""`congress-service`: start one service the way every deployment does.

congress-service run sections      wait for the broker, migrate, then `nameko run`
congress-service migrate sections  only migrate
congress-service check sections    exit 0 if the service's heartbeat is fresh (health checks)
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path

SERVICES = ("sections", "voting", "secretariat", "gateway")


def package_dir(service: str) -> Path:
    return Path(importlib.import_module(service).__file__).parent  # type: ignore[arg-type]


def amqp_uri() -> str:
    return os.environ.get("AMQP_URI", "amqp://guest:guest@localhost:5672/")


def wait_for_broker(uri: str, seconds: float) -> None:
    from kombu import Connection

    deadline = time.monotonic() + seconds
    while True:
        try:
            with Connection(uri, connect_timeout=3) as conn:
                conn.ensure_connection(max_retries=1)
            return
        except Exception as exc:
            if time.monotonic() >= deadline:
                raise SystemExit(f"congress-service: RabbitMQ is not reachable at {uri}: {exc}") from None
            time.sleep(1)


def migrate(service: str) -> None:
    from congress.messaging.migrations import upgrade
    from congress.messaging.store import database_url

    migrations = package_dir(service) / "migrations"
    if migrations.is_dir():
        upgrade(migrations, database_url(service), service)


def run(service: str, wait: float) -> None:
    from congress.messaging.store import database_url

    wait_for_broker(amqp_uri(), wait)
    migrate(service)
    os.environ["DATABASE_URL"] = database_url(service)  # config.yml reads it
    nameko = Path(sys.executable).with_name("nameko")
    config = Path(__file__).with_name("config.yml")
    # Name the class: `nameko run module` would also try to run mixins imported into the module.
    target = f"{service}.service:{service.capitalize()}Service"
    os.execv(str(nameko), [str(nameko), "run", "--config", str(config), target])


def check(service: str, max_age: float) -> int:
    from congress.messaging.nameko_edge import heartbeat_path

    try:
        age = time.time() - float(heartbeat_path(service).read_text())
    except (OSError, ValueError):
        print(f"{service}: no heartbeat yet")
        return 1
    if age > max_age:
        print(f"{service}: last heartbeat {age:.0f}s ago")
        return 1
    return 0


def show_dead_letters(replay: bool) -> int:
    from congress.messaging.dead_letters import dead_letters

    letters = dead_letters(amqp_uri(), replay=replay)
    for letter in letters:
        print(f"{letter.queue}\t{letter.event_type}\t{letter.event_id}\t{letter.consumer}\t{letter.error}")
    verb = "replayed" if replay else "held"
    print(f"{len(letters)} dead letter(s) {verb}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="congress-service", description=__doc__.split("\n")[0])
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, help_text in (
        ("run", "wait for RabbitMQ, migrate, then run the service"),
        ("migrate", "only migrate the service's store"),
        ("check", "exit 0 if the service's heartbeat is fresh"),
    ):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("service", choices=SERVICES)
        action.add_argument("--wait", type=float, default=60.0, help="seconds to wait for RabbitMQ")
        action.add_argument("--max-age", type=float, default=30.0, help="check: oldest acceptable heartbeat")
    letters = actions.add_parser("dead-letters", help="list the events consumers gave up on, with their errors")
    letters.add_argument("--replay", action="store_true", help="send each back to its queue (once the cause is fixed)")
    args = parser.parse_args(argv)
    if args.action == "run":
        run(args.service, args.wait)
    elif args.action == "migrate":
        migrate(args.service)
    elif args.action == "check":
        return check(args.service, args.max_age)
    else:
        return show_dead_letters(args.replay)
    return 0


if __name__ == "__main__":
    sys.exit(main())
