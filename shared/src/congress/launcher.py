"""`congress-service`: start one service the way every deployment does.

congress-service run sections      wait for the broker, migrate, then `nameko run`
congress-service migrate sections  only migrate
congress-service check sections    exit 0 if the service's heartbeat is fresh (health checks)
congress-service accounts apply    the services' own broker accounts, each URI in a 0600 file
congress-service subscriber add N  a read-only broker account for an outside subscriber
congress-service keys init DIR     make the platform's missing keys under DIR

`run` reads the service's AMQP URI from the file named by AMQP_URI_FILE when that is set
(waiting for it to appear, as `accounts apply` may still be writing it), else from AMQP_URI.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

SERVICES = ("sections", "voting", "secretariat", "gateway")


def package_dir(service: str) -> Path:
    return Path(importlib.import_module(service).__file__).parent  # type: ignore[arg-type]


def amqp_uri() -> str:
    return os.environ.get("AMQP_URI", "amqp://guest:guest@localhost:5672/")


def load_amqp_uri_file(seconds: float) -> None:
    """AMQP_URI from the file in AMQP_URI_FILE, so config.yml keeps reading AMQP_URI."""
    name = os.environ.get("AMQP_URI_FILE", "").strip()
    if not name:
        return
    path = Path(name)
    deadline = time.monotonic() + seconds
    while True:
        try:
            uri = path.read_text().strip()
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise SystemExit(f"congress-service: AMQP_URI_FILE={name} cannot be read: {exc.strerror}") from None
            time.sleep(1)
            continue
        if uri:
            os.environ["AMQP_URI"] = uri
            return
        if time.monotonic() >= deadline:
            raise SystemExit(f"congress-service: AMQP_URI_FILE={name} is empty")
        time.sleep(1)


def wait_for_broker(uri: str, seconds: float) -> None:
    from kombu import Connection

    from congress.broker_accounts import redact

    deadline = time.monotonic() + seconds
    while True:
        try:
            with Connection(uri, connect_timeout=3) as conn:
                conn.ensure_connection(max_retries=1)
            return
        except Exception as exc:
            if time.monotonic() >= deadline:
                # The URI's password stays out of the message: it ends up in container logs.
                raise SystemExit(f"congress-service: RabbitMQ is not reachable at {redact(uri)}: {exc}") from None
            time.sleep(1)


def migrate(service: str) -> None:
    from congress.messaging.migrations import upgrade
    from congress.messaging.store import database_url

    migrations = package_dir(service) / "migrations"
    if migrations.is_dir():
        upgrade(migrations, database_url(service), service)


def run(service: str, wait: float) -> None:
    from congress.messaging.store import database_url

    load_amqp_uri_file(wait)
    wait_for_broker(amqp_uri(), wait)
    migrate(service)
    os.environ["DATABASE_URL"] = database_url(service)  # config.yml reads it
    nameko = Path(sys.executable).with_name("nameko")
    config = Path(__file__).with_name("config.yml")
    # Name the class: `nameko run module` would also try to run mixins imported into the module.
    target = f"{service}.service:{service.capitalize()}Service"
    os.execv(str(nameko), [str(nameko), "run", "--config", str(config), target])


def heartbeat_file(service: str) -> Path:
    # nameko_edge.heartbeat_path, without importing nameko: a health check runs every 10 s and
    # must answer within its timeout even on a loaded machine.
    return Path(os.environ.get("CONGRESS_HEARTBEAT_DIR", "/tmp")) / f"congress-{service}.heartbeat"


def check(service: str, max_age: float) -> int:
    try:
        age = time.time() - float(heartbeat_file(service).read_text())
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


def broker_defaults(args: argparse.Namespace) -> None:
    """Unset --vhost, --amqp-host, --amqp-port from AMQP_URI: where the services connect."""
    from congress.broker_accounts import parse_amqp_uri

    host, port, vhost = parse_amqp_uri(amqp_uri())
    for name, value in (("vhost", vhost), ("amqp_host", host), ("amqp_port", port)):
        if getattr(args, name, value) is None:
            setattr(args, name, value)


def one_line_errors(action: Callable[[], int]) -> int:
    """An admin action's failure (no management API, a refused name, …) as one line, exit 1."""
    from congress.broker_accounts import BrokerAdminError

    try:
        return action()
    except (BrokerAdminError, ValueError, OSError) as exc:
        print(f"congress-service: {exc}", file=sys.stderr)
        return 1


def apply_accounts(args: argparse.Namespace) -> int:
    from congress.broker_accounts import BrokerAdminError, apply_service_accounts, connect_admin, uri_file

    deadline = time.monotonic() + args.wait
    while True:  # at boot (compose), the management API may answer a little after AMQP does
        try:
            admin = connect_admin(amqp_host=args.amqp_host)
            break
        except BrokerAdminError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(2)
    uris = apply_service_accounts(
        admin, args.vhost, args.amqp_host, args.amqp_port, folder=args.dir, rotate=args.rotate
    )
    for service in uris:  # where, never what: the files hold the passwords
        print(f"{service}\t{uri_file(args.dir, service)}")
    return 0


def manage_subscriber(args: argparse.Namespace) -> int:
    from congress.broker_accounts import (
        add_subscriber,
        connect_admin,
        list_subscribers,
        parse_amqp_uri,
        remove_subscriber,
    )

    admin = connect_admin(amqp_host=getattr(args, "amqp_host", None) or parse_amqp_uri(amqp_uri())[0])
    if args.subscriber_action == "add":
        print(add_subscriber(admin, args.name, args.vhost, args.amqp_host, args.amqp_port))
        print("the password is shown only this once: keep the URI", file=sys.stderr)
    elif args.subscriber_action == "list":
        for name in list_subscribers(admin, args.vhost):
            print(name)
    else:
        queues = remove_subscriber(admin, args.name, args.vhost)
        print(f"removed subscriber {args.name} and {queues} queue(s)", file=sys.stderr)
    return 0


def init_keys(directory: Path, names: list[str] | None) -> int:
    """Missing keys only (0600 files in a 0700 folder): a key in use is never replaced."""
    from congress.broker_accounts import write_private
    from congress.keys import ALL_KEYS, new_key

    unknown = set(names or ()) - set(ALL_KEYS)
    if unknown:
        raise ValueError(f"unknown key {sorted(unknown)[0]}: choose from {', '.join(ALL_KEYS)}")
    for name in names or ALL_KEYS:
        path = directory / f"{name.lower()}.key"
        if not path.exists():
            write_private(path, new_key(name))
        print(f"{name}_FILE={path}")
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

    def broker_options(action: argparse.ArgumentParser, uris: bool) -> None:
        # Defaults from AMQP_URI, read only when an admin action runs (never for `check`).
        action.add_argument("--vhost", help="the vhost (default: AMQP_URI's)")
        if uris:
            action.add_argument("--amqp-host", help="host in the URIs given out (default: AMQP_URI's)")
            action.add_argument("--amqp-port", type=int, help="port in the URIs given out (default: AMQP_URI's)")

    accounts = actions.add_parser("accounts", help="the services' own broker accounts (management API or rabbitmqctl)")
    accounts_actions = accounts.add_subparsers(dest="accounts_action", required=True, metavar="ACTION")
    apply = accounts_actions.add_parser("apply", help="create or update them; each URI in DIR/<service>/amqp_uri")
    broker_options(apply, uris=True)
    apply.add_argument("--dir", type=Path, default=Path("var/broker"), help="where the URIs go (%(default)s)")
    apply.add_argument("--rotate", action="store_true", help="new passwords even where DIR has one")
    apply.add_argument("--wait", type=float, default=0.0, help="seconds to wait for the broker's admin interface")

    subscriber = actions.add_parser("subscriber", help="read-only broker accounts for outside subscribers")
    subscriber_actions = subscriber.add_subparsers(dest="subscriber_action", required=True, metavar="ACTION")
    add = subscriber_actions.add_parser("add", help="create NAME; prints its AMQP URI, only this once")
    add.add_argument("name")
    broker_options(add, uris=True)
    broker_options(subscriber_actions.add_parser("list", help="the subscriber accounts of the vhost"), uris=False)
    remove = subscriber_actions.add_parser("remove", help="delete NAME and its queues")
    remove.add_argument("name")
    broker_options(remove, uris=False)

    keys = actions.add_parser("keys", help="the platform's keys")
    keys_actions = keys.add_subparsers(dest="keys_action", required=True, metavar="ACTION")
    init = keys_actions.add_parser("init", help="make the missing ones under DIR (0700; files 0600)")
    init.add_argument("dir", type=Path)
    init.add_argument("--key", action="append", metavar="NAME", help="only this key (repeatable; default all)")

    args = parser.parse_args(argv)
    if args.action == "run":
        run(args.service, args.wait)
    elif args.action == "migrate":
        migrate(args.service)
    elif args.action == "check":
        return check(args.service, args.max_age)
    elif args.action in ("accounts", "subscriber"):
        broker_defaults(args)
        return one_line_errors(lambda: (apply_accounts if args.action == "accounts" else manage_subscriber)(args))
    elif args.action == "keys":
        return one_line_errors(lambda: init_keys(args.dir, args.key))
    else:
        return show_dead_letters(args.replay)
    return 0


if __name__ == "__main__":
    sys.exit(main())
