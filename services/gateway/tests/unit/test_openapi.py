"""The OpenAPI document is generated from the routes' declarations (issue 15): valid, complete,
and saying every status each route can answer."""

from __future__ import annotations

from typing import Any

from openapi_spec_validator import validate

from gateway.openapi import openapi_document, openapi_path
from gateway.routes import all_routes, declared_routes
from gateway.service import GatewayService

DOCUMENT = openapi_document()
OPERATIONS = {
    (method.upper(), path): operation
    for path, operations in DOCUMENT["paths"].items()
    for method, operation in operations.items()
}


def operation(method: str, path: str) -> dict[str, Any]:
    return OPERATIONS[(method, path)]


def test_the_document_is_valid_openapi_with_the_contract_schemas() -> None:
    validate(DOCUMENT)
    registration = operation("POST", "/api/v1/sections")["requestBody"]["content"]["application/json"]
    schema_name = registration["schema"]["$ref"].rsplit("/", 1)[1]
    assert {"code", "name", "country", "email"} <= set(DOCUMENT["components"]["schemas"][schema_name]["required"])
    assert "403" in operation("POST", "/api/v1/sections/{code}/returns")["responses"]


def test_every_route_the_service_declares_is_documented_once_with_a_stable_operation_id() -> None:
    declared = {(route.method, openapi_path(route.path)): name for name, route in declared_routes(GatewayService)}
    assert declared.keys() == OPERATIONS.keys()
    assert {key: op["operationId"] for key, op in OPERATIONS.items()} == declared  # the method's name
    own = {name for name, value in vars(GatewayService).items() if hasattr(value, "nameko_entrypoints")}
    assert own <= set(declared.values()), "every route of service.py carries its declaration"


def test_undeclared_routes_are_only_the_pages_and_stay_out_of_the_document() -> None:
    undeclared = [
        path for _, path, name in all_routes(GatewayService) if name not in dict(declared_routes(GatewayService))
    ]
    for path in undeclared:
        assert openapi_path(path) not in DOCUMENT["paths"]


def test_public_routes_say_so_and_the_others_need_a_bearer_token() -> None:
    public = {key for key, op in OPERATIONS.items() if op["security"] == []}
    assert ("GET", "/health") in public and ("GET", "/api/v1/ballots/{ballot_id}/record") in public
    for key, op in OPERATIONS.items():
        if key not in public:
            assert op["security"] == [{"bearer": []}], key
            assert {"401", "403"} <= op["responses"].keys(), key


def test_every_status_a_route_can_answer_is_documented_with_its_schema() -> None:
    for key, op in OPERATIONS.items():
        responses = op["responses"]
        assert {"400", "413", "429"} <= responses.keys(), key  # the edge answers these on any route
        if "{" in key[1]:
            assert "404" in responses, key
        for status, answer in responses.items():
            if status >= "400" and key != ("GET", "/health"):
                assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    record = operation("GET", "/api/v1/ballots/{ballot_id}/record")["responses"]
    assert {"200", "404", "409"} <= record.keys()
    assert record["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/RecordView"}
    assert "503" not in operation("GET", "/api/openapi.json")["responses"]  # no service behind it
    assert operation("GET", "/health")["responses"]["503"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/HealthView"
    }
    assert "WWW-Authenticate" in operation("GET", "/api/v1/sections")["responses"]["401"]["headers"]
    assert "Retry-After" in operation("GET", "/api/v1/sections")["responses"]["429"]["headers"]


def test_a_member_added_documents_its_credential_delivery() -> None:
    member = DOCUMENT["components"]["schemas"]["MemberView"]
    assert "credential_delivery" in member["properties"]


def test_query_parameters_are_declared_with_their_types() -> None:
    def query(method: str, path: str) -> dict[str, Any]:
        return {p["name"]: p["schema"] for p in operation(method, path)["parameters"] if p["in"] == "query"}

    replay = query("GET", "/api/v1/events/{producer}")
    assert replay["after"]["type"] == "integer" and replay["after"]["maximum"] == 2**63 - 1
    assert replay["limit"] == {"type": "integer", "default": 100, "minimum": 1, "maximum": 1000}
    assert query("GET", "/api/v1/sections/{code}/inbox")["unread"]["type"] == "boolean"
    assert query("GET", "/api/v1/tokens")["include_revoked"]["type"] == "boolean"
    assert set(query("GET", "/api/v1/deliveries")) == {"status", "channel", "event_type", "recipient", "limit"}
    assert set(query("GET", "/api/v1/sections")) == {"status", "country"}
    assert set(query("GET", "/api/v1/sections/{code}/nominations")) == {"apportionment_id"}


def test_what_validators_say_beyond_apispec_is_in_the_document() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    assert schemas["SectionContactsUpdate"]["minProperties"] == 1
    assert len(schemas["TokenRequest"]["oneOf"]) == 2
    assert len(schemas["CircularIssue"]["oneOf"]) == 2
    assert schemas["MemberAddition"]["properties"]["deliberative"]["type"] == "boolean"


def test_creating_routes_link_to_the_routes_that_take_what_they_created() -> None:
    links = operation("POST", "/api/v1/bodies")["responses"]["201"]["links"]
    assert links["get_body"] == {"operationId": "get_body", "parameters": {"body_id": "$response.body#/id"}}
    accredit = operation("POST", "/api/v1/bodies/{body_id}/members")["responses"]["201"]["links"]["accredit"]
    assert accredit["parameters"] == {"body_id": "$request.path.body_id", "member_id": "$response.body#/id"}
    section = operation("POST", "/api/v1/sections")["responses"]["201"]["links"]["get_section"]
    assert section["parameters"] == {"code": "$response.body#/code"}


def test_the_live_stream_is_documented_as_server_sent_events_with_its_position_parameters() -> None:
    stream = operation("GET", "/api/v1/stream")
    assert stream["operationId"] == "live_stream" and stream["security"] == []
    assert list(stream["responses"]["200"]["content"]) == ["text/event-stream"]
    assert {"200", "400", "503"} <= stream["responses"].keys()
    parameters = {(p["in"], p["name"]): p["schema"] for p in stream["parameters"]}
    position = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
    assert parameters == {("query", "after"): position, ("header", "Last-Event-ID"): position}


def test_the_voting_pages_list_is_for_delegates_and_answers_what_its_schema_says() -> None:
    from openapi_schema_validator import OAS30Validator

    from gateway.pages import _ballot_for_voter

    mine = operation("GET", "/api/v1/me/ballots")
    assert mine["operationId"] == "my_ballots" and mine["x-roles"] == ["delegate"]
    assert mine["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/MyBallotsView"
    }
    body = {"id": "b1", "name": "IEC", "kind": "iec", "deliberative": True, "accredited": True}
    motion = {
        "kind": "motion",
        "subject": {"id": "m1", "title": "T", "text": "X", "mover": "IEC", "majority_rule": "simple", "ballot_id": "1"},
        "ballot": {"id": "1", "secrecy": "secret", "status": "open", "result": None, "votes_cast": 0},
    }
    result = {"method": "meek", "seats": 1, "quota": "2.00000", "elected": ["c1"], "elected_names": ["Rosa"]}
    election = {
        "kind": "election",
        "subject": {
            "id": "e1",
            "title": "Elect",
            "method": "meek",
            "seats": 1,
            "candidates": [
                {"id": "c1", "name": "Rosa", "email": "r@example.org"},
                {"id": "c2", "name": "K", "withdrawn": True},
            ],
        },
        "ballot": {
            "id": "2",
            "secrecy": "named",
            "status": "closed",
            "result": {**result, "rounds": [], "reason": None},
        },
    }
    answer = {
        "member": {"id": "d1", "name": "Rosa", "section": None},
        "bodies": [body],
        "ballots": [_ballot_for_voter(body, motion), _ballot_for_voter(body, election)],
    }
    schema = {"$ref": "#/components/schemas/MyBallotsView", "components": DOCUMENT["components"]}
    OAS30Validator(schema).validate(answer)
    assert answer["ballots"][1]["subject"]["candidates"] == [{"id": "c1", "name": "Rosa"}]
    assert answer["ballots"][1]["result"] == result
    for wrong in ({**answer, "voters": []}, {**answer, "member": {"id": "d1", "name": "Rosa"}}):
        assert not OAS30Validator(schema).is_valid(wrong)
