from __future__ import annotations

from openapi_spec_validator import validate

from gateway.openapi import OPERATIONS, openapi_document, openapi_path
from gateway.service import routes


def test_every_route_is_documented_and_every_documented_route_exists() -> None:
    assert sorted(routes()) == sorted((op.method, op.path) for op in OPERATIONS)


def test_the_document_is_valid_openapi_with_the_contract_schemas() -> None:
    document = openapi_document()

    validate(document)
    registration = document["paths"]["/api/v1/sections"]["post"]["requestBody"]["content"]["application/json"]
    schema_name = registration["schema"]["$ref"].rsplit("/", 1)[1]
    assert {"code", "name", "country", "email"} <= set(document["components"]["schemas"][schema_name]["required"])
    assert "403" in document["paths"][openapi_path("/api/v1/sections/<string:code>/returns")]["post"]["responses"]
