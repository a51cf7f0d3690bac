"""One error vocabulary for the whole platform.

Domain code raises these; the gateway maps them to HTTP status codes and the CLI to exit
codes, each in one place. They carry only plain values so they cross RPC unchanged.
"""

from __future__ import annotations


class CongressError(Exception):
    """Something the caller got wrong; never a fault of the platform itself."""

    code = "error"

    def __init__(self, message: str, fields: dict | None = None) -> None:
        super().__init__(message, fields or {})
        self.message = message
        self.fields = fields or {}

    def __str__(self) -> str:
        return self.message


class InvalidInput(CongressError):
    code = "invalid_input"


class NotAuthenticated(CongressError):
    code = "not_authenticated"


class Forbidden(CongressError):
    code = "forbidden"


class NotFound(CongressError):
    code = "not_found"


class Conflict(CongressError):
    code = "conflict"


ALL_ERRORS: tuple[type[CongressError], ...] = (
    InvalidInput,
    NotAuthenticated,
    Forbidden,
    NotFound,
    Conflict,
)


def error_to_wire(error: CongressError) -> dict:
    """An error as one item of a batch's answers (a whole call's error crosses RPC by itself)."""
    return {"code": error.code, "message": error.message, "fields": error.fields}


def error_from_wire(wire: dict) -> CongressError:
    """The error `error_to_wire` sent, as its own class again (CongressError for a code unknown here)."""
    kind = next((error for error in ALL_ERRORS if error.code == wire.get("code")), CongressError)
    return kind(str(wire.get("message", "")), wire.get("fields") or {})
