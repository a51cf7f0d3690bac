"""The gateway's HTTP API. Each route is declared once, on its `@api` decorator: who may call it,
what it takes and what it answers. The gateway authenticates the caller and checks the declared
roles before the route's body runs, the owning service (called by RPC) checks again, and the
OpenAPI document is built from the same declarations (gateway/routes.py, gateway/openapi.py)."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from congress.actors import ADMIN, ANYONE, DELEGATE, OBSERVER, SECTION_OFFICER, STAFF, Actor
from congress.contract import api as bodies
from congress.contract.asyncapi import asyncapi_document
from congress.contract.catalogue import PUBLIC_EVENT_TYPES
from congress.errors import Conflict, Forbidden, NotAuthenticated, NotFound
from congress.keys import SERVICE_KEY
from congress.messaging.nameko_edge import LogContext, RequireKeys, RpcProxy
from congress.metrics import exposition
from congress.rpc import call
from gateway.auth import TokenBook, presented_token, receipt_key, token_hash
from gateway.gathering import VoteGatherer
from gateway.health import HealthMonitor, HealthView
from gateway.http import api, json_response, optional_json, read_json
from gateway.openapi import openapi_document
from gateway.pages import HallPages
from gateway.routes import PUBLIC

BACKENDS = ("sections", "voting", "secretariat")
CREDENTIAL_PREFIX = "dc_"
OWN_SECTION = (ADMIN, SECTION_OFFICER)  # with section_param: an officer acts for their own section only
PUBLIC_EVENTS = frozenset(PUBLIC_EVENT_TYPES)
LOCATION = {"Location": "the new resource's URL"}


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
    readiness = HealthMonitor(BACKENDS)
    votes = VoteGatherer()

    tokens = TokenBook.from_environment()

    def _actor(self, request: Request, credential_in_call: bool = False) -> Actor | None:
        """Who presents the bearer token; what gateway/routes.py calls before a declared route runs.
        With `credential_in_call`, None for a delegate's credential: the route's call identifies it."""
        presented = token_hash(presented_token(request.headers.get("Authorization")))
        actor = self.tokens.find(presented)
        if actor is not None:
            return actor
        # Credentials of delegates and IEC/IS members live in voting, officers' tokens in sections.
        credential = presented_token(request.headers.get("Authorization")).startswith(CREDENTIAL_PREFIX)
        if credential and credential_in_call:
            return None
        known = call((self.voting if credential else self.sections).identify, presented)
        if known is None:
            raise NotAuthenticated("the bearer token is not valid (unknown or revoked)")
        if known.get("revoked"):
            raise Forbidden("your credential has been revoked; ask the Secretariat for a new one")
        return Actor.from_wire(known)

    # Platform

    @api(
        "GET",
        "/health",
        summary="Health of the gateway and the services behind it",
        tag="platform",
        roles=PUBLIC,
        response=HealthView,
        responses={503: HealthView},  # degraded: which service did not answer, or the broker is away
        offline=True,
    )
    def health(self, request: Request) -> Response:
        """What the gateway saw at its last look (every 2 s): the broker connection and a ping of
        each service. The edge answers it from that look before any worker runs (gateway/health.py),
        so it answers at once under load and through an outage; 503 with Retry-After when degraded."""
        status, body = self.readiness.health()
        return json_response(body, status, {"Retry-After": "2"} if status == 503 else None)

    @api(
        "GET",
        "/metrics",
        summary="Prometheus metrics of the gateway",
        tag="platform",
        roles=PUBLIC,
        offline=True,
        content_type="text/plain",
    )
    def metrics(self, request: Request) -> Response:
        body, content_type = exposition()
        return Response(body, status=200, content_type=content_type)

    @api("GET", "/api/openapi.json", summary="This document", tag="platform", roles=PUBLIC, offline=True)
    def openapi(self, request: Request) -> Response:
        return json_response(openapi_document(type(self)))

    @api(
        "GET",
        "/api/v1/keys",
        summary="The Ed25519 key that verifies published ballot records",
        tag="platform",
        roles=PUBLIC,
        response=bodies.PublicKeyView,
    )
    def public_keys(self, request: Request) -> Response:
        """The public key that verifies every published ballot record (`congress count ballot`)."""
        return json_response(call(self.voting.record_public_key))

    @api(
        "GET",
        "/api/asyncapi.json",
        summary="The event contract (AsyncAPI 3.0)",
        tag="platform",
        roles=PUBLIC,
        offline=True,
    )
    def asyncapi(self, request: Request) -> Response:
        return json_response(asyncapi_document())

    @api(
        "GET",
        "/api/v1/events/<string:producer>",
        summary="A producer's event log after a position (replay)",
        tag="events",
        roles=(*STAFF, OBSERVER),
        query=bodies.EventReplayQuery,
        response=bodies.EventPage,
        params={"producer": {"type": "string", "enum": list(BACKENDS)}},
    )
    def replay_events(self, request: Request, producer: str, actor: Actor, query: dict[str, Any]) -> Response:
        """A producer's event log from a position on, for subscribers that were down or join late.
        Observers get the public result events only."""
        if producer not in BACKENDS:
            raise NotFound(f"no producer {producer!r}; producers are {', '.join(BACKENDS)}")
        after, limit = query["after"], query["limit"]
        types = [t for t in query["types"].split(",") if t] or None
        if actor.role == OBSERVER:
            # Observers (a hall projector, say) read public results, not emails or webhook URLs.
            types = sorted(set(types or PUBLIC_EVENTS) & PUBLIC_EVENTS) or ["-"]
        entries = call(getattr(self, producer).replay_events, after, limit, types)
        return json_response({"events": entries, "next_after": entries[-1]["position"] if entries else after})

    # Sections

    @api(
        "POST",
        "/api/v1/sections",
        summary="Register a section",
        tag="sections",
        roles=(ADMIN,),
        request=bodies.SectionRegistration,
        response=bodies.SectionView,
        status=201,
        errors=(409,),
        headers=LOCATION,
        creates="code",
    )
    def register_section(self, request: Request, actor: Actor) -> Response:
        section = call(self.sections.register_section, actor.to_wire(), read_json(request))
        return json_response(section, 201, {"Location": f"/api/v1/sections/{section['code']}"})

    @api(
        "GET",
        "/api/v1/sections",
        summary="List sections",
        tag="sections",
        roles=ANYONE,
        query=bodies.SectionFilter,
        response=bodies.SectionView,
        many="sections",
    )
    def list_sections(self, request: Request, query: dict[str, Any]) -> Response:
        return json_response({"sections": call(self.sections.list_sections, query)})

    @api(
        "GET",
        "/api/v1/sections/<string:code>",
        summary="One section",
        tag="sections",
        roles=ANYONE,
        response=bodies.SectionView,
    )
    def get_section(self, request: Request, code: str) -> Response:
        return json_response(call(self.sections.get_section, code))

    @api(
        "PATCH",
        "/api/v1/sections/<string:code>",
        summary="Update a section's name or contacts",
        tag="sections",
        roles=OWN_SECTION,
        section_param="code",
        request=bodies.SectionContactsUpdate,
        response=bodies.SectionView,
    )
    def update_section(self, request: Request, code: str, actor: Actor) -> Response:
        return json_response(call(self.sections.update_contacts, actor.to_wire(), code, read_json(request)))

    @api(
        "POST",
        "/api/v1/sections/<string:code>/status",
        summary="Change a section's status, with a reason",
        tag="sections",
        roles=(ADMIN,),
        request=bodies.SectionStatusChange,
        response=bodies.SectionView,
        errors=(409,),
    )
    def change_status(self, request: Request, code: str, actor: Actor) -> Response:
        return json_response(call(self.sections.change_status, actor.to_wire(), code, read_json(request)))

    @api(
        "POST",
        "/api/v1/sections/<string:code>/officer-tokens",
        summary="Issue a section officer's token (shown once)",
        tag="tokens",
        roles=(ADMIN,),
        request=bodies.OfficerTokenRequest,
        body_optional=True,
        response=bodies.TokenView,
        status=201,
        errors=(409,),
        creates="token_id",
    )
    def issue_officer_token(self, request: Request, code: str, actor: Actor) -> Response:
        body = optional_json(request)
        return json_response(call(self.sections.issue_officer_token, actor.to_wire(), code, body), 201)

    @api(
        "GET",
        "/api/v1/sections/<string:code>/officer-tokens",
        summary="The section's live officer tokens (never the tokens themselves)",
        tag="tokens",
        roles=OWN_SECTION,
        section_param="code",
        response=bodies.TokenView,
        many="tokens",
    )
    def list_officer_tokens(self, request: Request, code: str, actor: Actor) -> Response:
        found = call(self.sections.list_tokens, actor.to_wire(), {"role": SECTION_OFFICER, "section": code})
        return json_response({"tokens": found})

    @api(
        "DELETE",
        "/api/v1/officer-tokens/<string:token_id>",
        summary="Revoke a section officer's token",
        tag="tokens",
        roles=(ADMIN,),
        response=bodies.TokenView,
    )
    def revoke_officer_token(self, request: Request, token_id: str, actor: Actor) -> Response:
        return json_response(call(self.sections.revoke_token, actor.to_wire(), token_id))

    # Tokens of every role

    @api(
        "POST",
        "/api/v1/tokens",
        summary="Issue a token of any role but delegate (shown once)",
        tag="tokens",
        roles=(ADMIN,),
        request=bodies.TokenRequest,
        response=bodies.TokenView,
        status=201,
        errors=(409,),  # the officer's section is dissolved
        references=("section",),
        creates="token_id",
    )
    def issue_token(self, request: Request, actor: Actor) -> Response:
        return json_response(call(self.sections.issue_token, actor.to_wire(), read_json(request)), 201)

    @api(
        "GET",
        "/api/v1/tokens",
        summary="Every token, never the tokens themselves",
        tag="tokens",
        roles=(ADMIN,),
        query=bodies.TokenFilter,
        response=bodies.TokenView,
        many="tokens",
    )
    def list_tokens(self, request: Request, actor: Actor, query: dict[str, Any]) -> Response:
        return json_response({"tokens": call(self.sections.list_tokens, actor.to_wire(), query)})

    @api(
        "DELETE",
        "/api/v1/tokens/<string:token_id>",
        summary="Revoke a token of any role",
        tag="tokens",
        roles=(ADMIN,),
        response=bodies.TokenView,
    )
    def revoke_token(self, request: Request, token_id: str, actor: Actor) -> Response:
        return json_response(call(self.sections.revoke_token, actor.to_wire(), token_id))

    # Membership returns

    @api(
        "POST",
        "/api/v1/sections/<string:code>/returns",
        summary="File a membership return",
        tag="membership returns",
        roles=OWN_SECTION,
        section_param="code",
        request=bodies.MembershipReturnFiling,
        response=bodies.MembershipReturnView,
        status=201,
        errors=(409,),
    )
    def file_return(self, request: Request, code: str, actor: Actor) -> Response:
        return json_response(call(self.sections.file_return, actor.to_wire(), code, read_json(request)), 201)

    @api(
        "GET",
        "/api/v1/sections/<string:code>/returns",
        summary="A section's membership returns, newest first",
        tag="membership returns",
        roles=ANYONE,
        section_param="code",  # section officers: their own section's
        response=bodies.MembershipReturnView,
        many="returns",
    )
    def list_returns(self, request: Request, code: str, actor: Actor) -> Response:
        return json_response({"returns": call(self.sections.list_returns, actor.to_wire(), code)})

    # Apportionments

    @api(
        "POST",
        "/api/v1/apportionments",
        summary="Apportion congress delegates among the sections",
        tag="apportionments",
        roles=(ADMIN,),
        request=bodies.ApportionmentRequest,
        response=bodies.ApportionmentView,
        status=201,
        errors=(409,),
        headers=LOCATION,
        creates="apportionment_id",
    )
    def calculate_apportionment(self, request: Request, actor: Actor) -> Response:
        result = call(self.sections.calculate_apportionment, actor.to_wire(), read_json(request), timeout=30)
        return json_response(result, 201, {"Location": f"/api/v1/apportionments/{result['id']}"})

    @api(
        "GET",
        "/api/v1/apportionments",
        summary="Every apportionment",
        tag="apportionments",
        roles=ANYONE,
        response=bodies.ApportionmentView,
        many="apportionments",
    )
    def list_apportionments(self, request: Request) -> Response:
        return json_response({"apportionments": call(self.sections.list_apportionments)})

    @api(
        "GET",
        "/api/v1/apportionments/<string:apportionment_id>",
        summary="One apportionment",
        tag="apportionments",
        roles=ANYONE,
        response=bodies.ApportionmentView,
    )
    def get_apportionment(self, request: Request, apportionment_id: str) -> Response:
        return json_response(call(self.sections.get_apportionment, apportionment_id))

    # Nominations

    @api(
        "POST",
        "/api/v1/sections/<string:code>/nominations",
        summary="Nominate a delegate within the allocation",
        tag="nominations",
        roles=OWN_SECTION,
        section_param="code",
        request=bodies.NominationRequest,
        response=bodies.NominationView,
        status=201,
        errors=(409,),
        references=("apportionment_id",),
        creates="nomination_id",
    )
    def nominate(self, request: Request, code: str, actor: Actor) -> Response:
        return json_response(call(self.sections.nominate, actor.to_wire(), code, read_json(request)), 201)

    @api(
        "GET",
        "/api/v1/sections/<string:code>/nominations",
        summary="A section's nominations (emails for the Centre and the section's own officers only)",
        tag="nominations",
        roles=ANYONE,
        query=bodies.NominationFilter,
        response=bodies.NominationView,
        many="nominations",
    )
    def list_nominations(self, request: Request, code: str, actor: Actor, query: dict[str, Any]) -> Response:
        found = call(self.sections.list_nominations, actor.to_wire(), code, query.get("apportionment_id"))
        own_officer = actor.role == SECTION_OFFICER and actor.section == code
        return json_response({"nominations": found if actor.role in STAFF or own_officer else without_emails(found)})

    @api(
        "POST",
        "/api/v1/sections/<string:code>/nominations/<string:nomination_id>/withdraw",
        summary="Withdraw a nomination",
        tag="nominations",
        roles=OWN_SECTION,
        section_param="code",
        response=bodies.NominationView,
        errors=(409,),
    )
    def withdraw_nomination(self, request: Request, code: str, nomination_id: str, actor: Actor) -> Response:
        return json_response(call(self.sections.withdraw_nomination, actor.to_wire(), code, nomination_id))

    # Congresses, bodies and accreditation

    @api(
        "POST",
        "/api/v1/congresses",
        summary="Schedule a World Congress",
        tag="congresses",
        roles=(ADMIN,),
        request=bodies.CongressScheduling,
        response=bodies.CongressView,
        status=201,
        creates="congress_id",
    )
    def schedule_congress(self, request: Request, actor: Actor) -> Response:
        return json_response(call(self.voting.schedule_congress, actor.to_wire(), read_json(request)), 201)

    @api(
        "GET",
        "/api/v1/congresses",
        summary="Every congress",
        tag="congresses",
        roles=ANYONE,
        response=bodies.CongressView,
        many="congresses",
    )
    def list_congresses(self, request: Request) -> Response:
        return json_response({"congresses": call(self.voting.list_congresses)})

    @api(
        "GET",
        "/api/v1/congresses/<string:congress_id>",
        summary="One congress",
        tag="congresses",
        roles=ANYONE,
        response=bodies.CongressView,
    )
    def get_congress(self, request: Request, congress_id: str) -> Response:
        return json_response(call(self.voting.get_congress, congress_id))

    @api(
        "POST",
        "/api/v1/congresses/<string:congress_id>/convene",
        summary="Convene: the congress becomes a body of the delegates nominated under the apportionment",
        tag="congresses",
        roles=(ADMIN,),
        request=bodies.CongressConvening,
        body_optional=True,
        response=bodies.CongressView,
        errors=(409,),
        references=("apportionment_id",),
    )
    def convene_congress(self, request: Request, congress_id: str, actor: Actor) -> Response:
        body = optional_json(request)
        return json_response(call(self.voting.convene_congress, actor.to_wire(), congress_id, body, timeout=30))

    @api(
        "POST",
        "/api/v1/congresses/<string:congress_id>/session",
        summary="Open the session (ballots may open)",
        tag="congresses",
        roles=(ADMIN,),
        response=bodies.CongressView,
        errors=(409,),
    )
    def open_session(self, request: Request, congress_id: str, actor: Actor) -> Response:
        return json_response(call(self.voting.set_congress_status, actor.to_wire(), congress_id, "in_session"))

    @api(
        "POST",
        "/api/v1/congresses/<string:congress_id>/close",
        summary="Close the congress",
        tag="congresses",
        roles=(ADMIN,),
        response=bodies.CongressView,
        errors=(409,),
    )
    def close_congress(self, request: Request, congress_id: str, actor: Actor) -> Response:
        return json_response(call(self.voting.set_congress_status, actor.to_wire(), congress_id, "closed"))

    @api(
        "POST",
        "/api/v1/bodies",
        summary="Create the IEC or the IS",
        tag="bodies",
        roles=(ADMIN,),
        request=bodies.BodyCreation,
        response=bodies.BodyView,
        status=201,
        creates="body_id",
    )
    def create_body(self, request: Request, actor: Actor) -> Response:
        return json_response(call(self.voting.create_body, actor.to_wire(), read_json(request)), 201)

    @api(
        "GET",
        "/api/v1/bodies",
        summary="Every body",
        tag="bodies",
        roles=ANYONE,
        response=bodies.BodyView,
        many="bodies",
    )
    def list_bodies(self, request: Request) -> Response:
        return json_response({"bodies": call(self.voting.list_bodies)})

    @api(
        "GET",
        "/api/v1/bodies/<string:body_id>",
        summary="One body",
        tag="bodies",
        roles=ANYONE,
        response=bodies.BodyView,
    )
    def get_body(self, request: Request, body_id: str) -> Response:
        return json_response(call(self.voting.get_body, body_id))

    @api(
        "GET",
        "/api/v1/bodies/<string:body_id>/members",
        summary="A body's members (emails for the Centre only)",
        tag="bodies",
        roles=(*STAFF, OBSERVER, DELEGATE),
        response=bodies.MemberView,
        many="members",
    )
    def list_members(self, request: Request, body_id: str, actor: Actor) -> Response:
        found = call(self.voting.list_members, body_id)
        return json_response({"members": found if actor.role in STAFF else without_emails(found)})

    @api(
        "POST",
        "/api/v1/bodies/<string:body_id>/members",
        summary="Add a member, accredited at once (IEC/IS members, consultative delegates, observers)",
        tag="bodies",
        roles=(ADMIN,),
        request=bodies.MemberAddition,
        response=bodies.MemberView,
        status=201,
        errors=(409,),
        references=("member_id",),
        creates="member_id",
    )
    def add_member(self, request: Request, body_id: str, actor: Actor) -> Response:
        return json_response(call(self.voting.add_member, actor.to_wire(), body_id, read_json(request)), 201)

    @api(
        "POST",
        "/api/v1/bodies/<string:body_id>/members/<string:member_id>/accredit",
        summary="Accredit a nominated delegate: the credential is shown once",
        tag="accreditation",
        roles=(ADMIN,),
        request=bodies.Accreditation,
        body_optional=True,
        response=bodies.MemberView,
        errors=(409,),
    )
    def accredit(self, request: Request, body_id: str, member_id: str, actor: Actor) -> Response:
        body = optional_json(request)
        return json_response(call(self.voting.accredit, actor.to_wire(), body_id, member_id, body))

    @api(
        "POST",
        "/api/v1/members/<string:member_id>/credential",
        summary="Reissue a credential (the old one stops)",
        tag="accreditation",
        roles=(ADMIN,),
        response=bodies.CredentialView,
    )
    def reissue_credential(self, request: Request, member_id: str, actor: Actor) -> Response:
        return json_response(call(self.voting.reissue_credential, actor.to_wire(), member_id))

    @api(
        "DELETE",
        "/api/v1/members/<string:member_id>/credential",
        summary="Revoke a credential",
        tag="accreditation",
        roles=(ADMIN,),
        response=bodies.CredentialView,
    )
    def revoke_credential(self, request: Request, member_id: str, actor: Actor) -> Response:
        return json_response(call(self.voting.revoke_credential, actor.to_wire(), member_id))

    # Motions and ballots

    @api(
        "POST",
        "/api/v1/bodies/<string:body_id>/motions",
        summary="Table a motion",
        tag="motions",
        roles=(ADMIN,),
        request=bodies.MotionTabling,
        response=bodies.MotionView,
        status=201,
        errors=(409,),
        creates="motion_id",
    )
    def table_motion(self, request: Request, body_id: str, actor: Actor) -> Response:
        return json_response(call(self.voting.table_motion, actor.to_wire(), body_id, read_json(request)), 201)

    @api(
        "GET",
        "/api/v1/bodies/<string:body_id>/motions",
        summary="A body's motions",
        tag="motions",
        roles=ANYONE,
        response=bodies.MotionView,
        many="motions",
    )
    def list_motions(self, request: Request, body_id: str) -> Response:
        return json_response({"motions": call(self.voting.list_motions, body_id)})

    @api(
        "GET",
        "/api/v1/motions/<string:motion_id>",
        summary="One motion",
        tag="motions",
        roles=ANYONE,
        response=bodies.MotionView,
    )
    def get_motion(self, request: Request, motion_id: str) -> Response:
        return json_response(call(self.voting.get_motion, motion_id))

    @api(
        "POST",
        "/api/v1/motions/<string:motion_id>/ballot",
        summary="Open the motion's ballot",
        tag="ballots",
        roles=(ADMIN,),
        request=bodies.BallotOpening,
        body_optional=True,
        response=bodies.BallotView,
        status=201,
        errors=(409,),
        creates="ballot_id",
    )
    def open_motion_ballot(self, request: Request, motion_id: str, actor: Actor) -> Response:
        body = optional_json(request)
        return json_response(call(self.voting.open_motion_ballot, actor.to_wire(), motion_id, body), 201)

    @api(
        "GET",
        "/api/v1/ballots/<string:ballot_id>",
        summary="A ballot, its turnout and, once closed, its result",
        tag="ballots",
        roles=ANYONE,
        response=bodies.BallotView,
    )
    def get_ballot(self, request: Request, ballot_id: str) -> Response:
        return json_response(call(self.voting.get_ballot, ballot_id))

    @api(
        "POST",
        "/api/v1/ballots/<string:ballot_id>/votes",
        summary="Vote (once; repeat the request_id or Idempotency-Key on a retry to get the same receipt)",
        tag="ballots",
        roles=(DELEGATE,),
        request=bodies.VoteSubmission,
        response=bodies.Receipt,
        status=201,
        errors=(409,),
        credential_in_call=True,
        request_headers={
            "Idempotency-Key": {
                "type": "string",
                "maxLength": 100,
                "description": "the body's request_id when the body has none (an empty one is ignored)",
            }
        },
    )
    def cast_vote(self, request: Request, ballot_id: str, actor: Actor | None) -> Response:
        credential = presented_token(request.headers.get("Authorization"))
        body = read_json(request)
        if isinstance(body, dict) and request.headers.get("Idempotency-Key") and "request_id" not in body:
            body["request_id"] = request.headers["Idempotency-Key"]
        key = receipt_key(credential, ballot_id)
        if actor is None:  # a delegate's credential: voting identifies it as it records the vote
            answer = self.votes.cast(token_hash(credential), ballot_id, body, key)  # gathered with others
        else:
            answer = call(self.voting.cast_vote, actor.to_wire(), ballot_id, body, key)
        return json_response(answer, 201)

    @api(
        "POST",
        "/api/v1/ballots/<string:ballot_id>/close",
        summary="Close, count and publish (exactly once)",
        tag="ballots",
        roles=(ADMIN,),
        response=bodies.BallotView,
        errors=(409,),
    )
    def close_ballot(self, request: Request, ballot_id: str, actor: Actor) -> Response:
        # Under the CLI's own 60 s: a slow close answers 503 before the client gives up.
        return json_response(call(self.voting.close_ballot, actor.to_wire(), ballot_id, timeout=45))

    @api(
        "GET",
        "/api/v1/ballots/<string:ballot_id>/record",
        summary="The published record: anonymous ballots by receipt, participation, tally, digest, signature",
        tag="ballots",
        roles=PUBLIC,
        response=bodies.RecordView,
        errors=(409,),  # the ballot has not closed
    )
    def ballot_record(self, request: Request, ballot_id: str) -> Response:
        return json_response(call(self.voting.get_record, ballot_id))

    # Elections

    @api(
        "POST",
        "/api/v1/bodies/<string:body_id>/elections",
        summary="Call an election by the body (fills_body_id: the body it elects)",
        tag="elections",
        roles=(ADMIN,),
        request=bodies.ElectionCreation,
        response=bodies.ElectionView,
        status=201,
        errors=(409,),
        references=("fills_body_id",),
        creates="election_id",
    )
    def create_election(self, request: Request, body_id: str, actor: Actor) -> Response:
        return json_response(call(self.voting.create_election, actor.to_wire(), body_id, read_json(request)), 201)

    @api(
        "GET",
        "/api/v1/bodies/<string:body_id>/elections",
        summary="A body's elections",
        tag="elections",
        roles=ANYONE,
        response=bodies.ElectionView,
        many="elections",
    )
    def list_elections(self, request: Request, body_id: str) -> Response:
        return json_response({"elections": call(self.voting.list_elections, body_id)})

    @api(
        "GET",
        "/api/v1/elections/<string:election_id>",
        summary="One election and its candidates",
        tag="elections",
        roles=ANYONE,
        response=bodies.ElectionView,
    )
    def get_election(self, request: Request, election_id: str) -> Response:
        return json_response(call(self.voting.get_election, election_id))

    @api(
        "POST",
        "/api/v1/elections/<string:election_id>/candidates",
        summary="Nominate a candidate",
        tag="elections",
        roles=(ADMIN,),
        request=bodies.CandidateNomination,
        response=bodies.ElectionView,
        status=201,
        errors=(409,),
        references=("member_id",),
    )
    def nominate_candidate(self, request: Request, election_id: str, actor: Actor) -> Response:
        return json_response(
            call(self.voting.nominate_candidate, actor.to_wire(), election_id, read_json(request)), 201
        )

    @api(
        "POST",
        "/api/v1/elections/<string:election_id>/candidates/<string:candidate_id>/withdraw",
        summary="Withdraw a candidate (before the ballot opens)",
        tag="elections",
        roles=(ADMIN,),
        response=bodies.ElectionView,
        errors=(409,),
    )
    def withdraw_candidate(self, request: Request, election_id: str, candidate_id: str, actor: Actor) -> Response:
        return json_response(call(self.voting.withdraw_candidate, actor.to_wire(), election_id, candidate_id))

    @api(
        "POST",
        "/api/v1/elections/<string:election_id>/ballot",
        summary="Open the election's ballot",
        tag="elections",
        roles=(ADMIN,),
        request=bodies.BallotOpening,
        body_optional=True,
        response=bodies.BallotView,
        status=201,
        errors=(409,),
        creates="ballot_id",
    )
    def open_election_ballot(self, request: Request, election_id: str, actor: Actor) -> Response:
        body = optional_json(request)
        return json_response(call(self.voting.open_election_ballot, actor.to_wire(), election_id, body), 201)

    # Notifications: webhook subscriptions, deliveries, section inboxes, circulars

    @api(
        "POST",
        "/api/v1/webhooks",
        summary="Register a webhook: signed (Standard Webhooks) JSON envelopes of the chosen events; secret shown once",
        tag="notifications",
        roles=(ADMIN,),
        request=bodies.WebhookRegistration,
        response=bodies.WebhookView,
        status=201,
        creates="subscription_id",
    )
    def register_webhook(self, request: Request, actor: Actor) -> Response:
        return json_response(call(self.secretariat.register_webhook, actor.to_wire(), read_json(request)), 201)

    @api(
        "GET",
        "/api/v1/webhooks",
        summary="Webhook subscriptions, sections' contact webhooks included (no secrets)",
        tag="notifications",
        roles=(ADMIN,),
        response=bodies.WebhookView,
        many="webhooks",
    )
    def list_webhooks(self, request: Request, actor: Actor) -> Response:
        return json_response({"webhooks": call(self.secretariat.list_webhooks, actor.to_wire())})

    @api(
        "DELETE",
        "/api/v1/webhooks/<string:subscription_id>",
        summary="Delete a webhook subscription; its pending deliveries are cancelled",
        tag="notifications",
        roles=(ADMIN,),
        response=bodies.WebhookView,
        errors=(409,),
    )
    def delete_webhook(self, request: Request, subscription_id: str, actor: Actor) -> Response:
        return json_response(call(self.secretariat.delete_webhook, actor.to_wire(), subscription_id))

    @api(
        "POST",
        "/api/v1/sections/<string:code>/webhook-secret",
        summary="A new secret for the section's contact webhook (its webhook_url), shown once",
        tag="notifications",
        roles=OWN_SECTION,
        section_param="code",
        response=bodies.WebhookView,
        errors=(409,),
    )
    def rotate_section_webhook_secret(self, request: Request, code: str, actor: Actor) -> Response:
        # The section exists (or 404) but has no webhook: a state to change first (409), not a
        # missing resource; the Secretariat alone could not tell a section it never heard of.
        if not call(self.sections.get_section, code).get("webhook_url"):
            raise Conflict(f"section {code!r} has no webhook_url; set one first", {"webhook_url": ["not set"]})
        return json_response(call(self.secretariat.rotate_section_webhook_secret, actor.to_wire(), code))

    @api(
        "GET",
        "/api/v1/deliveries",
        summary="Deliveries by email and webhook",
        tag="notifications",
        roles=STAFF,
        query=bodies.DeliveryFilter,
        response=bodies.DeliveryView,
        many="deliveries",
    )
    def list_deliveries(self, request: Request, actor: Actor, query: dict[str, Any]) -> Response:
        return json_response({"deliveries": call(self.secretariat.list_deliveries, actor.to_wire(), query)})

    @api(
        "GET",
        "/api/v1/deliveries/<string:delivery_id>",
        summary="One delivery and its log of attempts",
        tag="notifications",
        roles=STAFF,
        response=bodies.DeliveryView,
    )
    def get_delivery(self, request: Request, delivery_id: str, actor: Actor) -> Response:
        return json_response(call(self.secretariat.get_delivery, actor.to_wire(), delivery_id))

    @api(
        "POST",
        "/api/v1/deliveries/<string:delivery_id>/retry",
        summary="Send a failed delivery again, with a fresh budget of attempts",
        tag="notifications",
        roles=STAFF,
        response=bodies.DeliveryView,
        errors=(409,),
    )
    def retry_delivery(self, request: Request, delivery_id: str, actor: Actor) -> Response:
        return json_response(call(self.secretariat.retry_delivery, actor.to_wire(), delivery_id))

    @api(
        "GET",
        "/api/v1/sections/<string:code>/inbox",
        summary="A section's notifications, newest first",
        tag="notifications",
        roles=OWN_SECTION,
        section_param="code",
        query=bodies.InboxFilter,
        response=bodies.InboxNotificationView,
        many="notifications",
    )
    def section_inbox(self, request: Request, code: str, actor: Actor, query: dict[str, Any]) -> Response:
        found = call(self.secretariat.section_inbox, actor.to_wire(), code, query)
        return json_response({"notifications": found})

    @api(
        "POST",
        "/api/v1/sections/<string:code>/inbox/<int:notification_id>/read",
        summary="Mark a notification of the section's inbox read",
        tag="notifications",
        roles=OWN_SECTION,
        section_param="code",
        response=bodies.InboxNotificationView,
    )
    def mark_read(self, request: Request, code: str, notification_id: int, actor: Actor) -> Response:
        if notification_id > 2**63 - 1:  # no store holds such an id (SQLite would overflow)
            raise NotFound(f"section {code!r} has no notification {notification_id}")
        return json_response(call(self.secretariat.mark_read, actor.to_wire(), code, notification_id))

    @api(
        "POST",
        "/api/v1/circulars",
        summary="Issue a circular to all sections, the IEC or chosen sections, on every channel",
        tag="notifications",
        roles=STAFF,
        request=bodies.CircularIssue,
        response=bodies.CircularView,
        status=201,
        errors=(409,),
    )
    def issue_circular(self, request: Request, actor: Actor) -> Response:
        issued = call(self.secretariat.issue_circular, actor.to_wire(), read_json(request), timeout=30)
        return json_response(issued, 201)

    @api(
        "GET",
        "/api/v1/circulars",
        summary="Circulars issued, newest first",
        tag="notifications",
        roles=STAFF,
        response=bodies.CircularView,
        many="circulars",
    )
    def list_circulars(self, request: Request, actor: Actor) -> Response:
        return json_response({"circulars": call(self.secretariat.list_circulars, actor.to_wire())})

    # Secretariat

    @api(
        "GET",
        "/api/v1/notifications",
        summary="The Centre's notifications",
        tag="notifications",
        roles=STAFF,
        response=bodies.CentreNotificationView,
        many="notifications",
    )
    def centre_notifications(self, request: Request) -> Response:
        return json_response({"notifications": call(self.secretariat.list_notifications, "centre")})
