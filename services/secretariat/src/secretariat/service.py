"""nameko entrypoints of the secretariat service."""

from __future__ import annotations

from typing import Any

from nameko.rpc import rpc

from congress.contract import Envelope
from congress.messaging.nameko_edge import EventLog, LogContext, Store, idempotent, subscribe
from congress.messaging.store import UnitOfWork
from secretariat import handlers
from secretariat.domain.notices import CENTRE


class SecretariatService(EventLog):
    name = "secretariat"

    store = Store()
    log_context = LogContext()

    @subscribe("sections", "section.registered")
    @idempotent
    def on_section_registered(self, uow: UnitOfWork, event: Envelope) -> None:
        handlers.section_registered(uow, event)

    @rpc
    def list_notifications(self, recipient: str = CENTRE) -> list[dict[str, Any]]:
        return handlers.list_notifications(self.store, recipient)
