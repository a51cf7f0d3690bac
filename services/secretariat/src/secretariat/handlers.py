"""The secretariat service's use cases: check the actor, validate, one unit of work.

Event handlers learn who the recipients are (read models) and, for what the rules say must be
told, write one notification per recipient and one pending delivery per channel, in the event's
unit of work: nothing is sent here. The delivery worker (secretariat.delivery) sends.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from congress.actors import Actor, require_role, require_section
from congress.contract import Envelope
from congress.contract.api import (
    CircularIssue,
    CircularView,
    CredentialDelivery,
    DeliveryFilter,
    DeliveryView,
    InboxFilter,
    InboxNotificationView,
    WebhookRegistration,
    WebhookView,
    load,
)
from congress.errors import Conflict, InvalidInput, NotFound
from congress.messaging.store import UnitOfWork
from secretariat.adapters.mail import MailError, SmtpMailer
from secretariat.adapters.orm import (
    body_members,
    circulars,
    credential_deliveries,
    deliveries,
    delivery_attempts,
    members,
    nominees,
    notifications,
    notified_events,
    sections,
    webhook_subscriptions,
)
from secretariat.adapters.templates import render_credential, render_notification
from secretariat.domain import routing, signing
from secretariat.domain.routing import Directory, Recipient, SectionContact, Subscription
from secretariat.settings import Settings

log = logging.getLogger(__name__)


class CredentialNotDelivered(Exception):
    """The SMTP server did not accept a credential email (arrives over RPC as a RemoteError)."""


def _now() -> datetime:
    return datetime.now(UTC)


def _get(session: Any, table: sa.Table, key: Any) -> Any:
    """The row of `table` with this primary key, or None."""
    (column,) = table.primary_key.columns
    return session.execute(sa.select(table).where(column == key)).first()


def _upsert(session: Any, table: sa.Table, key: dict[str, Any], values: dict[str, Any]) -> None:
    where = [table.c[k] == v for k, v in key.items()]
    if session.execute(sa.select(*table.primary_key.columns).where(*where)).first() is None:
        session.execute(table.insert().values(**key, **values))
    else:
        session.execute(table.update().where(*where).values(**values))


# What the other services taught us


def section_registered(uow: UnitOfWork, event: Envelope, settings: Settings) -> int:
    data, now = event.data, _now()
    if _get(uow.session, sections, data["code"]) is not None:
        # An update overtook the registration (another queue): its contacts are the newer ones.
        uow.session.execute(sections.update().where(sections.c.code == data["code"]).values(status=data["status"]))
    else:
        uow.session.execute(
            sections.insert().values(
                code=data["code"],
                name=data["name"],
                email=data["email"],
                webhook_url=data.get("webhook_url"),
                status=data["status"],
                updated_at=now,
            )
        )
        _contact_hook(uow.session, data["code"], data.get("webhook_url"), now)
    return notify(uow, event, settings)


def section_updated(uow: UnitOfWork, event: Envelope, settings: Settings) -> int:
    data, now = event.data, _now()
    known = uow.session.execute(sa.select(sections.c.status).where(sections.c.code == data["code"])).first()
    values = {"name": data["name"], "email": data["email"], "webhook_url": data.get("webhook_url"), "updated_at": now}
    # An update may overtake the registration (another queue): the status comes with the latter.
    _upsert(uow.session, sections, {"code": data["code"]}, values | ({} if known else {"status": "section"}))
    _contact_hook(uow.session, data["code"], data.get("webhook_url"), now)
    return notify(uow, event, settings)


def section_status_changed(uow: UnitOfWork, event: Envelope, settings: Settings) -> int:
    data = event.data
    uow.session.execute(
        sections.update().where(sections.c.code == data["code"]).values(status=data["status"], updated_at=_now())
    )
    return notify(uow, event, settings)


def delegate_nominated(uow: UnitOfWork, event: Envelope) -> None:
    data = event.data
    _upsert(
        uow.session,
        nominees,
        {"nomination_id": data["nomination_id"]},
        {"code": data["code"], "name": data["name"], "email": data["email"]},
    )


def delegate_accredited(uow: UnitOfWork, event: Envelope, settings: Settings | None = None) -> None:
    data = event.data
    email = data.get("email")
    if email is None and data.get("section"):
        # Older voting services do not send the email: the nomination under that name has it.
        found = uow.session.scalars(
            sa.select(nominees.c.email).where(nominees.c.code == data["section"], nominees.c.name == data["name"])
        ).all()
        email = found[0] if len(set(found)) == 1 else None
    _upsert(
        uow.session,
        members,
        {"member_id": data["member_id"]},
        {"name": data["name"], "email": email, "section": data.get("section"), "updated_at": _now()},
    )
    if email:
        _email_waiting_notices(uow.session, data["member_id"], email, settings or Settings.from_config())


def _email_waiting_notices(session: Any, member_id: str, email: str, settings: Settings) -> None:
    """Notices written to this member while their address was unknown (a circular to the IEC they
    were just elected to, say) are emailed now that it is known."""
    recipient, now = routing.member_key(member_id), _now()
    emailed = sa.select(deliveries.c.notification_id).where(
        deliveries.c.recipient == recipient, deliveries.c.channel == "email"
    )
    waiting = session.execute(
        sa.select(notifications).where(notifications.c.recipient == recipient, notifications.c.id.not_in(emailed))
    ).all()
    for notice in waiting:
        if routing.send_when_address_known(recipient, notice.created_at, now):
            _add_delivery(
                session, notice.id, notice.event_id, notice.event_type, recipient, "email", email, None, settings
            )
            log.info("notification %s to %s: emailed now that their address is known", notice.id, recipient)


def body_membership_changed(uow: UnitOfWork, event: Envelope, settings: Settings) -> int:
    data, now = event.data, _now()
    uow.session.execute(body_members.delete().where(body_members.c.body_id == data["body_id"]))
    for member_id in dict.fromkeys(data["members"]):
        uow.session.execute(
            body_members.insert().values(
                body_id=data["body_id"], member_id=member_id, kind=data["kind"], changed_at=now
            )
        )
    return notify(uow, event, settings)


def _contact_hook(session: Any, code: str, url: str | None, now: datetime) -> None:
    """A section's webhook_url is a signed subscription to what the section hears."""
    hook = session.execute(
        sa.select(webhook_subscriptions).where(
            webhook_subscriptions.c.origin == "contacts",
            webhook_subscriptions.c.section == code,
            webhook_subscriptions.c.deleted_at.is_(None),
        )
    ).first()
    if url is None:
        if hook is not None:
            session.execute(
                webhook_subscriptions.update().where(webhook_subscriptions.c.id == hook.id).values(deleted_at=now)
            )
            _cancel_pending(session, hook.id, "the section removed its webhook_url", now)
    elif hook is None:
        session.execute(
            webhook_subscriptions.insert().values(
                id=str(uuid.uuid4()),
                url=url,
                secret=signing.new_secret(),
                event_types=None,
                section=code,
                origin="contacts",
                description=f"contact webhook of section {code}",
                created_at=now,
            )
        )
    elif hook.url != url:
        session.execute(webhook_subscriptions.update().where(webhook_subscriptions.c.id == hook.id).values(url=url))


def _cancel_pending(session: Any, subscription_id: str, why: str, now: datetime) -> None:
    session.execute(
        deliveries.update()
        .where(deliveries.c.subscription_id == subscription_id, deliveries.c.status == "pending")
        .values(status="cancelled", claim=None, last_error=why, updated_at=now)
    )


# Who hears of it, and writing it down


def _directory(session: Any, settings: Settings, event_type: str, data: dict[str, Any]) -> Directory:
    hooks = {
        row.section: row
        for row in session.execute(
            sa.select(webhook_subscriptions.c.id, webhook_subscriptions.c.url, webhook_subscriptions.c.section).where(
                webhook_subscriptions.c.origin == "contacts", webhook_subscriptions.c.deleted_at.is_(None)
            )
        )
    }
    contacts = {
        row.code: SectionContact(
            row.code,
            row.name,
            row.email,
            row.status,
            hook=hooks[row.code].id if row.code in hooks else None,
            hook_url=hooks[row.code].url if row.code in hooks else None,
        )
        for row in session.execute(sa.select(sections))
    }
    subscriptions = [
        Subscription(row.id, row.url, frozenset(row.event_types or ()), row.section)
        for row in session.execute(
            sa.select(webhook_subscriptions)
            .where(webhook_subscriptions.c.origin == "api", webhook_subscriptions.c.deleted_at.is_(None))
            .order_by(webhook_subscriptions.c.created_at)
        )
    ]
    iec: dict[str, tuple[str, str | None]] = {}
    if event_type == "circular.issued" and data.get("audience") == "iec":
        iec = current_body_members(session, "iec")
    return Directory(contacts, iec, subscriptions, settings.centre_email)


def current_body_members(session: Any, kind: str) -> dict[str, tuple[str, str | None]]:
    """The members of the body of this kind that changed last, with what we know of them."""
    latest = session.scalar(
        sa.select(body_members.c.body_id)
        .where(body_members.c.kind == kind)
        .order_by(body_members.c.changed_at.desc())
        .limit(1)
    )
    if latest is None:
        return {}
    rows = session.execute(
        sa.select(body_members.c.member_id, members.c.name, members.c.email)
        .outerjoin(members, members.c.member_id == body_members.c.member_id)
        .where(body_members.c.body_id == latest)
    )
    return {row.member_id: (row.name or row.member_id, row.email) for row in rows}


def notify(uow: UnitOfWork, event: Envelope, settings: Settings) -> int:
    """Write what the rules say this event must be told to whom; returns how many recipients."""
    directory = _directory(uow.session, settings, event.type, event.data)
    recipients = routing.plan(event.type, event.data, directory)
    write_notifications(uow.session, event.to_wire(), recipients, settings)
    return len(recipients)


def write_notifications(
    session: Any, envelope: dict[str, Any], recipients: Iterable[Recipient], settings: Settings
) -> None:
    now = _now()
    event_id, event_type, data = envelope["event_id"], envelope["type"], envelope["data"]
    needs_envelope = False

    def delivery(notification_id: int, recipient: Recipient, channel: str, address: str, sub: str | None) -> None:
        _add_delivery(session, notification_id, event_id, event_type, recipient.key, channel, address, sub, settings)

    for recipient in recipients:
        rendered = render_notification(event_type, data, recipient.name, recipient.inbox)
        notification_id = session.execute(
            notifications.insert().values(
                recipient=recipient.key,
                event_id=event_id,
                event_type=event_type,
                subject=rendered.subject[:300],
                body=rendered.text,
                html=rendered.html,
                created_at=now,
            )
        ).inserted_primary_key[0]
        if recipient.email:
            delivery(notification_id, recipient, "email", recipient.email, None)
        elif recipient.key.startswith("member:"):
            log.warning("no email address known for %s: %s reaches them on no channel", recipient.key, event_type)
        if recipient.webhook and recipient.webhook_url:
            delivery(notification_id, recipient, "webhook", recipient.webhook_url, recipient.webhook)
            needs_envelope = True
    if needs_envelope and _get(session, notified_events, event_id) is None:
        session.execute(
            notified_events.insert().values(event_id=event_id, type=event_type, envelope=envelope, received_at=now)
        )


def _add_delivery(
    session: Any,
    notification_id: int,
    event_id: str,
    event_type: str,
    recipient: str,
    channel: str,
    address: str,
    subscription_id: str | None,
    settings: Settings,
) -> None:
    """One channel's pending delivery of a notice: the delivery worker sends it."""
    now = _now()
    session.execute(
        deliveries.insert().values(
            id=str(uuid.uuid4()),
            notification_id=notification_id,
            event_id=event_id,
            event_type=event_type,
            channel=channel,
            recipient=recipient,
            address=address,
            subscription_id=subscription_id,
            status="pending",
            attempts=0,
            attempt_limit=settings.max_attempts,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
    )


# The Centre's notices and the sections' inboxes


def _notice_view(row: Any) -> dict[str, Any]:
    return InboxNotificationView().dump({**row._mapping, "read": row.read_at is not None})


def list_notifications(store: Any, recipient: str) -> list[dict[str, Any]]:
    with store.session() as session:
        rows = session.execute(
            sa.select(notifications).where(notifications.c.recipient == recipient).order_by(notifications.c.id)
        )
        return [
            {
                "id": row.id,
                "recipient": row.recipient,
                "event_id": row.event_id,
                "event_type": row.event_type,
                "subject": row.subject,
                "body": row.body,
                "created_at": row.created_at.isoformat(),
                "read": row.read_at is not None,
            }
            for row in rows
        ]


def section_inbox(store: Any, actor: Actor, code: str, filters: Any = None) -> list[dict[str, Any]]:
    require_section(actor, code)
    wanted = load(InboxFilter(), filters or {})
    query = sa.select(notifications).where(notifications.c.recipient == routing.section_key(code))
    if wanted["unread"]:
        query = query.where(notifications.c.read_at.is_(None))
    with store.session() as session:
        rows = session.execute(query.order_by(notifications.c.id.desc()).limit(wanted["limit"])).all()
        return [_notice_view(row) for row in rows]


def mark_read(store: Any, actor: Actor, code: str, notification_id: int) -> dict[str, Any]:
    require_section(actor, code)
    mine = (notifications.c.id == int(notification_id), notifications.c.recipient == routing.section_key(code))
    with store.unit_of_work() as uow:
        row = uow.session.execute(sa.select(notifications).where(*mine)).first()
        if row is None:
            raise NotFound(f"section {code!r} has no notification {notification_id}")
        if row.read_at is None:
            uow.session.execute(notifications.update().where(*mine).values(read_at=_now()))
        uow.commit()
    with store.session() as session:
        return _notice_view(session.execute(sa.select(notifications).where(*mine)).one())


# Webhook subscriptions


def _webhook_view(row: Any, secret: str | None = None) -> dict[str, Any]:
    view = WebhookView().dump(row._mapping)
    view.pop("secret", None)
    if secret is not None:
        view["secret"] = secret
    return view


def register_webhook(store: Any, actor: Actor, payload: Any) -> dict[str, Any]:
    require_role(actor, "admin")
    request = load(WebhookRegistration(), payload)
    subscription_id, secret = str(uuid.uuid4()), signing.new_secret()
    with store.unit_of_work() as uow:
        uow.session.execute(
            webhook_subscriptions.insert().values(
                id=subscription_id,
                url=request["url"],
                secret=secret,
                event_types=sorted(set(request["event_types"])),
                section=request["section"],
                origin="api",
                description=request["description"],
                created_at=_now(),
            )
        )
        uow.commit()
    log.info("webhook subscription %s registered for %s", subscription_id, request["event_types"])
    return _webhook_view(_subscription(store, subscription_id), secret)


def _subscription(store: Any, subscription_id: str) -> Any:
    with store.session() as session:
        row = session.execute(
            sa.select(webhook_subscriptions).where(webhook_subscriptions.c.id == subscription_id)
        ).first()
    if row is None or row.deleted_at is not None:
        raise NotFound(f"no webhook subscription {subscription_id!r}")
    return row


def list_webhooks(store: Any, actor: Actor) -> list[dict[str, Any]]:
    require_role(actor, "admin")
    with store.session() as session:
        rows = session.execute(
            sa.select(webhook_subscriptions)
            .where(webhook_subscriptions.c.deleted_at.is_(None))
            .order_by(webhook_subscriptions.c.created_at)
        ).all()
    return [_webhook_view(row) for row in rows]


def delete_webhook(store: Any, actor: Actor, subscription_id: str) -> dict[str, Any]:
    require_role(actor, "admin")
    row = _subscription(store, subscription_id)
    if row.origin == "contacts":
        raise Conflict("a section's contact webhook follows its webhook_url: change the section's contacts instead", {})
    now = _now()
    with store.unit_of_work() as uow:
        uow.session.execute(
            webhook_subscriptions.update().where(webhook_subscriptions.c.id == subscription_id).values(deleted_at=now)
        )
        _cancel_pending(uow.session, subscription_id, "the subscription was deleted", now)
        uow.commit()
    return {**_webhook_view(row), "deleted": True}


def rotate_section_webhook_secret(store: Any, actor: Actor, code: str) -> dict[str, Any]:
    require_section(actor, code)
    secret = signing.new_secret()
    with store.unit_of_work() as uow:
        hook = uow.session.execute(
            sa.select(webhook_subscriptions).where(
                webhook_subscriptions.c.origin == "contacts",
                webhook_subscriptions.c.section == code,
                webhook_subscriptions.c.deleted_at.is_(None),
            )
        ).first()
        if hook is None:
            raise NotFound(f"section {code!r} has no webhook_url known to the Secretariat")
        uow.session.execute(
            webhook_subscriptions.update().where(webhook_subscriptions.c.id == hook.id).values(secret=secret)
        )
        uow.commit()
    log.info("section %s: contact webhook secret rotated", code)
    return _webhook_view(hook, secret)


# Deliveries


def _delivery_view(row: Any, attempts: list[Any] | None = None) -> dict[str, Any]:
    view = DeliveryView().dump(row._mapping)
    if attempts is None:
        view.pop("log", None)
    else:
        view["log"] = DeliveryView().dump({"log": [a._mapping for a in attempts]})["log"]
    return view


def list_deliveries(store: Any, actor: Actor, filters: Any = None) -> list[dict[str, Any]]:
    require_role(actor, "admin", "secretariat")
    wanted = load(DeliveryFilter(), filters or {})
    query = sa.select(deliveries)
    for field in ("status", "channel", "event_type", "recipient"):
        if field in wanted:
            query = query.where(deliveries.c[field] == wanted[field])
    with store.session() as session:
        rows = session.execute(query.order_by(deliveries.c.created_at.desc(), deliveries.c.id).limit(wanted["limit"]))
        return [_delivery_view(row) for row in rows]


def get_delivery(store: Any, actor: Actor, delivery_id: str) -> dict[str, Any]:
    require_role(actor, "admin", "secretariat")
    with store.session() as session:
        row = session.execute(sa.select(deliveries).where(deliveries.c.id == delivery_id)).first()
        if row is None:
            raise NotFound(f"no delivery {delivery_id!r}")
        attempts = session.execute(
            sa.select(delivery_attempts)
            .where(delivery_attempts.c.delivery_id == delivery_id)
            .order_by(delivery_attempts.c.attempt, delivery_attempts.c.id)
        ).all()
        return _delivery_view(row, attempts)


def retry_delivery(store: Any, actor: Actor, delivery_id: str, settings: Settings) -> dict[str, Any]:
    """Send a failed (or cancelled) delivery again, with a fresh budget of attempts."""
    require_role(actor, "admin", "secretariat")
    now = _now()
    with store.unit_of_work() as uow:
        row = uow.session.execute(sa.select(deliveries).where(deliveries.c.id == delivery_id).with_for_update()).first()
        if row is None:
            raise NotFound(f"no delivery {delivery_id!r}")
        if row.status == "delivered":
            raise Conflict(f"delivery {delivery_id} was delivered already", {})
        if row.status == "pending":
            raise Conflict(f"delivery {delivery_id} is still being attempted (attempt {row.attempts})", {})
        if row.subscription_id is not None:
            hook = _get(uow.session, webhook_subscriptions, row.subscription_id)
            if hook is None or hook.deleted_at is not None:
                raise Conflict("its webhook subscription was deleted; register it again", {})
        uow.session.execute(
            deliveries.update()
            .where(deliveries.c.id == delivery_id)
            .values(
                status="pending",
                claim=None,
                attempt_limit=row.attempts + settings.max_attempts,
                next_attempt_at=now,
                updated_at=now,
            )
        )
        uow.commit()
    log.info("delivery %s: retry asked by %s", delivery_id, actor.label)
    return get_delivery(store, actor, delivery_id)


# Circulars


def issue_circular(store: Any, actor: Actor, payload: Any, settings: Settings) -> dict[str, Any]:
    require_role(actor, "admin", "secretariat")
    request = load(CircularIssue(), payload)
    now, circular_id = _now(), str(uuid.uuid4())
    with store.unit_of_work() as uow:
        directory = _directory(uow.session, settings, "circular.issued", request)
        if request["audience"] == "sections":
            unknown = sorted(set(request["sections"]) - set(directory.sections))
            if unknown:
                raise InvalidInput("unknown sections", {"sections": [f"no section {code!r}" for code in unknown]})
        data = {
            "circular_id": circular_id,
            "title": request["title"],
            "body": request["body"],
            "audience": request["audience"],
            "sections": routing.circular_sections(request, directory),
            "recipients": 0,
            "issued_by": actor.label,
            "issued_at": now.isoformat(),
        }
        recipients = routing.plan("circular.issued", data, directory)
        addressed = [r for r in recipients if not r.key.startswith("webhook:")]
        if not addressed:
            raise Conflict(f"a circular to {request['audience']} has nobody to go to yet", {})
        data["recipients"] = len(addressed)
        envelope = uow.emit("circular.issued", data)
        uow.session.execute(
            circulars.insert().values(
                id=circular_id,
                title=data["title"],
                body=data["body"],
                audience=data["audience"],
                sections=data["sections"],
                recipients=data["recipients"],
                issued_by=data["issued_by"],
                issued_at=now,
                event_id=envelope.event_id,
            )
        )
        write_notifications(uow.session, envelope.to_wire(), recipients, settings)
        uow.commit()
    log.info("circular %s issued to %s (%d recipients)", circular_id, request["audience"], data["recipients"])
    return CircularView().dump({**data, "issued_at": now, "event_id": envelope.event_id, "id": circular_id})


def list_circulars(store: Any, actor: Actor) -> list[dict[str, Any]]:
    require_role(actor, "admin", "secretariat")
    with store.session() as session:
        rows = session.execute(sa.select(circulars).order_by(circulars.c.issued_at.desc())).all()
    return CircularView(many=True).dump([row._mapping for row in rows])


# Credentials


def deliver_credential(store: Any, mailer: SmtpMailer, payload: Any) -> dict[str, Any]:
    """Email a member their credential, now. The credential is kept nowhere and logged nowhere:
    only that an email went to the member, when, and how it went."""
    request = load(CredentialDelivery(), payload)
    credential = request["credential"]
    rendered = render_credential(request["name"], request["body_name"], credential)
    delivery_id, at = str(uuid.uuid4()), _now()
    started = time.monotonic()
    error: str | None = None
    code: int | None = 250
    try:
        mailer.send(request["email"], rendered.subject, rendered.text, rendered.html, message_id=delivery_id)
    except MailError as exc:
        error, code = str(exc).replace(credential, "[credential]"), exc.code
    with store.unit_of_work() as uow:
        uow.session.execute(
            credential_deliveries.insert().values(
                id=delivery_id,
                member_id=request["member_id"],
                attempted_at=at,
                outcome="failed" if error else "delivered",
                status_code=code,
                error=error,
            )
        )
        data = {
            "delivery_id": delivery_id,
            "notification_id": None,
            "channel": "email",
            "recipient": routing.member_key(request["member_id"]),
            "event_type": "credential",
            "event_id": None,
            "attempts": 1,
        }
        uow.emit(
            "notification.failed" if error else "notification.delivered", data | ({"error": error} if error else {})
        )
        uow.commit()
    elapsed = int((time.monotonic() - started) * 1000)
    if error:
        log.warning("credential email to member %s not accepted after %d ms: %s", request["member_id"], elapsed, error)
        raise CredentialNotDelivered(f"the credential email to member {request['member_id']} was not sent: {error}")
    log.info("credential email sent to member %s in %d ms", request["member_id"], elapsed)
    return {"delivered": True}
