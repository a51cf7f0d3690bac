"""nameko entrypoints of the voting service (runs as N replicas behind one RPC queue)."""

from __future__ import annotations

from typing import Any

from nameko.rpc import rpc

from congress.contract import Envelope
from congress.messaging.nameko_edge import LogContext, Store, idempotent, subscribe
from congress.messaging.store import UnitOfWork, read_outbox
from voting import handlers


class VotingService:
    name = "voting"

    store = Store()
    log_context = LogContext()

    @rpc
    def ping(self) -> str:
        return "pong"

    @subscribe("sections", "section.registered")
    @idempotent
    def on_section_registered(self, uow: UnitOfWork, event: Envelope) -> None:
        handlers.section_registered(uow, event)

    @rpc
    def list_known_sections(self) -> list[dict[str, Any]]:
        return handlers.list_known_sections(self.store)

    @rpc
    def replay_events(self, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        return read_outbox(self.store.engine, after=int(after), limit=min(int(limit), 1000))
