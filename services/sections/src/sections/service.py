"""nameko entrypoints of the sections service: thin, every rule lives in handlers and domain."""

from __future__ import annotations

from typing import Any

from nameko.rpc import rpc

from congress.messaging.nameko_edge import EventLog, LogContext, Store
from sections import handlers


class SectionsService(EventLog):
    name = "sections"

    store = Store()
    log_context = LogContext()

    @rpc
    def register_section(self, payload: Any) -> dict[str, Any]:
        return handlers.register_section(self.store, payload)

    @rpc
    def get_section(self, code: str) -> dict[str, Any]:
        return handlers.get_section(self.store, code)

    @rpc
    def list_sections(self) -> list[dict[str, Any]]:
        return handlers.list_sections(self.store)
