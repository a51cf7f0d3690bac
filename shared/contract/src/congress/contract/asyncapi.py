"""The event contract as an AsyncAPI 3.0 document, generated from the marshmallow schemas.

Served by the gateway at /api/asyncapi.json and printed by `congress contract asyncapi`. It
describes the platform as the sender: each producer publishes to its topic exchange on the
broker in `servers`, one `send` operation per event type and version.
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import fields

from congress.contract.catalogue import CATALOGUE
from congress.contract.envelope import EnvelopeSchema
from congress.version import __version__

AMQP_BINDING_VERSION = "0.3.0"
SERVER = "broker"

# marshmallow field -> (JSON Schema type, format) where apispec's default is no JSON Schema
# format: its Url maps to "url", which validators ignore (jsonschema) or reject (ajv strict).
JSON_SCHEMA_FORMATS: dict[type, tuple[str | None, str | None]] = {fields.Url: ("string", "uri")}


def use_json_schema_formats(plugin: MarshmallowPlugin) -> None:
    """Make an initialised plugin's converter emit JSON Schema formats (the OpenAPI document needs it too)."""
    converter = plugin.converter
    assert converter is not None, "call after APISpec(..., plugins=[plugin])"
    # A copy on the instance: apispec's own map_to_openapi_type writes into its module-wide default.
    converter.field_mapping = {**converter.field_mapping, **JSON_SCHEMA_FORMATS}


def _json_schema(schema: Any) -> dict[str, Any]:
    # Nested schemas inline (a resolver returning None): each message's payload stands alone.
    plugin = MarshmallowPlugin(schema_name_resolver=lambda _schema: None)
    APISpec("congress", __version__, "3.1.0", plugins=[plugin])  # binds the converter to 3.1 types
    use_json_schema_formats(plugin)
    assert plugin.converter is not None
    return plugin.converter.schema2jsonschema(schema)


def message_name(event_type: str, version: int) -> str:
    return f"{event_type}.v{version}"


def _server() -> dict[str, Any]:
    return {
        "host": "{host}:{port}",
        # An AMQP URI's path is the vhost, URL-encoded: a variable, as each deployment picks its own.
        "pathname": "/{vhost}",
        "protocol": "amqp",
        "protocolVersion": "0.9.1",
        "title": "RabbitMQ",
        "description": "The broker of the services' `AMQP_URI`; every producer's exchange lives in its vhost.",
        "variables": {
            "host": {"default": "localhost", "description": "The broker's host name."},
            "port": {"default": "5672", "description": "The broker's AMQP port."},
            "vhost": {
                "default": "%2F",
                "description": "The virtual host, URL-encoded as in an AMQP URI: `%2F` is RabbitMQ's default `/`.",
            },
        },
        "security": [{"$ref": "#/components/securitySchemes/userPassword"}],
        # The AMQP server binding has no fields (reserved by the binding spec); present to name it.
        "bindings": {"amqp": {}},
    }


def _channel(producer: str) -> dict[str, Any]:
    exchange = f"{producer}.events"
    return {
        "address": exchange,
        "title": exchange,
        "description": f"Events of the {producer} service: its exchange, with the event type as routing key.",
        "servers": [{"$ref": f"#/servers/{SERVER}"}],
        "messages": {},
        "bindings": {
            "amqp": {
                "is": "routingKey",
                # No `vhost`: the binding takes a literal (default "/"), not a server variable;
                # the exchange is in the vhost of the server above.
                "exchange": {"name": exchange, "type": "topic", "durable": True, "autoDelete": False},
                "bindingVersion": AMQP_BINDING_VERSION,
            }
        },
    }


def asyncapi_document() -> dict[str, Any]:
    envelope = _json_schema(EnvelopeSchema())
    envelope["additionalProperties"] = False
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event_type, versions in sorted(CATALOGUE.items()):
        for version, (producer, schema_class) in sorted(versions.items()):
            name = message_name(event_type, version)
            summary = (schema_class.__doc__ or "").strip()
            payload = {
                **envelope,
                "properties": {
                    **envelope["properties"],
                    "type": {"const": event_type},
                    "version": {"const": version},
                    "producer": {"const": producer},
                    "data": _json_schema(schema_class()),
                },
            }
            messages[name] = {
                "name": name,
                "title": f"{event_type} (version {version})",
                "summary": summary,
                "contentType": "application/json",
                "payload": payload,
            }
            channel = channels.setdefault(producer, _channel(producer))
            channel["messages"][name] = {"$ref": f"#/components/messages/{name}"}
            operations[f"send.{name}"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{producer}"},
                "title": f"Publish {event_type}",
                "summary": summary,
                "messages": [{"$ref": f"#/channels/{producer}/messages/{name}"}],
                # Persistent messages, routed by the event type: publish-time (operation) properties.
                "bindings": {"amqp": {"deliveryMode": 2, "cc": [event_type], "bindingVersion": AMQP_BINDING_VERSION}},
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "congress events",
            "version": __version__,
            "description": (
                "Events of the congress platform. Each producer publishes to its durable topic exchange "
                "`<producer>.events` with the event type as routing key; bind your own durable queue, ack "
                "after applying an event and drop duplicates by event_id (delivery is at least once). A "
                "version only ever gains optional fields."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {SERVER: _server()},
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "securitySchemes": {
                "userPassword": {
                    "type": "userPassword",
                    "description": "The broker account: the user and password of `AMQP_URI`.",
                }
            },
        },
    }
