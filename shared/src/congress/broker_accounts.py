"""Who may do what on the broker: one account per service, read-only accounts for subscribers.

nameko trusts whoever can reach the vhost: any user could publish RPC requests, bind a queue to
`nameko-rpc` and read every request and reply, or publish forged events. So each service gets
an account allowed exactly what it needs (found by running the stack and reading the broker's
ACCESS_REFUSED errors), and an outside subscriber gets an account that may declare, bind and
consume only its own queues (`NAME.*`) on the `*.events` exchanges and publish nowhere.

Permissions are RabbitMQ's configure/write/read regexes per vhost (configure: declare or delete
a queue or exchange; write: publish to an exchange, bind a queue; read: consume a queue, bind
from an exchange) plus topic permissions, which check routing keys on topic exchanges: a
publish against `write`, a binding against `read`. They are applied through the management HTTP
API, or with `rabbitmqctl` when that API cannot be reached.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from congress.messaging import topology

SERVICES = ("sections", "voting", "secretariat", "gateway")
# Services with @rpc entrypoints (a `rpc-<service>` queue), and whom each calls.
RPC_SERVERS = ("sections", "voting", "secretariat")
RPC_CALLS: dict[str, tuple[str, ...]] = {
    "gateway": ("sections", "voting", "secretariat"),
    "voting": ("secretariat",),
}
# Services whose outbox relay publishes to `<service>.events`.
EVENT_PRODUCERS = ("sections", "voting", "secretariat")
# The gateway's live event stream consumes its own queues bound to every events exchange.
STREAMS: dict[str, str] = {"gateway": "gateway.stream-"}

RPC_EXCHANGE = "nameko-rpc"
UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
EVENT_TYPE = "[a-z0-9_.]+"
NEVER = "(?!)"  # an empty lookahead: matches no routing key at all
SERVICE_TAG = "congress-service"
SUBSCRIBER_TAG = "congress-subscriber"
SUBSCRIBER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
# A subscriber's prefix `NAME.` must never cover a platform queue or exchange.
RESERVED_NAMES = {*SERVICES, "congress", "nameko", "amq", "rpc", "evt", "guest", "admin"}

DEFAULT_MANAGEMENT_URL = "http://127.0.0.1:15672"
DEFAULT_AMQP_URI = "amqp://guest:guest@localhost:5672/"
URI_FILE = "amqp_uri"


class BrokerAdminError(RuntimeError):
    """The broker's users cannot be managed (no management API, no rabbitmqctl) or refused."""


@dataclass(frozen=True)
class Permissions:
    configure: str
    write: str
    read: str


@dataclass(frozen=True)
class TopicPermission:
    exchange: str
    write: str
    read: str


@dataclass(frozen=True)
class Account:
    user: str
    tag: str
    permissions: Permissions
    topics: tuple[TopicPermission, ...]


def _lit(name: str) -> str:
    return name.replace(".", r"\.")


def _exactly(*alternatives: str) -> str:
    return "^(" + "|".join(alternatives) + ")$" if alternatives else NEVER


def _events(producer: str) -> str:
    return f"{producer}.events"


def service_user(service: str, vhost: str = "/", label: str = "") -> str:
    """`congress-<service>`; users are broker-wide and permissions per vhost, so another vhost
    gets users of its own (`.<vhost>`), and a `label` keeps apart two sets in one vhost."""
    name = f"congress-{service}" if vhost == "/" else f"congress-{service}.{vhost}"
    return f"{name}.{label}" if label else name


def sources_of(service: str) -> tuple[str, ...]:
    """The producers whose events `service` consumes, from the platform's topology."""
    return tuple(sorted({s.source for s in topology.SUBSCRIPTIONS if s.consumer == service}))


def consumers_of(producer: str) -> tuple[str, ...]:
    return tuple(sorted({s.consumer for s in topology.SUBSCRIPTIONS if s.source == producer}))


def service_account(service: str, vhost: str = "/", label: str = "") -> Account:
    """Exactly what nameko and the messaging kit do as `service`, and nothing else."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}")
    sources = sources_of(service)
    consumers = consumers_of(service) if service in EVENT_PRODUCERS else ()
    queues = []  # declared, bound and consumed
    if service in RPC_CALLS:  # nameko's reply queue, one per RpcProxy'd service process
        queues.append(rf"rpc\.reply-{service}-{UUID}")
    if service in RPC_SERVERS:
        queues.append(f"rpc-{service}")
    if sources:  # its own handler queues (topology: evt-<source>-<type>--<consumer>)
        queues.append(f"evt-({'|'.join(sources)})-{EVENT_TYPE}--{service}")
    fed = [f"evt-{service}-{EVENT_TYPE}--({'|'.join(consumers)})"] if consumers else []  # pre-declared, bound
    dead_letter = [_lit(topology.DEAD_LETTER_QUEUE)] if sources else []  # queue and exchange share the name
    own_events = [_lit(_events(service))] if service in EVENT_PRODUCERS else []
    # nameko's consumers declare the exchange they bind to, so they need configure on it too.
    read_events = [_lit(_events(s)) for s in sources]
    if service in STREAMS:
        queues.append(_lit(STREAMS[service]) + ".*")
        read_events = [_lit(_events(s)) for s in EVENT_PRODUCERS]
    rpc = _lit(RPC_EXCHANGE)
    permissions = Permissions(
        configure=_exactly(*queues, *fed, *dead_letter, rpc, *own_events, *read_events),
        write=_exactly(*queues, *fed, *dead_letter, rpc, *own_events),
        read=_exactly(*queues, *dead_letter, rpc, *own_events, *read_events),
    )
    # nameko-rpc: requests are routed `<callee>.<method>`, replies by the caller's reply uuid.
    calls = [f"({'|'.join(RPC_CALLS[service])})\\.[A-Za-z0-9_]+"] if service in RPC_CALLS else []
    replies = [UUID] if service in RPC_SERVERS else []
    binds = [f"{service}\\.\\*"] if service in RPC_SERVERS else []
    reply_binds = [UUID] if service in RPC_CALLS else []
    topics = [TopicPermission(RPC_EXCHANGE, write=_exactly(*calls, *replies), read=_exactly(*binds, *reply_binds))]
    readable = set(sources) | (set(EVENT_PRODUCERS) if service in STREAMS else set())
    for producer in EVENT_PRODUCERS:
        # A producer's exchange takes messages from the producer's account only.
        mine = producer == service
        topics.append(
            TopicPermission(
                _events(producer),
                write=".*" if mine else NEVER,
                read=".*" if mine or producer in readable else NEVER,
            )
        )
    return Account(service_user(service, vhost, label), SERVICE_TAG, permissions, tuple(topics))


def check_subscriber_name(name: str) -> None:
    if not SUBSCRIBER_NAME.match(name):
        raise ValueError(
            f"subscriber name {name!r}: use 1-63 of a-z, 0-9, '-' and '_', starting with a letter or digit"
        )
    if name in RESERVED_NAMES or name.startswith(("congress", "amq", "rpc", "evt", "nameko")):
        raise ValueError(f"subscriber name {name!r} is reserved for the platform")


def subscriber_account(name: str) -> Account:
    """Its own queues `NAME.*`, bound to the events exchanges only; it publishes nowhere.

    Binding a queue needs write on the queue, so `NAME.*` is writable; an exchange it declared
    under that prefix is the only thing it could publish to, and that reaches only its own queues.
    It must declare the events exchanges passively (kombu: `Exchange(..., passive=True)`): it
    may not configure them, so it cannot delete them either.
    """
    check_subscriber_name(name)
    own = f"{_lit(name)}\\..+"
    events = [_lit(_events(p)) for p in EVENT_PRODUCERS]
    permissions = Permissions(configure=_exactly(own), write=_exactly(own), read=_exactly(own, *events))
    topics = [TopicPermission(RPC_EXCHANGE, write=NEVER, read=NEVER)]
    topics += [TopicPermission(_events(p), write=NEVER, read=".*") for p in EVENT_PRODUCERS]
    return Account(name, SUBSCRIBER_TAG, permissions, tuple(topics))


# ---- URIs and files --------------------------------------------------------------------------


def new_password() -> str:
    return secrets.token_urlsafe(24)


def amqp_uri_for(user: str, password: str, host: str, port: int, vhost: str) -> str:
    path = "" if vhost == "/" else urllib.parse.quote(vhost, safe="")
    quote = urllib.parse.quote
    return f"amqp://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/{path}"


def parse_amqp_uri(uri: str) -> tuple[str, int, str]:
    """(host, port, vhost) of an AMQP URI; an empty path is the default vhost `/`."""
    parts = urllib.parse.urlsplit(uri)
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    return parts.hostname or "localhost", parts.port or 5672, urllib.parse.unquote(path) or "/"


def redact(uri: str) -> str:
    """The URI without its password, for messages."""
    parts = urllib.parse.urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def write_private(path: Path, text: str) -> None:
    """Write `text` to a 0600 file, never world-readable even for an instant."""
    _private_dir(path.parent)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")
    temporary.replace(path)


def uri_file(folder: Path | str, service: str) -> Path:
    """Where `accounts apply` keeps a service's URI: a folder each, so a deployment can give
    each service its own (a volume or secret per service)."""
    return Path(folder) / service / URI_FILE


def _known_password(path: Path, user: str) -> str | None:
    try:
        uri = urllib.parse.urlsplit(path.read_text().strip())
    except OSError:
        return None
    if uri.username is None or urllib.parse.unquote(uri.username) != user or uri.password is None:
        return None
    return urllib.parse.unquote(uri.password)


# ---- applying accounts -----------------------------------------------------------------------


class Admin(Protocol):
    """What we need of the broker's user management (management API or rabbitmqctl)."""

    def ensure_vhost(self, vhost: str) -> None: ...
    def users(self) -> dict[str, set[str]]: ...
    def put_user(self, user: str, password: str, tag: str) -> None: ...
    def delete_user(self, user: str) -> None: ...
    def set_permissions(self, vhost: str, user: str, permissions: Permissions) -> None: ...
    def set_topic_permissions(self, vhost: str, user: str, topics: tuple[TopicPermission, ...]) -> None: ...
    def users_in(self, vhost: str) -> set[str]: ...
    def queues(self, vhost: str) -> list[str]: ...
    def delete_queue(self, vhost: str, queue: str) -> None: ...


class ManagementApi:
    """The RabbitMQ management HTTP API; credentials go in a header, never in the URL."""

    def __init__(self, url: str, user: str, password: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def _call(self, method: str, path: str, body: object = None) -> object:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + "/api/" + path, data=data, method=method)
        request.add_header("Authorization", self._auth)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                text = answer.read()
        except urllib.error.HTTPError as exc:
            if method == "DELETE" and exc.code == 404:
                return None  # already gone
            reason = exc.read().decode(errors="replace")[:200]
            raise BrokerAdminError(f"management API {method} /api/{path.split('/')[0]}: {exc.code} {reason}") from None
        except (OSError, urllib.error.URLError) as exc:
            raise BrokerAdminError(f"management API at {self.url} unreachable: {exc}") from None
        return json.loads(text) if text else None

    @staticmethod
    def _q(name: str) -> str:
        return urllib.parse.quote(name, safe="")

    def probe(self) -> None:
        who = self._call("GET", "whoami")
        tags = who.get("tags", []) if isinstance(who, dict) else []
        tags = tags.split(",") if isinstance(tags, str) else tags
        if "administrator" not in tags:
            raise BrokerAdminError("the management API user is not an administrator")

    def ensure_vhost(self, vhost: str) -> None:
        self._call("PUT", f"vhosts/{self._q(vhost)}", {})

    def users(self) -> dict[str, set[str]]:
        found = self._call("GET", "users")
        result = {}
        for user in found if isinstance(found, list) else []:
            tags = user.get("tags", [])
            result[user["name"]] = set(tags.split(",") if isinstance(tags, str) else tags) - {""}
        return result

    def put_user(self, user: str, password: str, tag: str) -> None:
        self._call("PUT", f"users/{self._q(user)}", {"password": password, "tags": tag})

    def delete_user(self, user: str) -> None:
        self._call("DELETE", f"users/{self._q(user)}")

    def set_permissions(self, vhost: str, user: str, permissions: Permissions) -> None:
        body = {"configure": permissions.configure, "write": permissions.write, "read": permissions.read}
        self._call("PUT", f"permissions/{self._q(vhost)}/{self._q(user)}", body)

    def set_topic_permissions(self, vhost: str, user: str, topics: tuple[TopicPermission, ...]) -> None:
        self._call("DELETE", f"topic-permissions/{self._q(vhost)}/{self._q(user)}")  # none left over
        for topic in topics:
            body = {"exchange": topic.exchange, "write": topic.write, "read": topic.read}
            self._call("PUT", f"topic-permissions/{self._q(vhost)}/{self._q(user)}", body)

    def users_in(self, vhost: str) -> set[str]:
        found = self._call("GET", f"vhosts/{self._q(vhost)}/permissions")
        return {p["user"] for p in found} if isinstance(found, list) else set()

    def queues(self, vhost: str) -> list[str]:
        found = self._call("GET", f"queues/{self._q(vhost)}?columns=name")
        return [q["name"] for q in found] if isinstance(found, list) else []

    def delete_queue(self, vhost: str, queue: str) -> None:
        self._call("DELETE", f"queues/{self._q(vhost)}/{self._q(queue)}")


class Rabbitmqctl:
    """The same through `rabbitmqctl` (root or the broker's Erlang cookie); about a second a call.
    Passwords go through stdin, never the command line (which `ps` shows)."""

    def __init__(self, command: str = "rabbitmqctl", timeout: float = 60.0) -> None:
        self.command = command
        self.timeout = timeout

    def _run(self, *args: str, stdin: str | None = None) -> str:
        try:
            done = subprocess.run(
                [self.command, "-q", *args], input=stdin, capture_output=True, text=True, timeout=self.timeout
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise BrokerAdminError(f"rabbitmqctl {args[0]}: {exc}") from None
        if done.returncode != 0:
            why = (done.stderr.strip() or done.stdout.strip()).splitlines()
            raise BrokerAdminError(f"rabbitmqctl {args[0]}: {why[-1] if why else 'failed'}")
        return done.stdout

    def _json(self, *args: str) -> list[dict[str, object]]:
        text = self._run(*args, "--formatter", "json").strip()
        return json.loads(text) if text else []

    def probe(self) -> None:
        self._run("list_vhosts")

    def ensure_vhost(self, vhost: str) -> None:
        if vhost not in {str(v["name"]) for v in self._json("list_vhosts", "name")}:
            self._run("add_vhost", vhost)

    def users(self) -> dict[str, set[str]]:
        return {str(u["user"]): set(u.get("tags") or []) for u in self._json("list_users")}  # type: ignore[arg-type]

    def put_user(self, user: str, password: str, tag: str) -> None:
        try:
            self._run("add_user", user, stdin=password + "\n")
        except BrokerAdminError as exc:
            if "already exists" not in str(exc):
                raise
            self._run("change_password", user, stdin=password + "\n")
        self._run("set_user_tags", user, tag)

    def delete_user(self, user: str) -> None:
        if user in self.users():
            self._run("delete_user", user)

    def set_permissions(self, vhost: str, user: str, permissions: Permissions) -> None:
        self._run("set_permissions", "-p", vhost, user, permissions.configure, permissions.write, permissions.read)

    def set_topic_permissions(self, vhost: str, user: str, topics: tuple[TopicPermission, ...]) -> None:
        self._run("clear_topic_permissions", "-p", vhost, user)
        for topic in topics:
            self._run("set_topic_permissions", "-p", vhost, user, topic.exchange, topic.write, topic.read)

    def users_in(self, vhost: str) -> set[str]:
        return {str(p["user"]) for p in self._json("list_permissions", "-p", vhost)}

    def queues(self, vhost: str) -> list[str]:
        return [str(q["name"]) for q in self._json("list_queues", "-p", vhost, "name")]

    def delete_queue(self, vhost: str, queue: str) -> None:
        self._run("delete_queue", "-p", vhost, queue)


def _is_local(host: str) -> bool:
    return host in {"localhost", "127.0.0.1", "::1"}


def connect_admin(amqp_host: str | None = None) -> ManagementApi | Rabbitmqctl:
    """The management API (`RABBITMQ_MANAGEMENT_URL`, `RABBITMQ_ADMIN_USER`/`_PASSWORD`, default
    guest/guest), or rabbitmqctl when that API cannot be used and rabbitmqctl is on PATH.

    Given the broker's `amqp_host` and no RABBITMQ_MANAGEMENT_URL, the API is looked for on that
    host, and a remote broker is never managed through this machine's rabbitmqctl.
    """
    remote = amqp_host is not None and not _is_local(amqp_host)
    default_url = f"http://{amqp_host}:15672" if remote else DEFAULT_MANAGEMENT_URL
    api = ManagementApi(
        os.environ.get("RABBITMQ_MANAGEMENT_URL") or default_url,
        os.environ.get("RABBITMQ_ADMIN_USER") or "guest",
        os.environ.get("RABBITMQ_ADMIN_PASSWORD") or "guest",
    )
    try:
        api.probe()
        return api
    except BrokerAdminError as exc:
        problem = str(exc)
    command = shutil.which("rabbitmqctl")
    if remote or command is None:
        raise BrokerAdminError(f"{problem}, and rabbitmqctl {'cannot reach it' if remote else 'is not on PATH'}")
    ctl = Rabbitmqctl(command)
    try:
        ctl.probe()
    except BrokerAdminError as exc:
        raise BrokerAdminError(f"{problem}; {exc}") from None
    return ctl


def apply_account(admin: Admin, vhost: str, account: Account, password: str) -> None:
    admin.put_user(account.user, password, account.tag)
    admin.set_permissions(vhost, account.user, account.permissions)
    admin.set_topic_permissions(vhost, account.user, account.topics)


def apply_service_accounts(
    admin: Admin,
    vhost: str,
    host: str,
    port: int,
    folder: Path | str | None = None,
    services: tuple[str, ...] = SERVICES,
    rotate: bool = False,
    label: str = "",
) -> dict[str, str]:
    """Create or update each service's account; its AMQP URI by service.

    With `folder`, each URI is written to `<folder>/<service>/amqp_uri` (0700 folders, 0600
    files), and a password found there is kept unless `rotate`: running services (and their
    reconnections) keep working when this runs again.
    """
    admin.ensure_vhost(vhost)
    if folder is not None:
        _private_dir(Path(folder))
    uris = {}
    for service in services:
        account = service_account(service, vhost, label)
        path = uri_file(folder, service) if folder is not None else None
        known = _known_password(path, account.user) if path is not None and not rotate else None
        password = known or new_password()
        apply_account(admin, vhost, account, password)
        uris[service] = amqp_uri_for(account.user, password, host, port, vhost)
        if path is not None:
            write_private(path, uris[service])
    return uris


def remove_service_accounts(admin: Admin, vhost: str, services: tuple[str, ...] = SERVICES, label: str = "") -> None:
    present = admin.users()
    for service in services:
        if service_user(service, vhost, label) in present:
            admin.delete_user(service_user(service, vhost, label))


def add_subscriber(admin: Admin, name: str, vhost: str, host: str, port: int) -> str:
    """A new subscriber account; its AMQP URI (the only place its password is ever shown)."""
    account = subscriber_account(name)
    if name in admin.users():
        raise BrokerAdminError(f"a broker user named {name!r} already exists")
    password = new_password()
    apply_account(admin, vhost, account, password)
    return amqp_uri_for(name, password, host, port, vhost)


def list_subscribers(admin: Admin, vhost: str) -> list[str]:
    present = admin.users_in(vhost)
    return sorted(user for user, tags in admin.users().items() if SUBSCRIBER_TAG in tags and user in present)


def remove_subscriber(admin: Admin, name: str, vhost: str) -> int:
    """Delete the account and its queues in `vhost` (they would fill up forever); queues removed."""
    tags = admin.users().get(name)
    if tags is None or SUBSCRIBER_TAG not in tags:
        raise BrokerAdminError(f"no subscriber named {name!r}")
    admin.delete_user(name)
    mine = [q for q in admin.queues(vhost) if q.startswith(name + ".")]
    for queue in mine:
        admin.delete_queue(vhost, queue)
    return len(mine)
