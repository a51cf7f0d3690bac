"""A route's declaration is enforced before its body runs (issue 15): the caller authenticated,
the declared roles (and section) checked, the query loaded; and a declaration that cannot be
right fails at import, not at run time."""

from __future__ import annotations

from typing import Any

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from congress.actors import ADMIN, ANYONE, DELEGATE, OBSERVER, SECTION_OFFICER, Actor
from congress.contract import api as bodies
from congress.errors import Forbidden, InvalidInput, NotAuthenticated, NotFound
from gateway.http import ApiEntrypoint, api, json_response
from gateway.routes import PUBLIC, Route, declared_routes

TOKENS = {
    "admin": Actor(ADMIN),
    "observer": Actor(OBSERVER),
    "officer-ew": Actor(SECTION_OFFICER, section="ew"),
}


class Service:
    calls: list[tuple[str, dict[str, Any]]]

    def __init__(self) -> None:
        self.calls = []

    def _actor(self, request: Request, credential_in_call: bool = False) -> Actor | None:
        token = (request.headers.get("Authorization") or "").removeprefix("Bearer ")
        if credential_in_call and token.startswith("dc_"):
            return None  # as the gateway: the route's own call identifies a delegate's credential
        if token not in TOKENS:
            raise NotAuthenticated("no")
        return TOKENS[token]

    @api("POST", "/votes", summary="Delegates", tag="t", roles=(DELEGATE,), credential_in_call=True)
    def vote(self, request: Request, actor: Actor | None) -> Response:
        self.calls.append(("vote", {"actor": actor}))
        return json_response({})

    @api("GET", "/open", summary="Open to all", tag="t", roles=PUBLIC)
    def open(self, request: Request) -> Response:
        self.calls.append(("open", {}))
        return json_response({})

    @api("POST", "/admin", summary="Admins only", tag="t", roles=(ADMIN,))
    def admin_only(self, request: Request, actor: Actor) -> Response:
        self.calls.append(("admin_only", {"actor": actor}))
        return json_response({})

    @api(
        "GET",
        "/sections/<string:code>/inbox",
        summary="Own section",
        tag="t",
        roles=(ADMIN, SECTION_OFFICER),
        section_param="code",
        query=bodies.InboxFilter,
    )
    def inbox(self, request: Request, code: str, query: dict[str, Any]) -> Response:
        self.calls.append(("inbox", {"code": code, "query": query}))
        return json_response({})

    @api("GET", "/returns/<string:code>", summary="Any role", tag="t", roles=ANYONE, section_param="code")
    def returns(self, request: Request, code: str) -> Response:
        self.calls.append(("returns", {"code": code}))
        return json_response({})

    @api(
        "POST",
        "/bodies/<string:body_id>/elections",
        summary="References",
        tag="t",
        roles=(ADMIN,),
        references=("fills_body_id",),
    )
    def elect(self, request: Request, body_id: str) -> Response:
        raise NotFound(f"no body {request.get_json()['fills_body_id']!r}")

    @api("GET", "/page")
    def page(self, request: Request) -> Response:
        """Undeclared, as the pages mixin's routes: the method does its own checks."""
        self.calls.append(("page", {}))
        return Response("<p>hi</p>", mimetype="text/html")


def call(name: str, path: str, method: str = "GET", token: str | None = None, **kwargs: Any) -> Service:
    service = Service()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = Request(EnvironBuilder(method=method, path=path, headers=headers, **kwargs).get_environ())
    getattr(service, name)(request)
    return service


def test_a_public_route_runs_with_no_token() -> None:
    assert call("open", "/open").calls == [("open", {})]


def test_the_declared_roles_are_checked_before_the_body_runs() -> None:
    with pytest.raises(NotAuthenticated):
        call("admin_only", "/admin", "POST")
    with pytest.raises(Forbidden, match="needs the role admin"):
        call("admin_only", "/admin", "POST", token="observer")
    assert call("admin_only", "/admin", "POST", token="admin").calls == [("admin_only", {"actor": Actor(ADMIN)})]


def test_a_credential_left_to_the_call_still_meets_the_declared_roles_for_every_other_token() -> None:
    """One RPC per vote: a delegate's credential goes to voting with the vote (actor None), but
    any other token is identified and its roles checked here, as on every route."""
    assert call("vote", "/votes", "POST", token="dc_anything").calls == [("vote", {"actor": None})]
    with pytest.raises(Forbidden, match="needs the role delegate"):
        call("vote", "/votes", "POST", token="admin")
    with pytest.raises(NotAuthenticated):
        call("vote", "/votes", "POST", token="nobody")
    with pytest.raises(NotAuthenticated):
        call("vote", "/votes", "POST")
    with pytest.raises(ValueError, match="only a route delegates may call"):
        Route("POST", "/x", summary="x", tag="t", roles=(ADMIN,), credential_in_call=True)


def test_a_section_officer_acts_for_their_own_section_only() -> None:
    service = Service()
    builder = EnvironBuilder(path="/sections/ew/inbox", query_string="unread=true&limit=5")
    mine = Request({**builder.get_environ(), "HTTP_AUTHORIZATION": "Bearer officer-ew"})
    service.inbox(mine, code="ew")
    assert service.calls == [("inbox", {"code": "ew", "query": {"unread": True, "limit": 5}})]
    other = Request(
        {**EnvironBuilder(path="/sections/sp/inbox").get_environ(), "HTTP_AUTHORIZATION": "Bearer officer-ew"}
    )
    with pytest.raises(Forbidden, match="'ew', not 'sp'"):
        service.inbox(other, code="sp")
    observer = Request(
        {**EnvironBuilder(path="/sections/ew/inbox").get_environ(), "HTTP_AUTHORIZATION": "Bearer observer"}
    )
    with pytest.raises(Forbidden):
        service.inbox(observer, code="ew")
    # With every role admitted, only officers are held to their section.
    for token, code, allowed in (("observer", "sp", True), ("officer-ew", "ew", True), ("officer-ew", "sp", False)):
        request = Request(
            {**EnvironBuilder(path=f"/returns/{code}").get_environ(), "HTTP_AUTHORIZATION": f"Bearer {token}"}
        )
        if allowed:
            service.returns(request, code=code)
        else:
            with pytest.raises(Forbidden):
                service.returns(request, code=code)


@pytest.mark.parametrize("query", ["limit=①", "limit=٣", "limit=%2B3", "limit=3_0", "unread=yes", "limit=0", "x=1"])
def test_the_declared_query_is_loaded_strictly(query: str) -> None:
    request = Request(
        {
            **EnvironBuilder(path="/sections/ew/inbox", query_string=query).get_environ(),
            "HTTP_AUTHORIZATION": "Bearer admin",
        }
    )
    with pytest.raises(InvalidInput):
        Service().inbox(request, code="ew")


def test_an_id_the_body_names_and_nobody_has_is_a_400_naming_the_field() -> None:
    request = Request(
        {
            **EnvironBuilder(method="POST", path="/bodies/b1/elections", json={"fills_body_id": "nope"}).get_environ(),
            "HTTP_AUTHORIZATION": "Bearer admin",
        }
    )
    with pytest.raises(InvalidInput) as refused:
        Service().elect(request, body_id="b1")
    assert refused.value.fields == {"fills_body_id": ["no body 'nope'"]}
    same = Request(
        {
            **EnvironBuilder(method="POST", path="/bodies/b1/elections", json={"fills_body_id": "b1"}).get_environ(),
            "HTTP_AUTHORIZATION": "Bearer admin",
        }
    )
    with pytest.raises(NotFound):  # the URL's own body: a 404 still
        Service().elect(same, body_id="b1")


def test_an_undeclared_route_is_registered_as_before_and_left_alone() -> None:
    assert call("page", "/page").calls == [("page", {})]
    (entrypoint,) = Service.page.nameko_entrypoints  # type: ignore[attr-defined]
    assert isinstance(entrypoint, ApiEntrypoint) and entrypoint.route is None
    assert "page" not in dict(declared_routes(Service))
    assert dict(declared_routes(Service))["inbox"].operation_id == "inbox"


def test_a_declaration_that_cannot_be_right_fails_at_import() -> None:
    with pytest.raises(ValueError, match="unknown roles"):
        Route("GET", "/x", "s", "t", roles=("admni",))
    with pytest.raises(ValueError, match="section_param"):
        Route("GET", "/x/<code>", "s", "t", roles=(ADMIN,), section_param="section")
    with pytest.raises(TypeError, match="path parameter 'code'"):

        @api("GET", "/y/<string:code>", summary="s", tag="t", roles=(ADMIN,))
        def wrong(self: Any, request: Request) -> Response:
            raise AssertionError


def test_statuses_follow_from_the_declaration() -> None:
    assert Route("GET", "/a", "s", "t", roles=PUBLIC, offline=True).statuses() == [200, 400, 413, 429]
    assert Route("POST", "/b/<string:b_id>", "s", "t", roles=(ADMIN,), status=201, errors=(409,)).statuses() == [
        201,
        400,
        401,
        403,
        404,
        409,
        413,
        429,
        503,
    ]
