"""The OpenAPI 3 document of the HTTP API, generated from the routes' declarations.

Each declared `@api` route of the gateway service (gateway/routes.py) is one operation: its
roles become its security and description, its schemas (the contract's marshmallow schemas)
its request body, query parameters and answers, and every status it can answer is listed with
its schema. Nothing here names a route: a route's declaration is its only description.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields

from congress.actors import SECTION_OFFICER
from congress.contract import api as bodies
from congress.contract.asyncapi import use_json_schema_formats
from congress.version import __version__
from gateway.routes import PATH_PARAMETER, Route, declared_routes


class ErrorDetail(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    fields_ = fields.Dict(
        data_key="fields",
        required=True,
        keys=fields.String(),
        metadata={"description": "field name -> list of messages"},
    )


class Error(Schema):
    error = fields.Nested(ErrorDetail, required=True)


ERRORS = {
    400: "invalid input (`fields` names each bad field), or a request the edge cannot read",
    401: "no bearer token, or an unknown or revoked one",
    403: "the token's role may not do this",
    404: "no such resource",
    409: "conflicts with the current state",
    413: "the request body is over 1 MiB",
    429: "too many failed authentications from this address; see Retry-After",
    503: "unavailable for now: a service behind did not answer in time, the broker is away or the gateway is busy",
}
ERROR_HEADERS = {
    401: {"WWW-Authenticate": 'Bearer, with error="invalid_token" when a token was presented'},
    429: {"Retry-After": "seconds until this address may try again"},
    503: {"Retry-After": "seconds to wait before trying again"},
}
SUCCESS = {200: "done", 201: "created"}


def openapi_path(werkzeug_path: str) -> str:
    return PATH_PARAMETER.sub(lambda match: "{" + match.group(2) + "}", werkzeug_path)


def _headers(described: dict[str, str]) -> dict[str, Any]:
    return {
        name: {"description": text, "required": True, "schema": {"type": "string"}} for name, text in described.items()
    }


def _body(route: Route) -> Any:
    if route.response is None:
        return {"type": "object"}  # a document of its own kind (this one, the AsyncAPI document)
    if route.many:
        return {
            "type": "object",
            "required": [route.many],
            "properties": {route.many: {"type": "array", "items": route.response}},
        }
    return route.response


def _roles(route: Route) -> str:
    if route.public:
        return "Public: no token needed."
    text = f"Roles: {', '.join(route.roles)}"
    if route.section_param and SECTION_OFFICER in route.roles:
        text += f" (a section officer for their own section only: `{route.section_param}`)"
    return text + "."


def _parameters(route: Route) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for name, converter in route.path_parameters.items():
        schema = route.params.get(name) or (
            {"type": "integer", "minimum": 0} if converter == "int" else {"type": "string"}
        )
        found.append({"name": name, "in": "path", "required": True, "schema": schema})
    if route.query is not None:
        found.append({"in": "query", "schema": route.query})  # apispec: one parameter per field
    for name, schema in route.request_headers.items():
        described = {key: value for key, value in schema.items() if key != "description"}
        header = {"name": name, "in": "header", "required": False, "schema": described}
        found.append({**header, "description": schema["description"]} if "description" in schema else header)
    return found


def _links(route: Route, routes: list[Route]) -> dict[str, Any]:
    """From a route that creates something to each route that takes it (and the creator's own
    path parameters, if any): what stateful tools such as schemathesis follow."""
    if route.creates is None:
        return {}
    value = "$response.body#/" + ("code" if route.creates == "code" else "id")
    links = {}
    for other in routes:
        needed = other.path_parameters
        if route.creates not in needed or not set(needed) - {route.creates} <= set(route.path_parameters):
            continue
        parameters = {name: f"$request.path.{name}" for name in needed}
        parameters[route.creates] = value
        links[other.operation_id] = {"operationId": other.operation_id, "parameters": parameters}
    return links


def _operation(route: Route, routes: list[Route]) -> dict[str, Any]:
    success: dict[str, Any] = {
        "description": SUCCESS.get(route.status, "done"),
        "content": {route.content_type: {"schema": _body(route)}},
    }
    if route.content_type != "application/json":
        success["content"] = {route.content_type: {"schema": {"type": "string"}}}
    if route.headers:
        success["headers"] = _headers(route.headers)
    links = _links(route, routes)
    if links:
        success["links"] = links
    responses: dict[str, Any] = {str(route.status): success}
    for status in route.statuses()[1:]:
        answer: dict[str, Any] = {
            "description": ERRORS.get(status, "done"),
            "content": {"application/json": {"schema": route.responses.get(status, "Error")}},
        }
        if status in ERROR_HEADERS:
            answer["headers"] = _headers(ERROR_HEADERS[status])
        responses[str(status)] = answer
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "description": "\n\n".join(part for part in (route.description, _roles(route)) if part),
        "tags": [route.tag],
        "x-roles": list(route.roles),
        "security": [] if route.public else [{"bearer": []}],
        "responses": responses,
    }
    parameters = _parameters(route)
    if parameters:
        operation["parameters"] = parameters
    if route.request is not None:
        operation["requestBody"] = {
            "required": not route.body_optional,
            "content": {"application/json": {"schema": route.request}},
        }
    return operation


def _null_or_the_schema(node: Any) -> Any:
    """apispec writes a nullable nested schema as `anyOf: [its $ref, {type: object, nullable}]`,
    whose second branch takes any object at all; it is made to take null only."""
    if isinstance(node, list):
        return [_null_or_the_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    found = {key: _null_or_the_schema(value) for key, value in node.items()}
    if isinstance(found.get("anyOf"), list):
        found["anyOf"] = [
            {**branch, "enum": [None]} if branch == {"type": "object", "nullable": True} else branch
            for branch in found["anyOf"]
        ]
    return found


def _with_extras(document: dict[str, Any]) -> dict[str, Any]:
    """What a request schema's validators say that apispec cannot (its JSON_SCHEMA), merged in."""
    components = document["components"]["schemas"]
    for name, schema in vars(bodies).items():
        extra = getattr(schema, "JSON_SCHEMA", None)
        if isinstance(schema, type) and issubclass(schema, Schema) and extra and name in components:
            components[name] = {**components[name], **extra}
    return document


@cache
def openapi_document(service_cls: type | None = None) -> dict[str, Any]:
    if service_cls is None:
        from gateway.service import GatewayService  # here: the service imports this module

        service_cls = GatewayService
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="congress HTTP API",
        version=__version__,
        openapi_version="3.0.3",
        plugins=[plugin],
        info={
            "description": 'Errors are always {"error": {"code", "message", "fields"}}. '
            "Every route declares its roles (`x-roles`) and every status it can answer."
        },
    )
    use_json_schema_formats(plugin)  # URLs as `format: uri`, as in the AsyncAPI document
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", schema=Error)
    routes = sorted((route for _, route in declared_routes(service_cls)), key=lambda r: (r.path, r.method))
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(openapi_path(route.path), {})[route.method.lower()] = _operation(route, routes)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return _with_extras(_null_or_the_schema(spec.to_dict()))
