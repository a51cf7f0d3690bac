"""nameko entrypoints of the sections service: thin, every rule lives in handlers and domain."""

from __future__ import annotations

from typing import Any

from congress.actors import Actor
from congress.keys import SERVICE_KEY
from congress.messaging.nameko_edge import EventLog, LogContext, RequireKeys, Store, rpc
from sections import handlers


class SectionsService(EventLog):
    name = "sections"

    store = Store()
    log_context = LogContext()
    required_keys = RequireKeys(SERVICE_KEY)

    @rpc
    def register_section(self, actor: dict, payload: Any) -> dict[str, Any]:
        return handlers.register_section(self.store, Actor.from_wire(actor), payload)

    @rpc
    def get_section(self, code: str) -> dict[str, Any]:
        return handlers.get_section(self.store, code)

    @rpc
    def list_sections(self, filters: dict | None = None) -> list[dict[str, Any]]:
        return handlers.list_sections(self.store, filters)

    @rpc
    def update_contacts(self, actor: dict, code: str, payload: Any) -> dict[str, Any]:
        return handlers.update_contacts(self.store, Actor.from_wire(actor), code, payload)

    @rpc
    def change_status(self, actor: dict, code: str, payload: Any) -> dict[str, Any]:
        return handlers.change_status(self.store, Actor.from_wire(actor), code, payload)

    @rpc
    def file_return(self, actor: dict, code: str, payload: Any) -> dict[str, Any]:
        return handlers.file_return(self.store, Actor.from_wire(actor), code, payload)

    @rpc
    def list_returns(self, actor: dict, code: str) -> list[dict[str, Any]]:
        return handlers.list_returns(self.store, Actor.from_wire(actor), code)

    @rpc
    def calculate_apportionment(self, actor: dict, payload: Any) -> dict[str, Any]:
        return handlers.calculate_apportionment(self.store, Actor.from_wire(actor), payload)

    @rpc
    def get_apportionment(self, apportionment_id: str) -> dict[str, Any]:
        return handlers.get_apportionment(self.store, apportionment_id)

    @rpc
    def list_apportionments(self) -> list[dict[str, Any]]:
        return handlers.list_apportionments(self.store)

    @rpc
    def nominate(self, actor: dict, code: str, payload: Any) -> dict[str, Any]:
        return handlers.nominate(self.store, Actor.from_wire(actor), code, payload)

    @rpc
    def withdraw_nomination(self, actor: dict, code: str, nomination_id: str) -> dict[str, Any]:
        return handlers.withdraw_nomination(self.store, Actor.from_wire(actor), code, nomination_id)

    @rpc
    def list_nominations(self, actor: dict, code: str, apportionment_id: str | None = None) -> list[dict[str, Any]]:
        return handlers.list_nominations(self.store, Actor.from_wire(actor), code, apportionment_id)

    @rpc
    def issue_officer_token(self, actor: dict, code: str, payload: Any = None) -> dict[str, Any]:
        return handlers.issue_officer_token(self.store, Actor.from_wire(actor), code, payload)

    @rpc
    def issue_token(self, actor: dict, payload: Any) -> dict[str, Any]:
        return handlers.issue_token(self.store, Actor.from_wire(actor), payload)

    @rpc
    def list_tokens(self, actor: dict, filters: dict | None = None) -> list[dict[str, Any]]:
        return handlers.list_tokens(self.store, Actor.from_wire(actor), filters)

    @rpc
    def revoke_token(self, actor: dict, token_id: str) -> dict[str, Any]:
        return handlers.revoke_token(self.store, Actor.from_wire(actor), token_id)

    @rpc(callers=("gateway",))
    def identify(self, presented_hash: str) -> dict[str, Any] | None:
        return handlers.identify(self.store, presented_hash)
