"""The gateway's HTTP edge: JSON in and out, one mapping from errors to status codes, and a
correlation id that follows the request through every RPC and event it causes."""

from __future__ import annotations

import json
import logging
import uuid
from functools import partial
from typing import Any

from eventlet.event import Event
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer, WsgiApp
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.wrappers import Request, Response

from congress.errors import (
    Conflict,
    CongressError,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    NotFound,
)
from congress.rpc import ServiceUnavailable

log = logging.getLogger(__name__)

STATUS: dict[type[CongressError], int] = {
    InvalidInput: 400,
    NotAuthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
}


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(payload), status=status, mimetype="application/json", headers=headers)


def error_response(status: int, code: str, message: str, fields: dict | None = None) -> Response:
    return json_response({"error": {"code": code, "message": message, "fields": fields or {}}}, status)


def read_json(request: Request) -> Any:
    try:
        return json.loads(request.get_data(as_text=True) or "null")
    except ValueError as exc:
        raise InvalidInput(f"the request body is not valid JSON: {exc}", {"_body": ["not valid JSON"]}) from None


def optional_json(request: Request) -> Any:
    """The body when there is one; an empty object for the actions whose body is optional."""
    return read_json(request) if request.get_data() else {}


class JsonWsgiApp(WsgiApp):
    """nameko's WSGI app, but a path or method with no route answers in the API's error shape."""

    def __call__(self, environ: dict, start_response: Any) -> Any:
        request = Request(environ, shallow=True)
        try:
            provider, values = self.url_map.bind_to_environ(environ).match()
            request.path_values = values
            response = provider.handle_request(request)
        except HTTPException as exc:
            code = {404: "not_found", 405: "method_not_allowed"}.get(exc.code or 500, "http_error")
            response = error_response(exc.code or 500, code, exc.description or exc.name)
            if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
                response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response(environ, start_response)


class JsonWebServer(WebServer):
    def get_wsgi_app(self) -> JsonWsgiApp:
        return JsonWsgiApp(self)


class ApiEntrypoint(HttpRequestHandler):
    server = JsonWebServer()

    def __init__(self, method: str, url: str, **kwargs: Any) -> None:
        kwargs.setdefault("expected_exceptions", (CongressError, ServiceUnavailable))
        super().__init__(method, url, **kwargs)

    def handle_request(self, request: Request) -> Response:
        request.shallow = False
        correlation_id = request.headers.get("X-Correlation-Id") or str(uuid.uuid4())
        try:
            args, kwargs = self.get_entrypoint_parameters(request)
            self.check_signature(args, kwargs)
            done = Event()
            self.container.spawn_worker(
                self,
                args,
                kwargs,
                context_data={"correlation_id": correlation_id},
                handle_result=partial(self.handle_result, done),
            )
            response = self.response_from_result(done.wait())
        except Exception as exc:
            response = self.response_from_exception(exc)
        response.headers["X-Correlation-Id"] = correlation_id
        return response

    def response_from_exception(self, exc: Exception) -> Response:
        for error_type, status in STATUS.items():
            if isinstance(exc, error_type):
                return error_response(status, exc.code, exc.message, exc.fields)
        if isinstance(exc, ServiceUnavailable):
            return error_response(503, "unavailable", str(exc))
        log.error("unexpected error in the gateway", exc_info=exc)
        return error_response(500, "internal", "an unexpected error occurred; it has been logged")


api = ApiEntrypoint.decorator
