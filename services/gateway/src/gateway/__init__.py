"""The gateway: the HTTP API, its OpenAPI document and web pages. It owns no data."""
