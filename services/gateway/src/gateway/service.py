"""The gateway's HTTP API. Each route: authenticate, call the owning service by RPC, answer."""

from __future__ import annotations

from nameko.rpc import RpcProxy
from werkzeug.wrappers import Request, Response

from congress import __version__
from congress.contract.asyncapi import asyncapi_document
from congress.errors import InvalidInput, NotFound
from congress.messaging.nameko_edge import LogContext
from congress.rpc import ServiceUnavailable, call
from gateway.auth import Principal, TokenBook, require
from gateway.http import api, json_response, read_json

BACKENDS = ("sections", "voting", "secretariat")


class GatewayService:
    name = "gateway"

    sections = RpcProxy("sections")
    voting = RpcProxy("voting")
    secretariat = RpcProxy("secretariat")
    log_context = LogContext()

    tokens = TokenBook.from_environment()

    def _principal(self, request: Request) -> Principal:
        return self.tokens.authenticate(request.headers.get("Authorization"))

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

    @api("GET", "/api/asyncapi.json")
    def asyncapi(self, request: Request) -> Response:
        return json_response(asyncapi_document())

    @api("POST", "/api/v1/sections")
    def register_section(self, request: Request) -> Response:
        require(self._principal(request), "admin")
        section = call(self.sections.register_section, read_json(request))
        return json_response(section, 201, {"Location": f"/api/v1/sections/{section['code']}"})

    @api("GET", "/api/v1/sections")
    def list_sections(self, request: Request) -> Response:
        self._principal(request)
        return json_response({"sections": call(self.sections.list_sections)})

    @api("GET", "/api/v1/sections/<string:code>")
    def get_section(self, request: Request, code: str) -> Response:
        self._principal(request)
        return json_response(call(self.sections.get_section, code))

    @api("GET", "/api/v1/events/<string:producer>")
    def replay_events(self, request: Request, producer: str) -> Response:
        """A producer's event log from a position on, for subscribers that were down or join late."""
        require(self._principal(request), "admin", "secretariat", "observer")
        if producer not in BACKENDS:
            raise NotFound(f"no producer {producer!r}; producers are {', '.join(BACKENDS)}")
        after, limit = request.args.get("after", "0"), request.args.get("limit", "100")
        if not (after.isdigit() and limit.isdigit()):
            raise InvalidInput("after and limit must be whole numbers", {"after": [after], "limit": [limit]})
        entries = call(getattr(self, producer).replay_events, int(after), int(limit))
        return json_response({"events": entries, "next_after": entries[-1]["position"] if entries else int(after)})

    @api("GET", "/api/v1/notifications")
    def centre_notifications(self, request: Request) -> Response:
        require(self._principal(request), "admin", "secretariat")
        return json_response({"notifications": call(self.secretariat.list_notifications, "centre")})
