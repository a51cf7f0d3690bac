"""The gateway's HTTP API. Each route: authenticate, check the role, call the owning service
by RPC (which checks again), answer. The OpenAPI document lists the same routes (openapi.py)."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from congress import __version__
from congress.actors import Actor, require_role, require_section
from congress.contract.api import EventReplayQuery, load
from congress.contract.asyncapi import asyncapi_document
from congress.errors import Forbidden, NotAuthenticated, NotFound
from congress.keys import SERVICE_KEY
from congress.messaging.nameko_edge import LogContext, RequireKeys, RpcProxy
from congress.metrics import exposition
from congress.rpc import ServiceUnavailable, call
from gateway.auth import TokenBook, presented_token, receipt_key, token_hash
from gateway.http import api, json_response, optional_json, read_json
from gateway.openapi import openapi_document
from gateway.pages import HallPages

BACKENDS = ("sections", "voting", "secretariat")
ANYONE = ("admin", "secretariat", "section_officer", "delegate", "observer")
CREDENTIAL_PREFIX = "dc_"
STAFF = ("admin", "secretariat")
PUBLIC_EVENTS = {
    "congress.scheduled",
    "congress.convened",
    "congress.in_session",
    "congress.closed",
    "motion.tabled",
    "ballot.opened",
    "vote.recorded",
    "ballot.closed",
    "motion.decided",
    "election.result_declared",
    "apportionment.calculated",
}  # not circulars: they are addressed to sections or to the IEC, not to the hall


def without_emails(people: list[dict]) -> list[dict]:
    """Delegates' and members' addresses are for the Centre and their own section, not for everyone."""
    return [{key: value for key, value in person.items() if key != "email"} for person in people]


class GatewayService(HallPages):
    name = "gateway"

    sections = RpcProxy("sections")
    voting = RpcProxy("voting")
    secretariat = RpcProxy("secretariat")
    log_context = LogContext()
    required_keys = RequireKeys(SERVICE_KEY)

    tokens = TokenBook.from_environment()

    def _actor(self, request: Request) -> Actor:
        presented = token_hash(presented_token(request.headers.get("Authorization")))
        actor = self.tokens.find(presented)
        if actor is not None:
            return actor
        # Credentials of delegates and IEC/IS members live in voting, officers' tokens in sections.
        credential = presented_token(request.headers.get("Authorization")).startswith(CREDENTIAL_PREFIX)
        known = call((self.voting if credential else self.sections).identify, presented)
        if known is None:
            raise NotAuthenticated("the bearer token is not valid (unknown or revoked)")
        if known.get("revoked"):
            raise Forbidden("your credential has been revoked; ask the Secretariat for a new one")
        return Actor.from_wire(known)

    def _as(self, request: Request, *roles: str) -> Actor:
        actor = self._actor(request)
        require_role(actor, *roles)
        return actor

    def _for_section(self, request: Request, code: str) -> Actor:
        actor = self._actor(request)
        require_section(actor, code)
        return actor

    # Platform

    @api("GET", "/health")
    def health(self, request: Request) -> Response:
        services = {}
        for backend in BACKENDS:
            try:
                call(getattr(self, backend).ping, timeout=3.0)
                services[backend] = "ok"
            except ServiceUnavailable as exc:
                services[backend] = str(exc)
        healthy = all(state == "ok" for state in services.values())
        return json_response(
            {"status": "ok" if healthy else "degraded", "version": __version__, "services": services},
            200 if healthy else 503,
        )

    @api("GET", "/metrics")
    def metrics(self, request: Request) -> Response:
        body, content_type = exposition()
        return Response(body, status=200, content_type=content_type)

    @api("GET", "/api/openapi.json")
    def openapi(self, request: Request) -> Response:
        return json_response(openapi_document())

    @api("GET", "/api/v1/keys")
    def public_keys(self, request: Request) -> Response:
        """The public key that verifies every published ballot record (`congress count ballot`)."""
        return json_response(call(self.voting.record_public_key))

    @api("GET", "/api/asyncapi.json")
    def asyncapi(self, request: Request) -> Response:
        return json_response(asyncapi_document())

    @api("GET", "/api/v1/events/<string:producer>")
    def replay_events(self, request: Request, producer: str) -> Response:
        """A producer's event log from a position on, for subscribers that were down or join late."""
        actor = self._as(request, *STAFF, "observer")
        if producer not in BACKENDS:
            raise NotFound(f"no producer {producer!r}; producers are {', '.join(BACKENDS)}")
        wanted = {key: value for key, value in request.args.items() if key in ("after", "limit", "types")}
        query = load(EventReplayQuery(), wanted)  # strict ASCII integers, in range
        after, limit = query["after"], query["limit"]
        types = [t for t in query["types"].split(",") if t] or None
        if actor.role == "observer":
            # Observers (a hall projector, say) read public results, not emails or webhook URLs.
            types = sorted(set(types or PUBLIC_EVENTS) & PUBLIC_EVENTS) or ["-"]
        entries = call(getattr(self, producer).replay_events, after, limit, types)
        return json_response({"events": entries, "next_after": entries[-1]["position"] if entries else after})

    # Sections

    @api("POST", "/api/v1/sections")
    def register_section(self, request: Request) -> Response:
        actor = self._as(request, "admin")
        section = call(self.sections.register_section, actor.to_wire(), read_json(request))
        return json_response(section, 201, {"Location": f"/api/v1/sections/{section['code']}"})

    @api("GET", "/api/v1/sections")
    def list_sections(self, request: Request) -> Response:
        self._as(request, *ANYONE)
        return json_response({"sections": call(self.sections.list_sections, dict(request.args))})

    @api("GET", "/api/v1/sections/<string:code>")
    def get_section(self, request: Request, code: str) -> Response:
        self._as(request, *ANYONE)
        return json_response(call(self.sections.get_section, code))

    @api("PATCH", "/api/v1/sections/<string:code>")
    def update_section(self, request: Request, code: str) -> Response:
        actor = self._for_section(request, code)
        return json_response(call(self.sections.update_contacts, actor.to_wire(), code, read_json(request)))

    @api("POST", "/api/v1/sections/<string:code>/status")
    def change_status(self, request: Request, code: str) -> Response:
        actor = self._as(request, "admin")
        return json_response(call(self.sections.change_status, actor.to_wire(), code, read_json(request)))

    @api("POST", "/api/v1/sections/<string:code>/officer-tokens")
    def issue_officer_token(self, request: Request, code: str) -> Response:
        actor = self._as(request, "admin")
        body = optional_json(request)
        return json_response(call(self.sections.issue_officer_token, actor.to_wire(), code, body), 201)

    @api("GET", "/api/v1/sections/<string:code>/officer-tokens")
    def list_officer_tokens(self, request: Request, code: str) -> Response:
        actor = self._for_section(request, code)
        found = call(self.sections.list_tokens, actor.to_wire(), {"role": "section_officer", "section": code})
        return json_response({"tokens": found})

    @api("DELETE", "/api/v1/officer-tokens/<string:token_id>")
    def revoke_officer_token(self, request: Request, token_id: str) -> Response:
        actor = self._as(request, "admin")
        return json_response(call(self.sections.revoke_token, actor.to_wire(), token_id))

    # Tokens of every role

    @api("POST", "/api/v1/tokens")
    def issue_token(self, request: Request) -> Response:
        actor = self._as(request, "admin")
        return json_response(call(self.sections.issue_token, actor.to_wire(), read_json(request)), 201)

    @api("GET", "/api/v1/tokens")
    def list_tokens(self, request: Request) -> Response:
        actor = self._as(request, "admin")
        return json_response({"tokens": call(self.sections.list_tokens, actor.to_wire(), dict(request.args))})

    @api("DELETE", "/api/v1/tokens/<string:token_id>")
    def revoke_token(self, request: Request, token_id: str) -> Response:
        actor = self._as(request, "admin")
        return json_response(call(self.sections.revoke_token, actor.to_wire(), token_id))

    # Membership returns

    @api("POST", "/api/v1/sections/<string:code>/returns")
    def file_return(self, request: Request, code: str) -> Response:
        actor = self._for_section(request, code)
        return json_response(call(self.sections.file_return, actor.to_wire(), code, read_json(request)), 201)

    @api("GET", "/api/v1/sections/<string:code>/returns")
    def list_returns(self, request: Request, code: str) -> Response:
        actor = self._as(request, *ANYONE)
        return json_response({"returns": call(self.sections.list_returns, actor.to_wire(), code)})

    # Apportionments

    @api("POST", "/api/v1/apportionments")
    def calculate_apportionment(self, request: Request) -> Response:
        actor = self._as(request, "admin")
        result = call(self.sections.calculate_apportionment, actor.to_wire(), read_json(request), timeout=30)
        return json_response(result, 201, {"Location": f"/api/v1/apportionments/{result['id']}"})

    @api("GET", "/api/v1/apportionments")
    def list_apportionments(self, request: Request) -> Response:
        self._as(request, *ANYONE)
        return json_response({"apportionments": call(self.sections.list_apportionments)})

    @api("GET", "/api/v1/apportionments/<string:apportionment_id>")
    def get_apportionment(self, request: Request, apportionment_id: str) -> Response:
        self._as(request, *ANYONE)
        return json_response(call(self.sections.get_apportionment, apportionment_id))

    # Nominations

    @api("POST", "/api/v1/sections/<string:code>/nominations")
    def nominate(self, request: Request, code: str) -> Response:
        actor = self._for_section(request, code)
        return json_response(call(self.sections.nominate, actor.to_wire(), code, read_json(request)), 201)

    @api("GET", "/api/v1/sections/<string:code>/nominations")
    def list_nominations(self, request: Request, code: str) -> Response:
        actor = self._as(request, *ANYONE)
        found = call(self.sections.list_nominations, actor.to_wire(), code, request.args.get("apportionment_id"))
        own_officer = actor.role == "section_officer" and actor.section == code
        return json_response({"nominations": found if actor.role in STAFF or own_officer else without_emails(found)})

    @api("POST", "/api/v1/sections/<string:code>/nominations/<string:nomination_id>/withdraw")
    def withdraw_nomination(self, request: Request, code: str, nomination_id: str) -> Response:
        actor = self._for_section(request, code)
        return json_response(call(self.sections.withdraw_nomination, actor.to_wire(), code, nomination_id))

    # Congresses, bodies and accreditation

    @api("POST", "/api/v1/congresses")
    def schedule_congress(self, request: Request) -> Response:
        actor = self._as(request, "admin")
        return json_response(call(self.voting.schedule_congress, actor.to_wire(), read_json(request)), 201)

    @api("GET", "/api/v1/congresses")
    def list_congresses(self, request: Request) -> Response:
        self._as(request, *ANYONE)
        return json_response({"congresses": call(self.voting.list_congresses)})

    @api("GET", "/api/v1/congresses/<string:congress_id>")
    def get_congress(self, request: Request, congress_id: str) -> Response:
        self._as(request, *ANYONE)
        return json_response(call(self.voting.get_congress, congress_id))

    @api("POST", "/api/v1/congresses/<string:congress_id>/convene")
    def convene_congress(self, request: Request, congress_id: str) -> Response:
        actor = self._as(request, "admin")
        body = optional_json(request)
        return json_response(call(self.voting.convene_congress, actor.to_wire(), congress_id, body, timeout=30))

    @api("POST", "/api/v1/congresses/<string:congress_id>/session")
    def open_session(self, request: Request, congress_id: str) -> Response:
        actor = self._as(request, "admin")
        return json_response(call(self.voting.set_congress_status, actor.to_wire(), congress_id, "in_session"))

    @api("POST", "/api/v1/congresses/<string:congress_id>/close")
    def close_congress(self, request: Request, congress_id: str) -> Response:
        actor = self._as(request, "admin")
        return json_response(call(self.voting.set_congress_status, actor.to_wire(), congress_id, "closed"))

    @api("POST", "/api/v1/bodies")
    def create_body(self, request: Request) -> Response:
        actor = self._as(request, "admin")
        return json_response(call(self.voting.create_body, actor.to_wire(), read_json(request)), 201)

    @api("GET", "/api/v1/bodies")
    def list_bodies(self, request: Request) -> Response:
        self._as(request, *ANYONE)
        return json_response({"bodies": call(self.voting.list_bodies)})

    @api("GET", "/api/v1/bodies/<string:body_id>")
    def get_body(self, request: Request, body_id: str) -> Response:
        self._as(request, *ANYONE)
        return json_response(call(self.voting.get_body, body_id))

    @api("GET", "/api/v1/bodies/<string:body_id>/members")
    def list_members(self, request: Request, body_id: str) -> Response:
        actor = self._as(request, "admin", "secretariat", "observer", "delegate")
        found = call(self.voting.list_members, body_id)
        return json_response({"members": found if actor.role in STAFF else without_emails(found)})

    @api("POST", "/api/v1/bodies/<string:body_id>/members")
    def add_member(self, request: Request, body_id: str) -> Response:
        actor = self._as(request, "admin")
        return json_response(call(self.voting.add_member, actor.to_wire(), body_id, read_json(request)), 201)

    @api("POST", "/api/v1/bodies/<string:body_id>/members/<string:member_id>/accredit")
    def accredit(self, request: Request, body_id: str, member_id: str) -> Response:
        actor = self._as(request, "admin")
        body = optional_json(request)
        return json_response(call(self.voting.accredit, actor.to_wire(), body_id, member_id, body))

    @api("POST", "/api/v1/members/<string:member_id>/credential")
    def reissue_credential(self, request: Request, member_id: str) -> Response:
        actor = self._as(request, "admin")
        return json_response(call(self.voting.reissue_credential, actor.to_wire(), member_id))

    @api("DELETE", "/api/v1/members/<string:member_id>/credential")
    def revoke_credential(self, request: Request, member_id: str) -> Response:
        actor = self._as(request, "admin")
        return json_response(call(self.voting.revoke_credential, actor.to_wire(), member_id))

    # Motions and ballots

    @api("POST", "/api/v1/bodies/<string:body_id>/motions")
    def table_motion(self, request: Request, body_id: str) -> Response:
        actor = self._as(request, "admin")
        return json_response(call(self.voting.table_motion, actor.to_wire(), body_id, read_json(request)), 201)

    @api("GET", "/api/v1/bodies/<string:body_id>/motions")
    def list_motions(self, request: Request, body_id: str) -> Response:
        self._as(request, *ANYONE)
        return json_response({"motions": call(self.voting.list_motions, body_id)})

    @api("GET", "/api/v1/motions/<string:motion_id>")
    def get_motion(self, request: Request, motion_id: str) -> Response:
        self._as(request, *ANYONE)
        return json_response(call(self.voting.get_motion, motion_id))

    @api("POST", "/api/v1/motions/<string:motion_id>/ballot")
    def open_motion_ballot(self, request: Request, motion_id: str) -> Response:
        actor = self._as(request, "admin")
        body = optional_json(request)
        return json_response(call(self.voting.open_motion_ballot, actor.to_wire(), motion_id, body), 201)

    @api("GET", "/api/v1/ballots/<string:ballot_id>")
    def get_ballot(self, request: Request, ballot_id: str) -> Response:
        self._as(request, *ANYONE)
        return json_response(call(self.voting.get_ballot, ballot_id))

    @api("POST", "/api/v1/ballots/<string:ballot_id>/votes")
    def cast_vote(self, request: Request, ballot_id: str) -> Response:
        actor = self._as(request, "delegate")
        credential = presented_token(request.headers.get("Authorization"))
        body = read_json(request)
        if isinstance(body, dict) and request.headers.get("Idempotency-Key") and "request_id" not in body:
            body["request_id"] = request.headers["Idempotency-Key"]
        key = receipt_key(credential, ballot_id)
        return json_response(call(self.voting.cast_vote, actor.to_wire(), ballot_id, body, key), 201)

    @api("POST", "/api/v1/ballots/<string:ballot_id>/close")
    def close_ballot(self, request: Request, ballot_id: str) -> Response:
        actor = self._as(request, "admin")
        # Under the CLI's own 60 s: a slow close answers 503 before the client gives up.
        return json_response(call(self.voting.close_ballot, actor.to_wire(), ballot_id, timeout=45))

    @api("GET", "/api/v1/ballots/<string:ballot_id>/record")
    def ballot_record(self, request: Request, ballot_id: str) -> Response:
        return json_response(call(self.voting.get_record, ballot_id))

    # Elections

    @api("POST", "/api/v1/bodies/<string:body_id>/elections")
    def create_election(self, request: Request, body_id: str) -> Response:
        actor = self._as(request, "admin")
        return json_response(call(self.voting.create_election, actor.to_wire(), body_id, read_json(request)), 201)

    @api("GET", "/api/v1/bodies/<string:body_id>/elections")
    def list_elections(self, request: Request, body_id: str) -> Response:
        self._as(request, *ANYONE)
        return json_response({"elections": call(self.voting.list_elections, body_id)})

    @api("GET", "/api/v1/elections/<string:election_id>")
    def get_election(self, request: Request, election_id: str) -> Response:
        self._as(request, *ANYONE)
        return json_response(call(self.voting.get_election, election_id))

    @api("POST", "/api/v1/elections/<string:election_id>/candidates")
    def nominate_candidate(self, request: Request, election_id: str) -> Response:
        actor = self._as(request, "admin")
        return json_response(
            call(self.voting.nominate_candidate, actor.to_wire(), election_id, read_json(request)), 201
        )

    @api("POST", "/api/v1/elections/<string:election_id>/candidates/<string:candidate_id>/withdraw")
    def withdraw_candidate(self, request: Request, election_id: str, candidate_id: str) -> Response:
        actor = self._as(request, "admin")
        return json_response(call(self.voting.withdraw_candidate, actor.to_wire(), election_id, candidate_id))

    @api("POST", "/api/v1/elections/<string:election_id>/ballot")
    def open_election_ballot(self, request: Request, election_id: str) -> Response:
        actor = self._as(request, "admin")
        body = optional_json(request)
        return json_response(call(self.voting.open_election_ballot, actor.to_wire(), election_id, body), 201)

    # Notifications: webhook subscriptions, deliveries, section inboxes, circulars

    @api("POST", "/api/v1/webhooks")
    def register_webhook(self, request: Request) -> Response:
        actor = self._as(request, "admin")
        return json_response(call(self.secretariat.register_webhook, actor.to_wire(), read_json(request)), 201)

    @api("GET", "/api/v1/webhooks")
    def list_webhooks(self, request: Request) -> Response:
        actor = self._as(request, "admin")
        return json_response({"webhooks": call(self.secretariat.list_webhooks, actor.to_wire())})

    @api("DELETE", "/api/v1/webhooks/<string:subscription_id>")
    def delete_webhook(self, request: Request, subscription_id: str) -> Response:
        actor = self._as(request, "admin")
        return json_response(call(self.secretariat.delete_webhook, actor.to_wire(), subscription_id))

    @api("POST", "/api/v1/sections/<string:code>/webhook-secret")
    def rotate_section_webhook_secret(self, request: Request, code: str) -> Response:
        actor = self._for_section(request, code)
        return json_response(call(self.secretariat.rotate_section_webhook_secret, actor.to_wire(), code))

    @api("GET", "/api/v1/deliveries")
    def list_deliveries(self, request: Request) -> Response:
        actor = self._as(request, "admin", "secretariat")
        found = call(self.secretariat.list_deliveries, actor.to_wire(), dict(request.args))
        return json_response({"deliveries": found})

    @api("GET", "/api/v1/deliveries/<string:delivery_id>")
    def get_delivery(self, request: Request, delivery_id: str) -> Response:
        actor = self._as(request, "admin", "secretariat")
        return json_response(call(self.secretariat.get_delivery, actor.to_wire(), delivery_id))

    @api("POST", "/api/v1/deliveries/<string:delivery_id>/retry")
    def retry_delivery(self, request: Request, delivery_id: str) -> Response:
        actor = self._as(request, "admin", "secretariat")
        return json_response(call(self.secretariat.retry_delivery, actor.to_wire(), delivery_id))

    @api("GET", "/api/v1/sections/<string:code>/inbox")
    def section_inbox(self, request: Request, code: str) -> Response:
        actor = self._for_section(request, code)
        found = call(self.secretariat.section_inbox, actor.to_wire(), code, dict(request.args))
        return json_response({"notifications": found})

    @api("POST", "/api/v1/sections/<string:code>/inbox/<int:notification_id>/read")
    def mark_read(self, request: Request, code: str, notification_id: int) -> Response:
        actor = self._for_section(request, code)
        if notification_id > 2**63 - 1:  # no store holds such an id (SQLite would overflow)
            raise NotFound(f"section {code!r} has no notification {notification_id}")
        return json_response(call(self.secretariat.mark_read, actor.to_wire(), code, notification_id))

    @api("POST", "/api/v1/circulars")
    def issue_circular(self, request: Request) -> Response:
        actor = self._as(request, "admin", "secretariat")
        issued = call(self.secretariat.issue_circular, actor.to_wire(), read_json(request), timeout=30)
        return json_response(issued, 201)

    @api("GET", "/api/v1/circulars")
    def list_circulars(self, request: Request) -> Response:
        actor = self._as(request, "admin", "secretariat")
        return json_response({"circulars": call(self.secretariat.list_circulars, actor.to_wire())})

    # Secretariat

    @api("GET", "/api/v1/notifications")
    def centre_notifications(self, request: Request) -> Response:
        self._as(request, "admin", "secretariat")
        return json_response({"notifications": call(self.secretariat.list_notifications, "centre")})


def routes() -> list[tuple[str, str]]:
    """(method, path) of every HTTP route, in werkzeug's syntax: what openapi.py must document."""
    found: list[tuple[str, str]] = []
    for attribute in vars(GatewayService).values():
        for entrypoint in getattr(attribute, "nameko_entrypoints", ()):
            found.append((entrypoint.method, entrypoint.url))
    return found
