"""The broker accounts' permissions, read as RabbitMQ reads them (a regex search), and the
commands that hand them out, against a fake broker admin."""

from __future__ import annotations

import re
import stat
import threading
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from congress import broker_accounts as ba
from congress import launcher
from congress.messaging import topology

REPLY = f"{uuid.uuid4()}"


def allows(regex: str, name: str) -> bool:
    return re.search(regex, name) is not None


def queues_of(service: str) -> list[str]:
    return [s.queue_name for s in topology.SUBSCRIPTIONS if s.consumer == service]


def fed_by(producer: str) -> list[str]:
    return [s.queue_name for s in topology.SUBSCRIPTIONS if s.source == producer]


# ---- service accounts -----------------------------------------------------------------------


@pytest.mark.parametrize("service", ba.SERVICES)
def test_a_service_may_use_what_nameko_and_the_kit_use_as_it(service: str) -> None:
    p = ba.service_account(service).permissions
    mine = queues_of(service) + ([f"rpc-{service}"] if service in ba.RPC_SERVERS else [])
    if service in ba.RPC_CALLS:
        mine.append(f"rpc.reply-{service}-{REPLY}")
    for queue in mine:  # declared, bound, consumed
        assert allows(p.configure, queue) and allows(p.write, queue) and allows(p.read, queue), queue
    for queue in fed_by(service):  # pre-declared and bound by the producer, never read
        assert allows(p.configure, queue) and allows(p.write, queue) and not allows(p.read, queue), queue
    assert allows(p.configure, "nameko-rpc") and allows(p.write, "nameko-rpc") and allows(p.read, "nameko-rpc")
    if service in ba.EVENT_PRODUCERS:
        own = f"{service}.events"
        assert allows(p.configure, own) and allows(p.write, own) and allows(p.read, own)
    for source in ba.sources_of(service):
        assert allows(p.configure, f"{source}.events") and allows(p.read, f"{source}.events")
    if ba.sources_of(service):
        dead = topology.DEAD_LETTER_QUEUE
        assert allows(p.configure, dead) and allows(p.write, dead) and allows(p.read, dead)


@pytest.mark.parametrize("service", ba.SERVICES)
def test_a_service_may_not_touch_what_is_anothers(service: str) -> None:
    p = ba.service_account(service).permissions
    for other in ba.SERVICES:
        if other == service:
            continue
        for queue in (f"rpc-{other}", f"rpc.reply-{other}-{REPLY}", *queues_of(other)):
            assert not allows(p.read, queue), queue
            if queue not in fed_by(service):
                assert not allows(p.configure, queue) and not allows(p.write, queue), queue
        assert not allows(p.write, f"{other}.events"), "only a producer publishes its events"
    for name in ("amq.default", "amq.topic", "rpc-voting-x", "xrpc-voting", "congress.dead-letterx", "anything"):
        assert not any(allows(r, name) for r in (p.configure, p.write, p.read)), name


def test_only_a_producers_account_may_publish_its_events() -> None:
    for producer in ba.EVENT_PRODUCERS:
        for service in ba.SERVICES:
            account = ba.service_account(service)
            topic = next(t for t in account.topics if t.exchange == f"{producer}.events")
            assert allows(account.permissions.write, f"{producer}.events") == (service == producer)
            assert allows(topic.write, "section.registered") == (service == producer)


def test_rpc_routing_keys_are_limited_to_the_calls_a_service_makes_and_its_own_bindings() -> None:
    voting = next(t for t in ba.service_account("voting").topics if t.exchange == "nameko-rpc")
    assert allows(voting.write, "secretariat.deliver_credential") and allows(voting.write, REPLY)
    for key in ("sections.create_section", "voting.close_ballot", "gateway.x", "#", "secretariat"):
        assert not allows(voting.write, key), key
    assert allows(voting.read, "voting.*") and allows(voting.read, REPLY)
    for key in ("#", "*.*", "sections.*", "secretariat.deliver_credential", "voting.#"):
        assert not allows(voting.read, key), key

    gateway = next(t for t in ba.service_account("gateway").topics if t.exchange == "nameko-rpc")
    assert all(allows(gateway.write, f"{s}.ping") for s in ba.RPC_SERVERS)
    assert not allows(gateway.write, REPLY) and not allows(gateway.read, "gateway.*")

    sections = next(t for t in ba.service_account("sections").topics if t.exchange == "nameko-rpc")
    assert allows(sections.write, REPLY) and not allows(sections.write, "voting.get_ballot")


def test_the_gateway_streams_from_every_events_exchange_into_its_own_queues_only() -> None:
    p = ba.service_account("gateway").permissions
    stream = f"gateway.stream-{uuid.uuid4().hex}"
    assert allows(p.configure, stream) and allows(p.write, stream) and allows(p.read, stream)
    assert all(allows(p.read, f"{s}.events") for s in ba.EVENT_PRODUCERS)
    assert not allows(p.read, "gateway.other") and not allows(p.write, "voting.events")


def test_service_users_are_per_vhost() -> None:
    assert ba.service_account("voting").user == "congress-voting"
    assert ba.service_account("voting", "run-1").user == "congress-voting.run-1"
    with pytest.raises(ValueError):
        ba.service_account("postman")


def test_never_matches_nothing() -> None:
    for key in ("", "a", "voting.*", "#", "\n"):
        assert not allows(ba.NEVER, key)


# ---- subscriber accounts --------------------------------------------------------------------


def test_a_subscriber_owns_its_prefix_reads_the_events_exchanges_and_nothing_else() -> None:
    account = ba.subscriber_account("my-system")
    p = account.permissions
    assert account.user == "my-system" and account.tag == ba.SUBSCRIBER_TAG
    for queue in ("my-system.sections", "my-system.a.b"):
        assert allows(p.configure, queue) and allows(p.write, queue) and allows(p.read, queue)
    for producer in ba.EVENT_PRODUCERS:
        assert allows(p.read, f"{producer}.events")
        assert not allows(p.configure, f"{producer}.events"), "it could delete the exchange"
        assert not allows(p.write, f"{producer}.events")
    for name in (
        "my-system",
        "my-system.",
        "my-systemx.q",
        "other.q",
        "x.my-system.q",
        "nameko-rpc",
        "amq.default",
        "amq.topic",
        "rpc-voting",
        "congress.dead-letter",
        *(s.queue_name for s in topology.SUBSCRIPTIONS),
    ):
        assert not any(allows(r, name) for r in (p.configure, p.write, p.read)), name
    rpc = next(t for t in account.topics if t.exchange == "nameko-rpc")
    assert rpc.write == ba.NEVER and rpc.read == ba.NEVER
    assert all(t.write == ba.NEVER for t in account.topics)


@pytest.mark.parametrize(
    "name", ["", "My", "a.b", "a b", "voting", "sections", "congress-x", "amq", "rpc", "evt-x", "-x", "x" * 64]
)
def test_subscriber_names_that_could_reach_the_platforms_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        ba.subscriber_account(name)


# ---- URIs and files -------------------------------------------------------------------------


def test_uris_round_trip_and_lose_their_password_in_messages() -> None:
    uri = ba.amqp_uri_for("congress-voting.run-1", "p@ss/word", "rabbit", 5673, "run-1")
    assert uri == "amqp://congress-voting.run-1:p%40ss%2Fword@rabbit:5673/run-1"
    assert ba.parse_amqp_uri(uri) == ("rabbit", 5673, "run-1")
    assert ba.amqp_uri_for("u", "p", "h", 5672, "/") == "amqp://u:p@h:5672/"
    assert ba.parse_amqp_uri("amqp://u:p@h:5672/") == ("h", 5672, "/")
    assert ba.parse_amqp_uri("amqp://u:p@h/%2F") == ("h", 5672, "/")
    assert "p%40ss" not in ba.redact(uri) and ba.redact(uri) == "amqp://congress-voting.run-1:***@rabbit:5673/run-1"
    assert ba.redact("amqp://h:5672/") == "amqp://h:5672/"


class FakeAdmin:
    def __init__(self) -> None:
        self.vhosts: set[str] = {"/"}
        self.passwords: dict[str, str] = {"guest": "guest"}
        self.tags: dict[str, set[str]] = {"guest": {"administrator"}}
        self.permissions: dict[tuple[str, str], ba.Permissions] = {}
        self.topics: dict[tuple[str, str], tuple[ba.TopicPermission, ...]] = {}
        self.queue_names: dict[str, list[str]] = {}

    def ensure_vhost(self, vhost: str) -> None:
        self.vhosts.add(vhost)

    def users(self) -> dict[str, set[str]]:
        return {u: set(t) for u, t in self.tags.items()}

    def put_user(self, user: str, password: str, tag: str) -> None:
        self.passwords[user], self.tags[user] = password, {tag}

    def delete_user(self, user: str) -> None:
        self.passwords.pop(user, None)
        self.tags.pop(user, None)
        for key in [k for k in self.permissions if k[1] == user]:
            del self.permissions[key]

    def set_permissions(self, vhost: str, user: str, permissions: ba.Permissions) -> None:
        if vhost not in self.vhosts:
            raise ba.BrokerAdminError(f"no vhost {vhost}")
        self.permissions[(vhost, user)] = permissions

    def set_topic_permissions(self, vhost: str, user: str, topics: tuple[ba.TopicPermission, ...]) -> None:
        self.topics[(vhost, user)] = topics

    def users_in(self, vhost: str) -> set[str]:
        return {u for v, u in self.permissions if v == vhost}

    def queues(self, vhost: str) -> list[str]:
        return list(self.queue_names.get(vhost, []))

    def delete_queue(self, vhost: str, queue: str) -> None:
        self.queue_names[vhost].remove(queue)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_service_accounts_are_applied_and_their_uris_kept_private_and_stable(tmp_path: Path) -> None:
    admin = FakeAdmin()
    folder = tmp_path / "broker"

    first = ba.apply_service_accounts(admin, "run-1", "rabbit", 5672, folder=folder)
    again = ba.apply_service_accounts(admin, "run-1", "rabbit", 5672, folder=folder)
    rotated = ba.apply_service_accounts(admin, "run-1", "rabbit", 5672, folder=folder, rotate=True)

    assert set(first) == set(ba.SERVICES) and "run-1" in admin.vhosts
    assert again == first, "running it again keeps the passwords running services hold"
    assert all(rotated[s] != first[s] for s in ba.SERVICES)
    for service in ba.SERVICES:
        user = ba.service_user(service, "run-1")
        assert admin.permissions[("run-1", user)] == ba.service_account(service, "run-1").permissions
        assert admin.tags[user] == {ba.SERVICE_TAG}
        path = ba.uri_file(folder, service)
        assert path.read_text().strip() == rotated[service]
        assert rotated[service].startswith(f"amqp://{user}:{admin.passwords[user]}@rabbit:5672/run-1")
        assert mode(path) == 0o600 and mode(path.parent) == 0o700
    assert mode(folder) == 0o700
    assert not list(folder.rglob(".*")), "no temporary file left behind"

    ba.remove_service_accounts(admin, "run-1")
    assert set(admin.tags) == {"guest"}


def test_subscribers_are_added_once_listed_per_vhost_and_removed_with_their_queues() -> None:
    admin = FakeAdmin()
    admin.vhosts.add("other")
    uri = ba.add_subscriber(admin, "my-system", "/", "rabbit", 5672)
    assert uri == f"amqp://my-system:{admin.passwords['my-system']}@rabbit:5672/"
    assert len(admin.passwords["my-system"]) >= 32
    with pytest.raises(ba.BrokerAdminError, match="already exists"):
        ba.add_subscriber(admin, "my-system", "/", "rabbit", 5672)
    ba.add_subscriber(admin, "elsewhere", "other", "rabbit", 5672)
    ba.apply_service_accounts(admin, "/", "rabbit", 5672)
    assert ba.list_subscribers(admin, "/") == ["my-system"]

    admin.queue_names["/"] = ["my-system.a", "my-system.b", "my-systemx.c", "rpc-voting"]
    assert ba.remove_subscriber(admin, "my-system", "/") == 2
    assert admin.queue_names["/"] == ["my-systemx.c", "rpc-voting"]
    assert "my-system" not in admin.tags
    with pytest.raises(ba.BrokerAdminError, match="no subscriber"):
        ba.remove_subscriber(admin, "congress-voting", "/")  # a service account is not a subscriber


# ---- the launcher's actions -----------------------------------------------------------------


@pytest.fixture
def admin(monkeypatch: pytest.MonkeyPatch) -> FakeAdmin:
    fake = FakeAdmin()
    fake.vhosts.add("prod")
    monkeypatch.setattr(ba, "connect_admin", lambda amqp_host=None: fake)
    monkeypatch.setenv("AMQP_URI", "amqp://guest:guest@rabbit.example:5673/prod")
    return fake


def test_subscriber_add_prints_the_uri_once_on_stdout(admin: FakeAdmin, capsys: pytest.CaptureFixture[str]) -> None:
    assert launcher.main(["subscriber", "add", "my-system"]) == 0
    out, err = capsys.readouterr()
    password = admin.passwords["my-system"]
    assert out == f"amqp://my-system:{password}@rabbit.example:5673/prod\n"  # AMQP_URI's broker and vhost
    assert password not in err
    assert ("prod", "my-system") in admin.permissions

    assert launcher.main(["subscriber", "list", "--vhost", "prod"]) == 0
    assert capsys.readouterr().out == "my-system\n"
    assert launcher.main(["subscriber", "remove", "my-system", "--vhost", "prod"]) == 0
    assert "my-system" not in admin.tags


def test_accounts_apply_writes_the_files_and_prints_only_where(
    admin: FakeAdmin, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["accounts", "apply", "--vhost", "/", "--dir", str(tmp_path), "--amqp-host", "rabbitmq"]
    assert launcher.main([*args, "--amqp-port", "5672"]) == 0
    out = capsys.readouterr().out
    for service in ba.SERVICES:
        uri = ba.uri_file(tmp_path, service).read_text().strip()
        assert uri.startswith(f"amqp://congress-{service}:") and uri.endswith("@rabbitmq:5672/")
        assert admin.passwords[f"congress-{service}"] not in out


def test_a_broker_that_cannot_be_managed_is_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def unreachable(amqp_host: str | None = None) -> Any:
        raise ba.BrokerAdminError("management API at http://127.0.0.1:15672 unreachable: refused")

    monkeypatch.setattr(ba, "connect_admin", unreachable)
    for argv in (["subscriber", "add", "x1"], ["subscriber", "list"], ["accounts", "apply"]):
        assert launcher.main(argv) == 1
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and err.startswith("congress-service: management API")


def test_a_bad_subscriber_name_is_one_line_and_exit_1(admin: FakeAdmin, capsys: pytest.CaptureFixture[str]) -> None:
    assert launcher.main(["subscriber", "add", "voting"]) == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_keys_init_makes_missing_keys_only_privately(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "keys"
    assert launcher.main(["keys", "init", str(folder), "--key", "CONGRESS_SERVICE_KEY"]) == 0
    made = folder / "congress_service_key.key"
    first = made.read_text()
    assert launcher.main(["keys", "init", str(folder)]) == 0
    assert made.read_text() == first, "a key in use is never replaced"
    assert sorted(p.name for p in folder.iterdir()) == [
        "ballot_key.key",
        "congress_service_key.key",
        "record_signing_key.key",
    ]
    assert mode(folder) == 0o700 and all(mode(p) == 0o600 for p in folder.iterdir())
    assert first.strip() not in capsys.readouterr().out


def test_the_health_check_reads_the_heartbeat_the_store_writes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from congress.messaging.nameko_edge import heartbeat_path

    monkeypatch.setenv("CONGRESS_HEARTBEAT_DIR", str(tmp_path))
    assert launcher.heartbeat_file("voting") == heartbeat_path("voting")


def test_keys_init_refuses_an_unknown_key_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert launcher.main(["keys", "init", str(tmp_path), "--key", "NO_SUCH_KEY"]) == 1
    assert capsys.readouterr().err.startswith("congress-service: unknown key NO_SUCH_KEY")


def test_run_takes_amqp_uri_from_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "amqp_uri"
    path.write_text("amqp://congress-voting:pw@rabbitmq:5672/\n")
    monkeypatch.setenv("AMQP_URI", "amqp://guest:guest@localhost:5672/")
    monkeypatch.setenv("AMQP_URI_FILE", str(path))
    launcher.load_amqp_uri_file(0)
    assert launcher.amqp_uri() == "amqp://congress-voting:pw@rabbitmq:5672/"

    monkeypatch.setenv("AMQP_URI_FILE", str(tmp_path / "missing"))
    with pytest.raises(SystemExit, match="cannot be read"):
        launcher.load_amqp_uri_file(0)


# ---- the management API client --------------------------------------------------------------


class Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str, str | None]]] = []

    def _answer(self) -> None:
        Recorder.seen.append((self.command, self.path, self.headers.get("Authorization")))
        body = b'{"name": "admin", "tags": ["administrator"]}' if self.path == "/api/whoami" else b""
        self.send_response(200 if body else 204)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_DELETE = _answer

    def log_message(self, *args: Any) -> None:
        pass


def test_the_management_api_gets_credentials_in_a_header_never_in_a_url() -> None:
    server = HTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        api = ba.ManagementApi(f"http://127.0.0.1:{server.server_port}", "admin", "s3cret")
        api.probe()
        ba.apply_account(api, "run/1", ba.subscriber_account("my-system"), "the-password")
    finally:
        server.shutdown()
    paths = [path for _, path, _ in Recorder.seen]
    assert "/api/users/my-system" in paths and "/api/permissions/run%2F1/my-system" in paths
    assert all("s3cret" not in p and "the-password" not in p for p in paths)
    assert all(auth and auth.startswith("Basic ") for _, _, auth in Recorder.seen)


# ---- make run -------------------------------------------------------------------------------


def test_make_run_gives_each_service_its_own_account_when_it_can(
    admin: FakeAdmin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from congress.devstack import LocalStack

    stack = LocalStack(env={"AMQP_URI": "amqp://guest:guest@127.0.0.1:5672/"}, log_dir=tmp_path / "var" / "log")

    assert stack.use_own_broker_accounts() is None
    for service in ba.SERVICES:
        path = Path(stack.service_env[service]["AMQP_URI_FILE"])
        assert path == tmp_path / "var" / "broker" / service / "amqp_uri"
        assert path.read_text().startswith(f"amqp://congress-{service}:") and mode(path) == 0o600

    def refused(amqp_host: str | None = None) -> Any:
        raise ba.BrokerAdminError("management API at http://broker.example:15672 unreachable")

    monkeypatch.setattr(ba, "connect_admin", refused)
    remote = LocalStack(env={"AMQP_URI": "amqp://u:p@broker.example:5672/"}, log_dir=tmp_path / "other" / "log")
    assert "unreachable" in (remote.use_own_broker_accounts() or "")
    assert not remote.service_env, "the services keep the AMQP_URI they were given"


def test_a_remote_broker_is_never_managed_through_this_machines_rabbitmqctl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RABBITMQ_MANAGEMENT_URL", raising=False)
    asked: list[str] = []

    def probe(self: ba.ManagementApi) -> None:
        asked.append(self.url)
        raise ba.BrokerAdminError(f"management API at {self.url} unreachable")

    monkeypatch.setattr(ba.ManagementApi, "probe", probe)
    monkeypatch.setattr(ba.shutil, "which", lambda name: "/usr/sbin/rabbitmqctl")
    with pytest.raises(ba.BrokerAdminError, match="rabbitmqctl cannot reach it"):
        ba.connect_admin(amqp_host="broker.example")
    assert asked == ["http://broker.example:15672"]
