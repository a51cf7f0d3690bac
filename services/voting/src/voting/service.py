"""nameko entrypoints of the voting service (runs as N replicas behind one RPC queue)."""

from __future__ import annotations

from typing import Any

from nameko.rpc import rpc

from congress.contract import Envelope
from congress.messaging.nameko_edge import EventLog, LogContext, Store, idempotent, subscribe
from congress.messaging.store import UnitOfWork
from voting import handlers


class VotingService(EventLog):
    name = "voting"

    store = Store()
    log_context = LogContext()

    @subscribe("sections", "section.registered")
    @idempotent
    def on_section_registered(self, uow: UnitOfWork, event: Envelope) -> None:
        handlers.section_registered(uow, event)

    @subscribe("sections", "section.status_changed")
    @idempotent
    def on_section_status_changed(self, uow: UnitOfWork, event: Envelope) -> None:
        handlers.section_status_changed(uow, event)

    @subscribe("sections", "apportionment.calculated")
    @idempotent
    def on_apportionment_calculated(self, uow: UnitOfWork, event: Envelope) -> None:
        handlers.apportionment_calculated(uow, event)

    @subscribe("sections", "delegate.nominated")
    @idempotent
    def on_delegate_nominated(self, uow: UnitOfWork, event: Envelope) -> None:
        handlers.delegate_nominated(uow, event)

    @subscribe("sections", "delegate.withdrawn")
    @idempotent
    def on_delegate_withdrawn(self, uow: UnitOfWork, event: Envelope) -> None:
        handlers.delegate_withdrawn(uow, event)

    @rpc
    def list_known_sections(self) -> list[dict[str, Any]]:
        return handlers.list_known_sections(self.store)
