"""nameko entrypoints of the sections service: thin, every rule lives in handlers and domain."""

from __future__ import annotations

from typing import Any

from nameko.rpc import rpc

from congress.messaging.nameko_edge import LogContext, Store
from congress.messaging.store import read_outbox
from sections import handlers


class SectionsService:
    name = "sections"

    store = Store()
    log_context = LogContext()

    @rpc
    def ping(self) -> str:
        return "pong"

    @rpc
    def register_section(self, payload: Any) -> dict[str, Any]:
        return handlers.register_section(self.store, payload)

    @rpc
    def get_section(self, code: str) -> dict[str, Any]:
        return handlers.get_section(self.store, code)

    @rpc
    def list_sections(self) -> list[dict[str, Any]]:
        return handlers.list_sections(self.store)

    @rpc
    def replay_events(self, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        return read_outbox(self.store.engine, after=int(after), limit=min(int(limit), 1000))
