"""Handlers write, the worker sends: on both stores, with a real SMTP server and a receiver
that verifies every signature."""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from congress.actors import Actor
from congress.contract import Envelope, hosts, new_envelope
from congress.errors import Conflict, Forbidden, NotFound
from secretariat import handlers
from secretariat.adapters import webhooks
from secretariat.delivery import DeliveryWorker
from secretariat.settings import Settings
from tests.support.mailbox import Mailbox
from tests.support.webhooks import WebhookReceiver

ADMIN = Actor("admin")
MOTION = {
    "motion_id": "mo-1",
    "ballot_id": "ba-1",
    "title": "Programme",
    "outcome": "adopted",
    "adopted": True,
    "tally": {"yes": 3, "no": 1, "abstain": 0},
    "majority_rule": "simple",
    "majority_met": True,
    "quorum": 2,
    "quorum_met": True,
    "electorate": 5,
}


LOOPBACK = hosts.parse_networks("127.0.0.0/8")


@pytest.fixture(autouse=True)
def receivers_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test receiver listens on 127.0.0.1: allowed on purpose, as a deployment allows its own
    private network (registration reads the environment, the worker its settings)."""
    monkeypatch.setenv(hosts.ALLOW_SETTING, "127.0.0.0/8")


def settings_for(mailbox: Mailbox, **overrides: Any) -> Settings:
    overrides.setdefault("webhook_allow_private_networks", LOOPBACK)
    return Settings(
        smtp_host=mailbox.host,
        smtp_port=mailbox.port,
        centre_email="centre@example.org",
        max_attempts=3,
        backoff_base=0.0,  # due again at once: the tests drive the worker by hand
        **overrides,
    )


def apply(store: Any, event: Envelope, handler: Callable[..., Any], *args: Any) -> bool:
    """What @idempotent does: claim the event, apply it, commit; False for a duplicate."""
    with store.unit_of_work() as uow:
        if not uow.claim(event.event_id, f"secretariat.{handler.__name__}"):
            return False
        handler(uow, event, *args)
        uow.commit()
    return True


def register(store: Any, settings: Settings, code: str, webhook_url: str | None = None) -> None:
    data = {
        "code": code,
        "name": f"Section {code}",
        "country": "Testland",
        "status": "section",
        "email": f"{code}@example.org",
        "webhook_url": webhook_url,
        "registered_at": "2026-11-24T10:00:00+00:00",
    }
    apply(store, new_envelope("section.registered", data, "sections"), handlers.section_registered, settings)


def drain(worker: DeliveryWorker, rounds: int = 20) -> None:
    for _ in range(rounds):
        if not worker.run_due():
            return


def test_one_event_gives_one_notification_and_one_delivery_per_channel_and_recipient_even_twice(
    store: Any, mailbox: Mailbox, receiver: WebhookReceiver
) -> None:
    settings = settings_for(mailbox)
    register(store, settings, "ew", webhook_url=receiver.url("ew"))
    register(store, settings, "fr")
    secret = handlers.rotate_section_webhook_secret(store, ADMIN, "ew")["secret"]
    receiver.endpoint("ew", secret)
    outside = handlers.register_webhook(
        store, ADMIN, {"url": receiver.url("outside"), "event_types": ["motion.decided"]}
    )
    receiver.endpoint("outside", outside["secret"])
    decided = new_envelope("motion.decided", MOTION, "voting")

    assert apply(store, decided, handlers.notify, settings)
    assert not apply(store, decided, handlers.notify, settings)  # the broker's redelivery
    worker = DeliveryWorker(store.sessions, settings)
    drain(worker)

    about = store.rows(
        "SELECT recipient, channel, status, attempts FROM deliveries WHERE event_id = :e", e=decided.event_id
    )
    assert sorted((d["recipient"], d["channel"], d["status"], d["attempts"]) for d in about) == [
        ("section:ew", "email", "delivered", 1),
        ("section:ew", "webhook", "delivered", 1),
        ("section:fr", "email", "delivered", 1),
        (f"webhook:{outside['id']}", "webhook", "delivered", 1),
    ]
    assert [m.subject for m in mailbox.to("ew@example.org")] == ["Motion adopted: Programme"]
    assert len(mailbox.to("fr@example.org")) == 1
    assert len(mailbox.to("centre@example.org")) == 2  # the two registrations
    for name in ("ew", "outside"):
        (hook,) = receiver.accepted(name)
        assert hook.body["event_id"] == decided.event_id and hook.body["type"] == "motion.decided"
    inbox = handlers.section_inbox(store, ADMIN, "ew", {"unread": "true"})
    assert [n["event_type"] for n in inbox] == ["motion.decided"]
    handlers.mark_read(store, ADMIN, "ew", inbox[0]["id"])
    assert handlers.section_inbox(store, ADMIN, "ew", {"unread": "true"}) == []
    assert len(store.emitted("notification.delivered")) == 6 and not store.emitted("notification.failed")  # 4 + 2


def test_a_webhook_that_fails_twice_gets_it_on_the_third_attempt_and_one_that_always_fails_is_retried_by_hand(
    store: Any, mailbox: Mailbox, receiver: WebhookReceiver
) -> None:
    settings = settings_for(mailbox)
    flaky = handlers.register_webhook(store, ADMIN, {"url": receiver.url("flaky"), "event_types": ["motion.decided"]})
    down = handlers.register_webhook(store, ADMIN, {"url": receiver.url("down"), "event_types": ["motion.decided"]})
    receiver.endpoint("flaky", flaky["secret"]).fail_next = 2
    receiver.endpoint("down", down["secret"]).always_fail = True
    decided = new_envelope("motion.decided", MOTION, "voting")
    apply(store, decided, handlers.notify, settings)

    drain(DeliveryWorker(store.sessions, settings))

    (to_flaky,) = handlers.list_deliveries(store, ADMIN, {"recipient": f"webhook:{flaky['id']}"})
    assert (to_flaky["status"], to_flaky["attempts"]) == ("delivered", 3)
    log = handlers.get_delivery(store, ADMIN, to_flaky["id"])["log"]
    assert [(a["attempt"], a["outcome"], a["status_code"]) for a in log] == [
        (1, "failed", 500),
        (2, "failed", 500),
        (3, "delivered", 200),
    ]
    assert len(receiver.accepted("flaky")) == 1
    (failed,) = handlers.list_deliveries(store, ADMIN, {"status": "failed"})
    assert failed["recipient"] == f"webhook:{down['id']}" and failed["attempts"] == 3
    assert failed["last_error"] == "HTTP 500 Internal Server Error"
    (gave_up,) = store.emitted("notification.failed")
    assert gave_up["data"]["attempts"] == 3 and gave_up["data"]["delivery_id"] == failed["id"]

    receiver.endpoint("down").always_fail = False
    retried = handlers.retry_delivery(store, ADMIN, failed["id"], settings)
    assert retried["status"] == "pending" and retried["attempt_limit"] == 6
    with pytest.raises(Conflict):
        handlers.retry_delivery(store, ADMIN, to_flaky["id"], settings)
    drain(DeliveryWorker(store.sessions, settings))

    assert handlers.get_delivery(store, ADMIN, failed["id"])["status"] == "delivered"
    assert len(receiver.accepted("down")) == 1
    assert len(handlers.get_delivery(store, ADMIN, failed["id"])["log"]) == 4


def test_a_worker_that_dies_between_send_and_record_leaves_a_duplicate_never_a_loss(
    store: Any, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(mailbox, lease_seconds=0.0)  # the dead worker's lease is over at once
    register(store, settings, "ew")
    dying = DeliveryWorker(store.sessions, settings)
    monkeypatch.setattr(dying, "record", lambda *a: (_ for _ in ()).throw(RuntimeError("killed")))

    dying.run_due()
    assert store.rows("SELECT status FROM deliveries") == [{"status": "pending"}]
    drain(DeliveryWorker(store.sessions, settings))

    sent = mailbox.to("centre@example.org")
    assert len(sent) == 2 and sent[0].message_id == sent[1].message_id  # the same message, twice
    assert store.rows("SELECT status, attempts FROM deliveries") == [{"status": "delivered", "attempts": 2}]


def test_replicas_claim_disjoint_deliveries(store: Any, mailbox: Mailbox) -> None:
    settings = settings_for(mailbox)
    for code in ("aa", "bb", "cc", "dd"):
        register(store, settings, code)
    workers = [DeliveryWorker(store.sessions, settings) for _ in range(2)]
    claimed: list[list[str]] = [[], []]

    def take(i: int) -> None:
        claimed[i] = [row.id for row in workers[i].claim(limit=3)]

    threads = [threading.Thread(target=take, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # What one replica missed in the race (SQLite's single writer) the next round takes.
    rest = [row.id for row in workers[0].claim(limit=10)]
    every = claimed[0] + claimed[1] + rest
    assert len(every) == len(set(every)) == 4  # each claimed once, none left out


def test_a_row_locked_by_another_replica_is_skipped_on_postgres(store: Any, mailbox: Mailbox) -> None:
    if store.engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite has a single writer")
    settings = settings_for(mailbox)
    for code in ("aa", "bb"):
        register(store, settings, code)
    with store.engine.connect() as other:
        held = other.execute(sa.text("SELECT id FROM deliveries ORDER BY id LIMIT 1 FOR UPDATE")).scalar()
        taken = [row.id for row in DeliveryWorker(store.sessions, settings).claim(limit=10)]
        other.rollback()
    assert held not in taken and len(taken) == 1


def test_a_circular_reaches_the_chosen_sections_on_every_channel_and_is_an_event(
    store: Any, mailbox: Mailbox, receiver: WebhookReceiver
) -> None:
    settings = settings_for(mailbox)
    register(store, settings, "ew", webhook_url=receiver.url("ew"))
    register(store, settings, "fr")
    register(store, settings, "de")
    receiver.endpoint("ew", handlers.rotate_section_webhook_secret(store, ADMIN, "ew")["secret"])

    issued = handlers.issue_circular(
        store,
        Actor("secretariat"),
        {"title": "Dues", "body": "Comrades,\n\nPlease pay.", "audience": "sections", "sections": ["ew", "fr"]},
        settings,
    )
    drain(DeliveryWorker(store.sessions, settings))

    assert issued["recipients"] == 2 and issued["sections"] == ["ew", "fr"]
    assert [m.subject for m in mailbox.to("ew@example.org")] == ["Dues"]
    assert mailbox.to("fr@example.org") and not mailbox.to("de@example.org")
    (hook,) = receiver.accepted("ew")
    assert hook.body["type"] == "circular.issued" and hook.body["data"]["body"] == "Comrades,\n\nPlease pay."
    assert handlers.section_inbox(store, ADMIN, "fr")[0]["subject"] == "Dues"
    assert handlers.list_circulars(store, ADMIN)[0]["id"] == issued["id"]
    (event,) = store.emitted("circular.issued")
    assert event["event_id"] == issued["event_id"]


def test_a_circular_to_the_iec_goes_to_its_members_emails(store: Any, mailbox: Mailbox) -> None:
    settings = settings_for(mailbox)
    nominated = {"nomination_id": "n-1", "apportionment_id": "a-1", "code": "ew", "name": "Rosa", "email": "r@x.org"}
    apply(store, new_envelope("delegate.nominated", nominated, "sections"), handlers.delegate_nominated)
    for member_id, name, email in (("m-1", "Rosa", None), ("m-2", "Karl", "karl@x.org")):
        accredited = {"member_id": member_id, "body_id": "b-1", "name": name, "section": "ew", "deliberative": True}
        accredited |= {"email": email} if email else {}
        apply(store, new_envelope("delegate.accredited", accredited, "voting"), handlers.delegate_accredited)
    changed = {"body_id": "iec-1", "kind": "iec", "members": ["m-1", "m-2"], "added": [], "removed": [], "reason": "x"}
    apply(store, new_envelope("body.membership_changed", changed, "voting"), handlers.body_membership_changed, settings)

    issued = handlers.issue_circular(
        store, ADMIN, {"title": "IEC meets", "body": "Monday.", "audience": "iec"}, settings
    )
    drain(DeliveryWorker(store.sessions, settings))

    assert issued["recipients"] == 2
    assert [m.subject for m in mailbox.to("r@x.org")] == ["IEC meets"]  # the email learnt from the nomination
    assert [m.subject for m in mailbox.to("karl@x.org")] == ["IEC meets"]


def test_a_credential_is_emailed_and_kept_nowhere(
    store: Any, mailbox: Mailbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    credential = "dc_" + "Zq9" * 12
    payload = {
        "member_id": "m-9",
        "name": "Rosa",
        "email": "rosa@x.org",
        "body_name": "Congress",
        "credential": credential,
    }

    assert handlers.deliver_credential(store, handlers.SmtpMailer(settings_for(mailbox)), payload) == {
        "delivered": True
    }

    (mail,) = mailbox.to("rosa@x.org")
    assert credential in mail.part("text/plain") and credential in mail.part("text/html")
    assert credential not in ours(caplog)
    everything = dump_database(store)
    assert "m-9" in everything and credential not in everything
    (record,) = store.rows("SELECT member_id, outcome FROM credential_deliveries")
    assert record == {"member_id": "m-9", "outcome": "delivered"}

    mailbox.refuse = True
    with pytest.raises(handlers.CredentialNotDelivered, match="m-9"):
        handlers.deliver_credential(store, handlers.SmtpMailer(settings_for(mailbox)), payload)
    assert credential not in dump_database(store) and credential not in ours(caplog)
    (failed,) = store.emitted("notification.failed")
    assert failed["data"]["recipient"] == "member:m-9" and failed["data"]["event_type"] == "credential"


def ours(caplog: pytest.LogCaptureFixture) -> str:
    """Every log line but the test SMTP server's own (which sees the message, as it must)."""
    return "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records if not r.name.startswith("mail."))


def dump_database(store: Any) -> str:
    """Every column of every row of every table, as text."""
    out = []
    with store.engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                out.append(repr(tuple(row)))
    return "\n".join(out)


def test_a_sections_contact_webhook_follows_its_webhook_url(store: Any, mailbox: Mailbox) -> None:
    settings = settings_for(mailbox)
    register(store, settings, "ew")

    def update(url: str | None) -> None:
        data = {"code": "ew", "name": "SP", "email": "sp@x.org", "webhook_url": url, "changed": ["webhook_url"]}
        apply(store, new_envelope("section.updated", data, "sections"), handlers.section_updated, settings)

    def hooks() -> list[dict]:
        return store.rows("SELECT url, deleted_at FROM webhook_subscriptions WHERE origin = 'contacts'")

    update("http://127.0.0.1:9/a")
    first = handlers.rotate_section_webhook_secret(store, ADMIN, "ew")
    update("http://127.0.0.1:9/b")
    assert [h["url"] for h in hooks()] == ["http://127.0.0.1:9/b"]
    apply(store, new_envelope("motion.decided", MOTION, "voting"), handlers.notify, settings)
    update(None)

    assert [h["deleted_at"] is not None for h in hooks()] == [True]
    assert store.rows("SELECT status FROM deliveries WHERE channel = 'webhook'") == [{"status": "cancelled"}]
    assert store.rows("SELECT email FROM sections") == [{"email": "sp@x.org"}]
    assert first["secret"].startswith("whsec_")
    with pytest.raises(NotFound):
        handlers.rotate_section_webhook_secret(store, ADMIN, "ew")
    with pytest.raises(Forbidden):
        handlers.section_inbox(store, Actor("section_officer", section="fr"), "ew")


# Webhook targets are checked again when connecting, and the checked address is the one used.

PUBLIC = hosts.literal_address("93.184.215.14")
METADATA = hosts.literal_address("169.254.169.254")


class FakeDns:
    """A resolver the test controls: what each name resolves to, and how often it was asked."""

    def __init__(self, answers: dict[str, list[Any]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[Any]:
        self.asked.append(host)
        if host not in self.answers:
            raise OSError(f"{host}: no such host")
        return list(self.answers[host])


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every connection the sender opens, refused and recorded: a test that expects none sees none."""
    opened: list[Any] = []

    def refuse(address: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(address)
        raise ConnectionRefusedError("this test allows no connection")

    monkeypatch.setattr(webhooks.socket, "create_connection", refuse)
    return opened


def test_a_host_that_resolves_to_a_metadata_address_when_sending_is_a_failed_attempt_and_nothing_is_sent(
    store: Any, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch, no_connections: list[Any]
) -> None:
    monkeypatch.delenv(hosts.ALLOW_SETTING)
    dns = FakeDns({"hooks.example.org": [PUBLIC]})
    monkeypatch.setattr(hosts, "resolve", dns)
    registered = handlers.register_webhook(
        store, ADMIN, {"url": "https://hooks.example.org/congress", "event_types": ["motion.decided"]}
    )
    dns.answers["hooks.example.org"] = [METADATA]  # DNS changed since the registration
    settings = settings_for(mailbox, webhook_allow_private_networks=())
    apply(store, new_envelope("motion.decided", MOTION, "voting"), handlers.notify, settings)

    drain(DeliveryWorker(store.sessions, settings))

    (delivery,) = handlers.list_deliveries(store, ADMIN, {"recipient": f"webhook:{registered['id']}"})
    assert (delivery["status"], delivery["attempts"], delivery["last_status"]) == ("failed", 3, None)
    assert "169.254.169.254 is a cloud metadata address" in delivery["last_error"]
    assert "nothing sent" in delivery["last_error"]
    assert no_connections == []


@pytest.mark.parametrize(
    ("answers", "refused"),
    [
        ([hosts.literal_address("127.0.0.1")], "127.0.0.1 is a loopback address"),
        ([PUBLIC, hosts.literal_address("10.1.2.3")], "10.1.2.3 is a private address"),  # every address counts
        ([hosts.literal_address("::ffff:192.168.1.1")], "192.168.1.1 is a private address"),
        ([hosts.literal_address("fe80::1")], "fe80::1 is a link-local address"),
    ],
)
def test_the_sender_refuses_any_refused_address_among_the_answers(
    answers: list[Any], refused: str, no_connections: list[Any]
) -> None:
    poster = webhooks.WebhookPoster(allow_private_networks=(), resolver=FakeDns({"hooks.example.org": answers}))

    result = poster.post("http://hooks.example.org/h", "whsec_" + "A" * 32, "msg-1", b"{}")

    assert not result.ok and result.status is None and refused in (result.error or "")
    assert no_connections == []


@pytest.mark.parametrize(
    "url",
    ["http://2130706433/h", "http://0x7f.1/h", "http://[::1]/h", "http://0.0.0.0/h", "http://localhost/h"],
)
def test_the_sender_refuses_literal_addresses_in_any_spelling(url: str, no_connections: list[Any]) -> None:
    poster = webhooks.WebhookPoster(allow_private_networks=(), resolver=FakeDns({}))

    result = poster.post(url, "whsec_" + "A" * 32, "msg-1", b"{}")

    assert not result.ok and (result.error or "").startswith("refused before connecting, nothing sent: ")
    assert no_connections == []


class Recorder(BaseHTTPRequestHandler):
    """Answers 204 and keeps what a receiver saw of each request."""

    seen: list[dict[str, str]]

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append({"path": self.path, "host": self.headers.get("Host", "")})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[ThreadingHTTPServer, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (Recorder,), {"seen": seen}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, seen
    server.shutdown()
    server.server_close()


def test_the_sender_connects_to_the_address_it_checked_and_names_the_host(
    recorder: tuple[ThreadingHTTPServer, list[dict[str, str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, seen = recorder
    port = server.server_address[1]
    dns = FakeDns({"hooks.example.org": [hosts.literal_address("127.0.0.1")]})
    real_getaddrinfo = socket.getaddrinfo

    def numeric_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        assert host != "hooks.example.org", "the host was resolved a second time, not by the checked resolver"
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", numeric_only)
    poster = webhooks.WebhookPoster(allow_private_networks=LOOPBACK, resolver=dns)

    result = poster.post(f"http://hooks.example.org:{port}/hooks/x?a=1", "whsec_" + "A" * 32, "msg-1", b"{}")

    assert result == webhooks.WebhookResult(True, 204, None)
    assert seen == [{"path": "/hooks/x?a=1", "host": f"hooks.example.org:{port}"}]
    assert dns.asked == ["hooks.example.org"]  # once: no second resolution between check and connect


def test_over_https_the_sender_gives_the_host_name_for_sni_and_the_certificate_check(
    tmp_path: Path, recorder: tuple[ThreadingHTTPServer, list[dict[str, str]]]
) -> None:
    server, seen = recorder
    cert, key = self_signed(tmp_path, "hooks.example.org")
    names: list[str | None] = []
    served = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    served.load_cert_chain(cert, key)
    served.sni_callback = lambda _sock, name, _ctx: names.append(name)
    server.socket = served.wrap_socket(server.socket, server_side=True)
    trusting = ssl.create_default_context(cafile=str(cert))
    dns = FakeDns({"hooks.example.org": [hosts.literal_address("127.0.0.1")]})
    poster = webhooks.WebhookPoster(allow_private_networks=LOOPBACK, resolver=dns, ssl_context=trusting)

    result = poster.post(f"https://hooks.example.org:{server.server_address[1]}/h", "whsec_" + "A" * 32, "m", b"{}")

    assert result.ok, result.error  # the certificate is for the name, not for 127.0.0.1
    assert names == ["hooks.example.org"] and seen[0]["host"].startswith("hooks.example.org:")


def self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert, key_file = folder / "cert.pem", folder / "key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert, key_file
