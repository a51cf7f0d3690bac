"""nameko entrypoints of the secretariat service: thin, every rule lives in handlers and domain."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from congress.actors import Actor
from congress.contract import Envelope
from congress.errors import InvalidInput
from congress.keys import SERVICE_KEY
from congress.messaging.nameko_edge import EventLog, LogContext, RequireKeys, Store, idempotent, rpc, subscribe
from congress.messaging.store import UnitOfWork
from secretariat import handlers
from secretariat.domain.notices import CENTRE
from secretariat.postman import Postman


def wakes_postman(handler: Callable[[Any, dict[str, Any]], Any]) -> Callable[[Any, dict[str, Any]], Any]:
    """Wake the delivery worker once the event's unit of work has committed (not before it)."""

    @functools.wraps(handler)  # keeps the @idempotent mark the @subscribe entrypoint checks
    def run(self: Any, payload: dict[str, Any]) -> Any:
        result = handler(self, payload)
        self.postman.wake()
        return result

    return run


class SecretariatService(EventLog):
    name = "secretariat"

    store = Store()
    postman = Postman()
    log_context = LogContext()
    required_keys = RequireKeys(SERVICE_KEY)

    # What the sections service tells us

    @subscribe("sections", "section.registered")
    @wakes_postman
    @idempotent
    def on_section_registered(self, uow: UnitOfWork, event: Envelope) -> None:
        handlers.section_registered(uow, event, self.postman.settings)

    @subscribe("sections", "section.updated")
    @wakes_postman
    @idempotent
    def on_section_updated(self, uow: UnitOfWork, event: Envelope) -> None:
        handlers.section_updated(uow, event, self.postman.settings)

    @subscribe("sections", "section.status_changed")
    @wakes_postman
    @idempotent
    def on_section_status_changed(self, uow: UnitOfWork, event: Envelope) -> None:
        handlers.section_status_changed(uow, event, self.postman.settings)

    @subscribe("sections", "delegate.nominated")
    @idempotent
    def on_delegate_nominated(self, uow: UnitOfWork, event: Envelope) -> None:
        handlers.delegate_nominated(uow, event)

    # What the voting service tells us

    @subscribe("voting", "delegate.accredited")
    @idempotent
    def on_delegate_accredited(self, uow: UnitOfWork, event: Envelope) -> None:
        handlers.delegate_accredited(uow, event, self.postman.settings)

    @subscribe("voting", "body.membership_changed")
    @wakes_postman
    @idempotent
    def on_body_membership_changed(self, uow: UnitOfWork, event: Envelope) -> None:
        handlers.body_membership_changed(uow, event, self.postman.settings)

    @subscribe("voting", "congress.convened")
    @wakes_postman
    @idempotent
    def on_congress_convened(self, uow: UnitOfWork, event: Envelope) -> None:
        handlers.notify(uow, event, self.postman.settings)

    @subscribe("voting", "motion.decided")
    @wakes_postman
    @idempotent
    def on_motion_decided(self, uow: UnitOfWork, event: Envelope) -> None:
        handlers.notify(uow, event, self.postman.settings)

    @subscribe("voting", "election.result_declared")
    @wakes_postman
    @idempotent
    def on_election_result_declared(self, uow: UnitOfWork, event: Envelope) -> None:
        handlers.notify(uow, event, self.postman.settings)

    # The Centre's notices and the sections' inboxes

    @rpc
    def list_notifications(self, recipient: str = CENTRE) -> list[dict[str, Any]]:
        return handlers.list_notifications(self.store, recipient)

    @rpc
    def section_inbox(self, actor: dict, code: str, filters: dict | None = None) -> list[dict[str, Any]]:
        return handlers.section_inbox(self.store, Actor.from_wire(actor), code, filters)

    @rpc
    def mark_read(self, actor: dict, code: str, notification_id: int) -> dict[str, Any]:
        return handlers.mark_read(self.store, Actor.from_wire(actor), code, notification_id)

    # Webhook subscriptions

    @rpc
    def register_webhook(self, actor: dict, payload: Any) -> dict[str, Any]:
        return handlers.register_webhook(self.store, Actor.from_wire(actor), payload)

    @rpc
    def list_webhooks(self, actor: dict) -> list[dict[str, Any]]:
        return handlers.list_webhooks(self.store, Actor.from_wire(actor))

    @rpc
    def delete_webhook(self, actor: dict, subscription_id: str) -> dict[str, Any]:
        return handlers.delete_webhook(self.store, Actor.from_wire(actor), subscription_id)

    @rpc
    def rotate_section_webhook_secret(self, actor: dict, code: str) -> dict[str, Any]:
        return handlers.rotate_section_webhook_secret(self.store, Actor.from_wire(actor), code)

    # Deliveries

    @rpc
    def list_deliveries(self, actor: dict, filters: dict | None = None) -> list[dict[str, Any]]:
        return handlers.list_deliveries(self.store, Actor.from_wire(actor), filters)

    @rpc
    def get_delivery(self, actor: dict, delivery_id: str) -> dict[str, Any]:
        return handlers.get_delivery(self.store, Actor.from_wire(actor), delivery_id)

    @rpc
    def retry_delivery(self, actor: dict, delivery_id: str) -> dict[str, Any]:
        view = handlers.retry_delivery(self.store, Actor.from_wire(actor), delivery_id, self.postman.settings)
        self.postman.wake()
        return view

    # Circulars

    @rpc
    def issue_circular(self, actor: dict, payload: Any) -> dict[str, Any]:
        view = handlers.issue_circular(self.store, Actor.from_wire(actor), payload, self.postman.settings)
        self.postman.wake()
        return view

    @rpc
    def list_circulars(self, actor: dict) -> list[dict[str, Any]]:
        return handlers.list_circulars(self.store, Actor.from_wire(actor))

    # Credentials (called by the voting service at accreditation; never over HTTP)

    @rpc(callers=("voting",), expected_exceptions=(handlers.CredentialNotDelivered, InvalidInput))
    def deliver_credential(self, payload: dict[str, Any]) -> dict[str, bool]:
        """Email `{"member_id", "name", "email", "body_name", "credential"}` now; `{"delivered": true}`."""
        return handlers.deliver_credential(self.store, self.postman.mailer, payload)
