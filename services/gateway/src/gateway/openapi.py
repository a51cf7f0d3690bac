"""The OpenAPI 3 document of the HTTP API, built from the contract's marshmallow schemas.

One row per route; a test checks the rows and the gateway's routes are the same set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields

from congress import __version__
from congress.contract import api as bodies
from congress.contract.asyncapi import use_json_schema_formats


class ErrorDetail(Schema):
    code = fields.String()
    message = fields.String()
    fields_ = fields.Dict(data_key="fields", metadata={"description": "field name -> list of messages"})


class Error(Schema):
    error = fields.Nested(ErrorDetail)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # werkzeug syntax, as in service.py
    summary: str
    roles: str
    tag: str
    request: type[Schema] | None = None
    response: type[Schema] | None = None
    many: str | None = None  # the response wraps a list under this key
    status: int = 200
    public: bool = False


OPERATIONS: tuple[Operation, ...] = (
    Operation("GET", "/health", "Health of the gateway and the services behind it", "none", "platform", public=True),
    Operation("GET", "/api/openapi.json", "This document", "none", "platform", public=True),
    Operation("GET", "/metrics", "Prometheus metrics of the gateway", "none", "platform", public=True),
    Operation("GET", "/api/asyncapi.json", "The event contract (AsyncAPI 3.0)", "none", "platform", public=True),
    Operation(
        "GET", "/api/v1/keys", "The Ed25519 key that verifies published ballot records", "none", "platform", public=True
    ),
    Operation(
        "GET",
        "/api/v1/events/<string:producer>",
        "A producer's event log after a position (replay; ?after=N&limit=M&types=a,b)",
        "admin, secretariat; observers: public result events only",
        "events",
    ),
    Operation(
        "POST",
        "/api/v1/sections",
        "Register a section",
        "admin",
        "sections",
        bodies.SectionRegistration,
        bodies.SectionView,
        status=201,
    ),
    Operation(
        "GET",
        "/api/v1/sections",
        "List sections (filter by ?status= and ?country=)",
        "any",
        "sections",
        response=bodies.SectionView,
        many="sections",
    ),
    Operation("GET", "/api/v1/sections/<string:code>", "One section", "any", "sections", response=bodies.SectionView),
    Operation(
        "PATCH",
        "/api/v1/sections/<string:code>",
        "Update a section's name or contacts",
        "admin, section_officer (own)",
        "sections",
        bodies.SectionContactsUpdate,
        bodies.SectionView,
    ),
    Operation(
        "POST",
        "/api/v1/sections/<string:code>/status",
        "Change a section's status, with a reason",
        "admin",
        "sections",
        bodies.SectionStatusChange,
        bodies.SectionView,
    ),
    Operation(
        "POST",
        "/api/v1/sections/<string:code>/officer-tokens",
        "Issue a section officer's token (shown once)",
        "admin",
        "tokens",
        bodies.OfficerTokenRequest,
        bodies.TokenView,
        status=201,
    ),
    Operation(
        "GET",
        "/api/v1/sections/<string:code>/officer-tokens",
        "The section's live officer tokens (never the tokens themselves)",
        "admin, section_officer (own)",
        "tokens",
        response=bodies.TokenView,
        many="tokens",
    ),
    Operation(
        "DELETE",
        "/api/v1/officer-tokens/<string:token_id>",
        "Revoke a section officer's token",
        "admin",
        "tokens",
        response=bodies.TokenView,
    ),
    Operation(
        "POST",
        "/api/v1/tokens",
        "Issue a token of any role but delegate: admin, secretariat, section_officer, observer (shown once)",
        "admin",
        "tokens",
        bodies.TokenRequest,
        bodies.TokenView,
        status=201,
    ),
    Operation(
        "GET",
        "/api/v1/tokens",
        "Every token (?role=&section=&include_revoked=true), never the tokens themselves",
        "admin",
        "tokens",
        response=bodies.TokenView,
        many="tokens",
    ),
    Operation(
        "DELETE",
        "/api/v1/tokens/<string:token_id>",
        "Revoke a token of any role",
        "admin",
        "tokens",
        response=bodies.TokenView,
    ),
    Operation(
        "POST",
        "/api/v1/sections/<string:code>/returns",
        "File a membership return",
        "admin, section_officer (own)",
        "membership returns",
        bodies.MembershipReturnFiling,
        bodies.MembershipReturnView,
        status=201,
    ),
    Operation(
        "GET",
        "/api/v1/sections/<string:code>/returns",
        "A section's membership returns, newest first",
        "any (section officers: own section)",
        "membership returns",
        response=bodies.MembershipReturnView,
        many="returns",
    ),
    Operation(
        "POST",
        "/api/v1/apportionments",
        "Apportion congress delegates among the sections",
        "admin",
        "apportionments",
        bodies.ApportionmentRequest,
        bodies.ApportionmentView,
        status=201,
    ),
    Operation(
        "GET",
        "/api/v1/apportionments",
        "Every apportionment",
        "any",
        "apportionments",
        response=bodies.ApportionmentView,
        many="apportionments",
    ),
    Operation(
        "GET",
        "/api/v1/apportionments/<string:apportionment_id>",
        "One apportionment",
        "any",
        "apportionments",
        response=bodies.ApportionmentView,
    ),
    Operation(
        "POST",
        "/api/v1/sections/<string:code>/nominations",
        "Nominate a delegate within the allocation",
        "admin, section_officer (own)",
        "nominations",
        bodies.NominationRequest,
        bodies.NominationView,
        status=201,
    ),
    Operation(
        "GET",
        "/api/v1/sections/<string:code>/nominations",
        "A section's nominations (?apportionment_id=)",
        "any (section officers: own section)",
        "nominations",
        response=bodies.NominationView,
        many="nominations",
    ),
    Operation(
        "POST",
        "/api/v1/sections/<string:code>/nominations/<string:nomination_id>/withdraw",
        "Withdraw a nomination",
        "admin, section_officer (own)",
        "nominations",
        response=bodies.NominationView,
    ),
    Operation(
        "GET",
        "/api/v1/notifications",
        "The Centre's notifications",
        "admin, secretariat",
        "notifications",
    ),
    Operation(
        "POST",
        "/api/v1/congresses",
        "Schedule a World Congress",
        "admin",
        "congresses",
        bodies.CongressScheduling,
        bodies.CongressView,
        status=201,
    ),
    Operation(
        "GET",
        "/api/v1/congresses",
        "Every congress",
        "any",
        "congresses",
        response=bodies.CongressView,
        many="congresses",
    ),
    Operation(
        "GET",
        "/api/v1/congresses/<string:congress_id>",
        "One congress",
        "any",
        "congresses",
        response=bodies.CongressView,
    ),
    Operation(
        "POST",
        "/api/v1/congresses/<string:congress_id>/convene",
        "Convene: the congress becomes a body of the delegates nominated under the apportionment",
        "admin",
        "congresses",
        bodies.CongressConvening,
        bodies.CongressView,
    ),
    Operation(
        "POST",
        "/api/v1/congresses/<string:congress_id>/session",
        "Open the session (ballots may open)",
        "admin",
        "congresses",
        response=bodies.CongressView,
    ),
    Operation(
        "POST",
        "/api/v1/congresses/<string:congress_id>/close",
        "Close the congress",
        "admin",
        "congresses",
        response=bodies.CongressView,
    ),
    Operation(
        "POST",
        "/api/v1/bodies",
        "Create the IEC or the IS",
        "admin",
        "bodies",
        bodies.BodyCreation,
        bodies.BodyView,
        status=201,
    ),
    Operation("GET", "/api/v1/bodies", "Every body", "any", "bodies", response=bodies.BodyView, many="bodies"),
    Operation("GET", "/api/v1/bodies/<string:body_id>", "One body", "any", "bodies", response=bodies.BodyView),
    Operation(
        "GET",
        "/api/v1/bodies/<string:body_id>/members",
        "A body's members",
        "admin, secretariat, observer, delegate",
        "bodies",
        response=bodies.MemberView,
        many="members",
    ),
    Operation(
        "POST",
        "/api/v1/bodies/<string:body_id>/members",
        "Add a member, accredited at once (IEC/IS members, consultative delegates, observers)",
        "admin",
        "bodies",
        bodies.MemberAddition,
        bodies.MemberView,
        status=201,
    ),
    Operation(
        "POST",
        "/api/v1/bodies/<string:body_id>/members/<string:member_id>/accredit",
        "Accredit a nominated delegate: the credential is shown once",
        "admin",
        "accreditation",
        bodies.Accreditation,
        bodies.MemberView,
    ),
    Operation(
        "POST",
        "/api/v1/members/<string:member_id>/credential",
        "Reissue a credential (the old one stops)",
        "admin",
        "accreditation",
    ),
    Operation(
        "DELETE", "/api/v1/members/<string:member_id>/credential", "Revoke a credential", "admin", "accreditation"
    ),
    Operation(
        "POST",
        "/api/v1/bodies/<string:body_id>/motions",
        "Table a motion",
        "admin",
        "motions",
        bodies.MotionTabling,
        bodies.MotionView,
        status=201,
    ),
    Operation(
        "GET",
        "/api/v1/bodies/<string:body_id>/motions",
        "A body's motions",
        "any",
        "motions",
        response=bodies.MotionView,
        many="motions",
    ),
    Operation("GET", "/api/v1/motions/<string:motion_id>", "One motion", "any", "motions", response=bodies.MotionView),
    Operation(
        "POST",
        "/api/v1/motions/<string:motion_id>/ballot",
        "Open the motion's ballot",
        "admin",
        "ballots",
        bodies.BallotOpening,
        bodies.BallotView,
        status=201,
    ),
    Operation(
        "GET",
        "/api/v1/ballots/<string:ballot_id>",
        "A ballot, its turnout and, once closed, its result",
        "any",
        "ballots",
        response=bodies.BallotView,
    ),
    Operation(
        "POST",
        "/api/v1/ballots/<string:ballot_id>/votes",
        "Vote (once; repeat the request_id or Idempotency-Key on a retry to get the same receipt)",
        "delegate (a voting member of the ballot's body)",
        "ballots",
        bodies.VoteSubmission,
        bodies.Receipt,
        status=201,
    ),
    Operation(
        "POST",
        "/api/v1/ballots/<string:ballot_id>/close",
        "Close, count and publish (exactly once)",
        "admin",
        "ballots",
        response=bodies.BallotView,
    ),
    Operation(
        "GET",
        "/api/v1/ballots/<string:ballot_id>/record",
        "The published record: anonymous ballots by receipt, participation, tally, digest",
        "none",
        "ballots",
        public=True,
    ),
    Operation(
        "POST",
        "/api/v1/bodies/<string:body_id>/elections",
        "Call an election by the body (fills_body_id: the body it elects)",
        "admin",
        "elections",
        bodies.ElectionCreation,
        bodies.ElectionView,
        status=201,
    ),
    Operation(
        "GET",
        "/api/v1/bodies/<string:body_id>/elections",
        "A body's elections",
        "any",
        "elections",
        response=bodies.ElectionView,
        many="elections",
    ),
    Operation(
        "GET",
        "/api/v1/elections/<string:election_id>",
        "One election and its candidates",
        "any",
        "elections",
        response=bodies.ElectionView,
    ),
    Operation(
        "POST",
        "/api/v1/elections/<string:election_id>/candidates",
        "Nominate a candidate",
        "admin",
        "elections",
        bodies.CandidateNomination,
        bodies.ElectionView,
        status=201,
    ),
    Operation(
        "POST",
        "/api/v1/elections/<string:election_id>/candidates/<string:candidate_id>/withdraw",
        "Withdraw a candidate (before the ballot opens)",
        "admin",
        "elections",
        response=bodies.ElectionView,
    ),
    Operation(
        "POST",
        "/api/v1/elections/<string:election_id>/ballot",
        "Open the election's ballot",
        "admin",
        "elections",
        bodies.BallotOpening,
        bodies.BallotView,
        status=201,
    ),
    Operation(
        "POST",
        "/api/v1/webhooks",
        "Register a webhook: signed (Standard Webhooks) JSON envelopes of the chosen events; secret shown once",
        "admin",
        "notifications",
        bodies.WebhookRegistration,
        bodies.WebhookView,
        status=201,
    ),
    Operation(
        "GET",
        "/api/v1/webhooks",
        "Webhook subscriptions, sections' contact webhooks included (no secrets)",
        "admin",
        "notifications",
        response=bodies.WebhookView,
        many="webhooks",
    ),
    Operation(
        "DELETE",
        "/api/v1/webhooks/<string:subscription_id>",
        "Delete a webhook subscription; its pending deliveries are cancelled",
        "admin",
        "notifications",
        response=bodies.WebhookView,
    ),
    Operation(
        "POST",
        "/api/v1/sections/<string:code>/webhook-secret",
        "A new secret for the section's contact webhook (its webhook_url), shown once",
        "admin, section_officer (own)",
        "notifications",
        response=bodies.WebhookView,
    ),
    Operation(
        "GET",
        "/api/v1/deliveries",
        "Deliveries by email and webhook (filter by ?status=, ?channel=, ?event_type=, ?recipient=, ?limit=)",
        "admin, secretariat",
        "notifications",
        response=bodies.DeliveryView,
        many="deliveries",
    ),
    Operation(
        "GET",
        "/api/v1/deliveries/<string:delivery_id>",
        "One delivery and its log of attempts",
        "admin, secretariat",
        "notifications",
        response=bodies.DeliveryView,
    ),
    Operation(
        "POST",
        "/api/v1/deliveries/<string:delivery_id>/retry",
        "Send a failed delivery again, with a fresh budget of attempts",
        "admin, secretariat",
        "notifications",
        response=bodies.DeliveryView,
    ),
    Operation(
        "GET",
        "/api/v1/sections/<string:code>/inbox",
        "A section's notifications, newest first (?unread=true, ?limit=)",
        "admin, section_officer (own)",
        "notifications",
        response=bodies.InboxNotificationView,
        many="notifications",
    ),
    Operation(
        "POST",
        "/api/v1/sections/<string:code>/inbox/<int:notification_id>/read",
        "Mark a notification of the section's inbox read",
        "admin, section_officer (own)",
        "notifications",
        response=bodies.InboxNotificationView,
    ),
    Operation(
        "POST",
        "/api/v1/circulars",
        "Issue a circular to all sections, the IEC or chosen sections, on every channel",
        "admin, secretariat",
        "notifications",
        bodies.CircularIssue,
        bodies.CircularView,
        status=201,
    ),
    Operation(
        "GET",
        "/api/v1/circulars",
        "Circulars issued, newest first",
        "admin, secretariat",
        "notifications",
        response=bodies.CircularView,
        many="circulars",
    ),
)

ERRORS = {
    "400": "invalid input: `fields` names each bad field",
    "401": "no bearer token, or an unknown or revoked one",
    "403": "the token's role may not do this",
    "404": "no such resource",
    "409": "conflicts with the current state",
    "503": "a service behind the gateway did not answer in time",
}


def openapi_path(werkzeug_path: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", werkzeug_path)


def _content(schema: type[Schema], many: str | None = None) -> dict[str, Any]:
    if many:
        body: Any = {"type": "object", "properties": {many: {"type": "array", "items": schema}}}
    else:
        body = schema
    return {"application/json": {"schema": body}}


@cache
def openapi_document() -> dict[str, Any]:
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="congress HTTP API",
        version=__version__,
        openapi_version="3.0.3",
        plugins=[plugin],
        info={"description": 'Errors are always {"error": {"code", "message", "fields"}}.'},
    )
    use_json_schema_formats(plugin)  # URLs as `format: uri`, as in the AsyncAPI document
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", schema=Error)
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        operation: dict[str, Any] = {
            "summary": op.summary,
            "description": f"Roles: {op.roles}.",
            "tags": [op.tag],
            "responses": {str(op.status): {"description": "done"}},
        }
        if op.response is not None:
            operation["responses"][str(op.status)]["content"] = _content(op.response, op.many)
        if op.request is not None:
            operation["requestBody"] = {"required": True, "content": _content(op.request)}
        parameters = re.findall(r"<(?:[a-z]+:)?([a-z_]+)>", op.path)
        if parameters:
            operation["parameters"] = [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in parameters
            ]
        if not op.public:
            operation["security"] = [{"bearer": []}]
            for status, description in ERRORS.items():
                operation["responses"].setdefault(
                    status, {"description": description, "content": {"application/json": {"schema": "Error"}}}
                )
        paths.setdefault(openapi_path(op.path), {})[op.method.lower()] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
