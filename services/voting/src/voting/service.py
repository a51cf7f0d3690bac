"""nameko entrypoints of the voting service (runs as N replicas behind one RPC queue)."""

from __future__ import annotations

import logging
from typing import Any

import eventlet

from congress import keys
from congress.actors import Actor
from congress.contract import Envelope
from congress.messaging.nameko_edge import (
    EventLog,
    LogContext,
    RequireKeys,
    RpcProxy,
    Store,
    idempotent,
    rpc,
    subscribe,
)
from congress.messaging.store import UnitOfWork, retry_transient
from congress.rpc import call
from voting import balloting, elections, handlers
from voting import congress as congresses

log = logging.getLogger(__name__)


class VotingService(EventLog):
    name = "voting"

    store = Store()
    required_keys = RequireKeys(keys.SERVICE_KEY, keys.BALLOT_KEY, keys.RECORD_SIGNING_KEY)
    log_context = LogContext()
    secretariat = RpcProxy("secretariat")

    def _deliver(self, issued: dict[str, Any], body_name: str) -> dict[str, Any]:
        """Hand a new credential to the Secretariat, which emails it; the answer says whether it went.

        After the commit on purpose: a failed delivery must not undo an accreditation (the admin
        sees the credential once, e.g. at the accreditation desk, and can reissue it to resend)."""
        try:
            call(
                self.secretariat.deliver_credential,
                {
                    "member_id": issued["id"],
                    "name": issued["name"],
                    "email": issued["email"],
                    "body_name": body_name,
                    "credential": issued["credential"],
                },
                timeout=40,  # longer than the secretariat's SMTP timeout (30 s),
            )
            return {**issued, "credential_delivery": "sent"}
        except Exception as exc:  # any failure is reported to the admin, none raised
            return {**issued, "credential_delivery": f"failed: {type(exc).__name__}"}

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

    # Congresses

    @rpc
    def schedule_congress(self, actor: dict, payload: Any) -> dict[str, Any]:
        return congresses.schedule_congress(self.store, Actor.from_wire(actor), payload)

    @rpc
    def convene_congress(self, actor: dict, congress_id: str, payload: Any = None) -> dict[str, Any]:
        return congresses.convene_congress(self.store, Actor.from_wire(actor), congress_id, payload)

    @rpc
    def set_congress_status(self, actor: dict, congress_id: str, status: str) -> dict[str, Any]:
        return congresses.set_congress_status(self.store, Actor.from_wire(actor), congress_id, status)

    @rpc
    def get_congress(self, congress_id: str) -> dict[str, Any]:
        return congresses.get_congress(self.store, congress_id)

    @rpc
    def list_congresses(self) -> list[dict[str, Any]]:
        return congresses.list_congresses(self.store)

    # Bodies, members and credentials

    @rpc
    def create_body(self, actor: dict, payload: Any) -> dict[str, Any]:
        return congresses.create_body(self.store, Actor.from_wire(actor), payload)

    @rpc
    def get_body(self, body_id: str) -> dict[str, Any]:
        return congresses.get_body(self.store, body_id)

    @rpc
    def list_bodies(self) -> list[dict[str, Any]]:
        return congresses.list_bodies(self.store)

    @rpc
    def list_members(self, body_id: str) -> list[dict[str, Any]]:
        return congresses.list_members(self.store, body_id)

    @rpc
    def add_member(self, actor: dict, body_id: str, payload: Any) -> dict[str, Any]:
        added = congresses.add_member(self.store, Actor.from_wire(actor), body_id, payload)
        if "credential" not in added:
            return added
        return self._deliver(added, congresses.get_body(self.store, body_id)["name"])

    @rpc
    def accredit(self, actor: dict, body_id: str, member_id: str, payload: Any = None) -> dict[str, Any]:
        accredited = congresses.accredit(self.store, Actor.from_wire(actor), body_id, member_id, payload)
        return self._deliver(accredited, congresses.get_body(self.store, body_id)["name"])

    @rpc
    def reissue_credential(self, actor: dict, member_id: str) -> dict[str, Any]:
        reissued = congresses.reissue_credential(self.store, Actor.from_wire(actor), member_id)
        return self._deliver(reissued, reissued.pop("bodies"))

    @rpc
    def revoke_credential(self, actor: dict, member_id: str) -> dict[str, Any]:
        return congresses.revoke_credential(self.store, Actor.from_wire(actor), member_id)

    @rpc
    def record_public_key(self) -> dict[str, str]:
        return {
            "record_signing_key": keys.public_key_text(keys.record_signing_key().public_key()),
            "algorithm": "Ed25519",
        }

    @rpc(callers=("gateway",))
    @retry_transient()
    def identify(self, presented_hash: str) -> dict[str, Any] | None:
        return congresses.identify(self.store, presented_hash)

    # Motions and ballots

    @rpc
    def table_motion(self, actor: dict, body_id: str, payload: Any) -> dict[str, Any]:
        return balloting.table_motion(self.store, Actor.from_wire(actor), body_id, payload)

    @rpc
    def get_motion(self, motion_id: str) -> dict[str, Any]:
        return balloting.get_motion(self.store, motion_id)

    @rpc
    def list_motions(self, body_id: str) -> list[dict[str, Any]]:
        return balloting.list_motions(self.store, body_id)

    @rpc
    def open_motion_ballot(self, actor: dict, motion_id: str, payload: Any = None) -> dict[str, Any]:
        return balloting.open_motion_ballot(self.store, Actor.from_wire(actor), motion_id, payload)

    @rpc
    @retry_transient()
    def cast_vote(self, actor: dict, ballot_id: str, payload: Any, receipt_key: str) -> dict[str, Any]:
        return balloting.cast_vote(self.store, Actor.from_wire(actor), ballot_id, payload, receipt_key)

    @rpc(callers=("gateway",))
    @retry_transient()
    def cast_vote_with_credential(
        self, presented_hash: str, ballot_id: str, payload: Any, receipt_key: str
    ) -> dict[str, Any]:
        """A delegate's vote in one call: the gateway passes the credential's hash, not who it is."""
        return balloting.cast_vote_with_credential(self.store, presented_hash, ballot_id, payload, receipt_key)

    @rpc(callers=("gateway",))
    @retry_transient()
    def cast_votes(self, votes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Delegates' votes the gateway gathered, in one transaction; an answer per vote, in order."""
        return balloting.cast_votes(self.store, votes)

    @rpc
    @retry_transient()
    def close_ballot(self, actor: dict, ballot_id: str) -> dict[str, Any]:
        closing = balloting.close_ballot(self.store, Actor.from_wire(actor), ballot_id)
        if closing.closed_here:
            eventlet.spawn_n(balloting.vacuum, self.store.engine)
        # An election that filled a body gave credentials to members who held none: the Secretariat
        # emails each, as at accreditation, so they vote there with no admin step. At once, so that
        # a slow mail server costs one SMTP timeout, not one per member.
        pool = eventlet.GreenPool(8)
        for sent in pool.imap(lambda issued: self._deliver(issued, issued["body_name"]), closing.issued):
            log.info("credential for member %s of %s: %s", sent["id"], sent["body_name"], sent["credential_delivery"])
        return closing.ballot

    @rpc
    @retry_transient()
    def get_ballot(self, ballot_id: str) -> dict[str, Any]:
        return balloting.get_ballot(self.store, ballot_id)

    @rpc
    @retry_transient()
    def get_record(self, ballot_id: str) -> dict[str, Any]:
        return balloting.get_record(self.store, ballot_id)

    # Elections

    @rpc
    def create_election(self, actor: dict, body_id: str, payload: Any) -> dict[str, Any]:
        return elections.create_election(self.store, Actor.from_wire(actor), body_id, payload)

    @rpc
    def get_election(self, election_id: str) -> dict[str, Any]:
        return elections.get_election(self.store, election_id)

    @rpc
    def list_elections(self, body_id: str) -> list[dict[str, Any]]:
        return elections.list_elections(self.store, body_id)

    @rpc
    def nominate_candidate(self, actor: dict, election_id: str, payload: Any) -> dict[str, Any]:
        return elections.nominate_candidate(self.store, Actor.from_wire(actor), election_id, payload)

    @rpc
    def withdraw_candidate(self, actor: dict, election_id: str, candidate_id: str) -> dict[str, Any]:
        return elections.withdraw_candidate(self.store, Actor.from_wire(actor), election_id, candidate_id)

    @rpc
    def open_election_ballot(self, actor: dict, election_id: str, payload: Any = None) -> dict[str, Any]:
        ballot_id = elections.open_election_ballot(self.store, Actor.from_wire(actor), election_id, payload)
        return balloting.get_ballot(self.store, ballot_id)
