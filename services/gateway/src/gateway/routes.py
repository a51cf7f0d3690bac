"""Each HTTP route declared once, on the decorator that registers it (`@api` in gateway/http.py).

A declaration says who may call the route (roles from congress.actors, or PUBLIC), what it takes
(request body, query, path, request headers) and what it answers (each status with its schema).
The gateway enforces the roles and the query from it before the method's body runs, and
gateway/openapi.py builds the OpenAPI document from the same declarations: nothing is written
twice.

A route registered with no declaration (`@api("GET", "/vote")`) is neither enforced nor
documented here: the method does what it needs itself.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema
from werkzeug.wrappers import Request, Response

from congress.actors import Actor, known_roles, require_roles
from congress.contract.api import load
from congress.errors import InvalidInput, NotFound

PUBLIC: tuple[str, ...] = ()  # no token needed: `security: []` in the document

PATH_PARAMETER = re.compile(r"<(?:([a-z]+)(?:\([^)]*\))?:)?([a-z_]+)>")

Handler = Callable[..., Response]


@dataclass(frozen=True)
class Route:
    """What one route is, for the gateway (enforcement) and the OpenAPI document.

    `roles`: who may call it (PUBLIC for anyone); with `section_param`, a section officer only for
    the section named by that path parameter. `request`: the JSON body's schema (`body_optional`
    when the body may be left out). `query`: the query string's schema, checked here (400).
    `response` and `status`: the success answer (`many`: a list under that key). `errors`: statuses
    beyond those the declaration implies (400, 413, 429 always; 401 and 403 when a token is
    needed; 404 with a path parameter; 503 when a service behind is called, unless `offline`).
    `responses`: statuses answered with a schema of their own rather than the Error. `params`: a
    path parameter's JSON Schema (a string by default). `request_headers`: request headers the
    route reads, each with its JSON Schema (whose `description` says what it does); the method
    checks them itself. `creates`: the path parameter the answer's id (its code, for `code`)
    fills: the document links the route to those that take it. `references`: body fields that
    name another resource; one that names none is a 400 naming the field, not a 404 (which says
    the URL's resource does not exist)."""

    method: str
    path: str  # werkzeug syntax
    summary: str
    tag: str
    roles: tuple[str, ...]
    operation_id: str = ""
    description: str = ""
    section_param: str | None = None
    request: type[Schema] | None = None
    body_optional: bool = False
    query: type[Schema] | None = None
    response: type[Schema] | None = None
    many: str | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    offline: bool = False
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)  # success answer's headers: name -> description
    creates: str | None = None
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # path parameter -> JSON Schema
    request_headers: dict[str, dict[str, Any]] = field(default_factory=dict)  # request header -> JSON Schema
    responses: dict[int, type[Schema]] = field(default_factory=dict)  # statuses whose body is not an Error
    references: tuple[str, ...] = ()  # body fields naming other resources (see guarded)
    # A delegate's credential is identified by the service the route calls, in that same call (one
    # RPC per vote): `actor` is None for it, and the method passes the credential on.
    credential_in_call: bool = False

    def __post_init__(self) -> None:
        known_roles(self.roles)
        if self.section_param is not None and self.section_param not in self.path_parameters:
            raise ValueError(f"{self.path}: section_param {self.section_param!r} is not a path parameter")
        if self.credential_in_call and "delegate" not in self.roles:
            raise ValueError(f"{self.path}: only a route delegates may call can leave their credential to the service")
        if self.many is not None and self.response is None:
            raise ValueError(f"{self.path}: a list key needs the response schema of its items")

    @property
    def public(self) -> bool:
        return not self.roles

    @property
    def path_parameters(self) -> dict[str, str]:
        """name -> werkzeug converter (`string`, `int`, `path`), in path order."""
        return {name: converter or "string" for converter, name in PATH_PARAMETER.findall(self.path)}

    def statuses(self) -> list[int]:
        """Every status the route can answer, success first."""
        found = {self.status, 400, 413, 429, *self.errors, *self.responses}
        if not self.public:
            found |= {401, 403}
        if self.path_parameters:
            found.add(404)
        if not self.offline:
            found.add(503)
        return [self.status, *sorted(found - {self.status})]


def guarded(fn: Handler, route: Route) -> Handler:
    """The method as the worker calls it: the declared roles and query are checked first.

    The body gets `actor` (the authenticated caller) and `query` (the loaded query) as keyword
    arguments when its signature names them."""
    wanted = inspect.signature(fn).parameters
    for name in route.path_parameters:
        if name not in wanted:
            raise TypeError(f"{fn.__name__} does not take the path parameter {name!r} of {route.path}")

    @functools.wraps(fn)
    def entry(self: Any, request: Request, **path: Any) -> Response:
        extra: dict[str, Any] = {}
        if not route.public:
            # 401, or 403 for a revoked credential; None: a credential the called service identifies
            actor: Actor | None = (
                self._actor(request, credential_in_call=True) if route.credential_in_call else self._actor(request)
            )
            if actor is not None:
                section = path.get(route.section_param) if route.section_param else None
                require_roles(actor, route.roles, section)  # 403
            if "actor" in wanted:
                extra["actor"] = actor
        if route.query is not None:
            query = load(route.query(), request.args.to_dict())  # 400, naming the parameter
            if "query" in wanted:
                extra["query"] = query
        if not route.references:
            return fn(self, request, **path, **extra)
        try:
            return fn(self, request, **path, **extra)
        except NotFound as exc:
            raise _bad_reference(exc, route, request, path) from None

    return entry


def _bad_reference(exc: NotFound, route: Route, request: Request, path: dict[str, Any]) -> Exception:
    """The services answer NotFound for any id they do not find, the body's included; the
    gateway says which: an id the body names (and the URL does not) is the caller's bad input."""
    try:
        body = json.loads(request.get_data(as_text=True) or "null")
    except ValueError:
        return exc
    if not isinstance(body, dict):
        return exc
    for name in route.references:
        value = body.get(name)
        if isinstance(value, str) and repr(value) in exc.message and value not in path.values():
            return InvalidInput(f"{name}: {exc.message}", {name: [exc.message]})
    return exc


def declared_routes(service_cls: type) -> Iterator[tuple[str, Route]]:
    """(method name, declaration) of each declared route of a service class, its bases' included."""
    seen: set[str] = set()
    for klass in service_cls.__mro__:
        for name, attribute in vars(klass).items():
            if name in seen:
                continue
            seen.add(name)
            for entrypoint in getattr(attribute, "nameko_entrypoints", ()):
                route = getattr(entrypoint, "route", None)
                if route is not None:
                    yield name, route


def all_routes(service_cls: type) -> list[tuple[str, str, str]]:
    """(method, path, method name) of every HTTP route of a service class, declared or not."""
    found, seen = [], set()
    for klass in service_cls.__mro__:
        for name, attribute in vars(klass).items():
            if name in seen:
                continue
            seen.add(name)
            for entrypoint in getattr(attribute, "nameko_entrypoints", ()):
                if hasattr(entrypoint, "url"):
                    found.append((entrypoint.method, entrypoint.url, name))
    return found
