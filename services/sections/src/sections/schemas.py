"""marshmallow schemas at the sections service's edge (its RPC payloads)."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from congress.contract.catalogue import SECTION_STATUSES
from congress.errors import InvalidInput

CODE = validate.Regexp(
    r"^[a-z][a-z0-9-]{1,31}$",
    error="2 to 32 lowercase letters, digits or hyphens, starting with a letter",
)


class SectionRegistration(Schema):
    class Meta:
        unknown = RAISE

    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    country = fields.String(required=True, validate=validate.Length(min=1, max=100))
    status = fields.String(load_default="section", validate=validate.OneOf(SECTION_STATUSES))
    email = fields.Email(required=True, validate=validate.Length(max=254))
    webhook_url = fields.Url(load_default=None, allow_none=True, schemes={"http", "https"}, require_tld=False)


class SectionView(Schema):
    code = fields.String()
    name = fields.String()
    country = fields.String()
    status = fields.String()
    email = fields.String()
    webhook_url = fields.String(allow_none=True)
    registered_at = fields.AwareDateTime(format="iso")


def load(schema: Schema, payload: Any) -> dict[str, Any]:
    """Validate a payload or raise InvalidInput with one message list per field."""
    if not isinstance(payload, dict):
        raise InvalidInput("the request body must be a JSON object", {"_schema": ["expected an object"]})
    try:
        return schema.load(payload)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        raise InvalidInput("the request has invalid fields", messages) from None
