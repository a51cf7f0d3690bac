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

    @rpc
    def list_known_sections(self) -> list[dict[str, Any]]:
        return handlers.list_known_sections(self.store)
