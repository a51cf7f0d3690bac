"""The hall's web pages, served by the gateway (spec section 4): the delegate's voting page
(`/vote`), the projector screen (`/hall/<congress id>`), the live stream they both read
(`/api/v1/stream`, see stream.py) and the JSON the voting page needs (`/api/v1/me/ballots`).

A mixin of `GatewayService`: it uses the service's `voting` RPC proxy and `_actor`. Pages are
server-rendered (Jinja2) with small plain scripts from /static; every page sends a strict
Content-Security-Policy (no inline script or style, nothing from another origin).
"""

from __future__ import annotations

import mimetypes
import re
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from werkzeug.wrappers import Request, Response

from congress.actors import DELEGATE
from congress.contract.api import MyBallotsView, StreamQuery
from congress.errors import InvalidInput, NotFound
from congress.rpc import ServiceUnavailable, call
from gateway.http import api, json_response
from gateway.routes import PUBLIC
from gateway.stream import STREAM_TYPES, Broadcaster, ShortCache, StreamHub, catch_up, frames, stream_feed

if TYPE_CHECKING:
    from congress.actors import Actor

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    )
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cache-Control": "no-store",
}
MAJORITY_RULES = {
    "simple": "more yes than no",
    "two_thirds": "yes at least two thirds of yes and no",
    "absolute": "yes more than half of the electorate",
}
OUTCOMES = {"adopted": "Adopted", "rejected": "Rejected", "no_quorum": "No quorum"}
METHODS = {"meek": "STV (Meek)", "wigm": "STV (WIGM)", "block": "Block vote"}
MAX_STAGES = 8  # columns of an STV count that fit a projector; the rest are summarised
MAX_POSITION = 2**63 - 1  # a BIGINT, as `after` (contract/api.py: POSITION)
POSITION = re.compile(r"[0-9]{1,19}")  # ASCII digits: str.isdigit() also takes "²", which int() does not
LAST_EVENT_ID = {
    "type": "integer",
    "minimum": 0,
    "maximum": MAX_POSITION,
    "description": "the id of the last event received (a browser sends it when it reconnects): "
    "send what came after it; it wins over `after`",
}


def votes(value: Any) -> str:
    """An STV total (a decimal string) as the hall reads it: whole votes without decimals."""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    return f"{number:.0f}" if number == number.to_integral_value() else f"{number:.2f}"


@cache
def templates() -> Environment:
    env = Environment(
        loader=PackageLoader("gateway", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["votes"] = votes
    env.globals.update(majority_rules=MAJORITY_RULES, outcomes=OUTCOMES, methods=METHODS)
    return env


def page(template: str, status: int = 200, **context: Any) -> Response:
    body = templates().get_template(template).render(**context)
    return Response(body, status=status, mimetype="text/html", headers=PAGE_HEADERS)


@cache
def static_files() -> dict[str, tuple[bytes, str]]:
    """The static folder, read once; only these names are served (no path ever reaches the disk)."""
    found: dict[str, tuple[bytes, str]] = {}

    def walk(folder: Any, prefix: str) -> None:
        for item in folder.iterdir():
            if item.is_dir():
                walk(item, f"{prefix}{item.name}/")
            elif not item.name.startswith("."):
                kind = mimetypes.guess_type(item.name)[0] or "application/octet-stream"
                if kind.startswith("text/") or kind in ("application/javascript", "image/svg+xml"):
                    kind += "; charset=utf-8"
                found[prefix + item.name] = (item.read_bytes(), kind)

    walk(resources.files("gateway") / "static", "")
    return found


def parse_position(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    if not POSITION.fullmatch(value) or int(value) > MAX_POSITION:
        raise InvalidInput(f"{name} must be a log position (a whole number)", {name: [value[:100]]})
    return int(value)


class HallPages:
    """Mixin for GatewayService: the voting page, the hall's projector screen and the live stream."""

    if TYPE_CHECKING:
        voting: Any

        def _actor(self, request: Request) -> Actor: ...

    stream = StreamHub()

    # The stream

    @stream_feed
    def read_stream_log(self, after: int, limit: int) -> list[dict[str, Any]]:
        """The broadcaster's read of the voting log (in a worker, so the call is signed)."""
        return call(self.voting.replay_events, after, limit, list(STREAM_TYPES))

    @api(
        "GET",
        "/api/v1/stream",
        summary="The live stream of public voting events (server-sent events)",
        tag="events",
        roles=PUBLIC,
        query=StreamQuery,
        content_type="text/event-stream",
        request_headers={"Last-Event-ID": LAST_EVENT_ID},
    )
    def live_stream(self, request: Request, query: dict[str, Any]) -> Response:
        """Server-sent events of the public voting events, as the hall's pages read them: each
        event's `id` is its position in the voting log, and `ready` says the client is caught up.
        With `after` or `Last-Event-ID` the stream first sends what came after that position,
        else it starts now. It never ends: the client closes it. 503 while the stream is starting
        (the voting service has not answered yet)."""
        after = parse_position(request.headers.get("Last-Event-ID"), "Last-Event-ID")
        if after is None:
            after = query.get("after")
        broadcaster: Broadcaster = self.stream
        if not broadcaster.wait_ready(timeout=10.0):
            raise ServiceUnavailable("the live stream is starting: the voting service has not answered yet")
        client, backlog = broadcaster.subscribe(after)
        if backlog is None and after is not None:
            try:
                backlog, caught_up = catch_up(self.read_stream_log, after, client.start)
            except BaseException:
                broadcaster.unsubscribe(client)
                raise
            if not caught_up:
                broadcaster.unsubscribe(client)
                client = None  # type: ignore[assignment]
        # eventlet buffers 4 KiB before writing unless told otherwise: each event must go at once.
        request.environ["eventlet.minimum_write_chunk_size"] = 0
        return Response(
            frames(broadcaster, client, backlog or []),
            status=200,
            mimetype="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no", "X-Content-Type-Options": "nosniff"},
        )

    # What pages read (cached briefly; see ShortCache)

    @property
    def _answers(self) -> ShortCache:
        return self.stream.answers

    def _ballot(self, ballot_id: str, fresh: bool = False) -> dict[str, Any]:
        key = ("ballot", ballot_id)
        found = self._answers.get(key, 0 if fresh else 2.0, lambda: call(self.voting.get_ballot, ballot_id))
        if found.get("status") == "closed":
            self._answers.forever(key, found)  # a closed ballot never changes
        return found

    def _ballots_of(self, body_id: str, fresh: bool = False) -> list[dict[str, Any]]:
        """Every ballot of a body with what it is about: motions in tabling order, then elections."""
        motions = self._answers.get(("motions", body_id), 2.0, lambda: call(self.voting.list_motions, body_id))
        elections = self._answers.get(("elections", body_id), 2.0, lambda: call(self.voting.list_elections, body_id))
        found = []
        for kind, subjects in (("motion", motions), ("election", elections)):
            for subject in subjects:
                if subject.get("ballot_id"):
                    ballot = self._ballot(subject["ballot_id"], fresh)
                    found.append({"kind": kind, "subject": subject, "ballot": ballot})
        return found

    # The delegate's page

    @api("GET", "/vote")
    def vote_page(self, request: Request) -> Response:
        return page("vote.html")

    @api(
        "GET",
        "/api/v1/me/ballots",
        summary="A delegate's ballots (the voting page's list)",
        tag="ballots",
        roles=(DELEGATE,),
        response=MyBallotsView,
    )
    def my_ballots(self, request: Request, actor: Actor) -> Response:
        """The credential holder, the bodies they belong to and the ballots of those bodies, open
        ones first: what each is about and whether they may vote in it, never who voted; a closed
        one with its public result."""
        bodies = self._answers.get("bodies", 2.0, lambda: call(self.voting.list_bodies))
        member: dict[str, Any] | None = None
        mine = []
        for body in bodies:
            members = self._answers.get(
                ("members", body["id"]), 2.0, lambda b=body: call(self.voting.list_members, b["id"])
            )
            me = next((m for m in members if m["id"] == actor.member), None)
            if me is None:
                continue
            member = member or {"id": me["id"], "name": me["name"], "section": me.get("section")}
            mine.append(
                {
                    "id": body["id"],
                    "name": body["name"],
                    "kind": body["kind"],
                    "deliberative": bool(me.get("deliberative")),
                    "accredited": bool(me.get("accredited")),
                }
            )
        ballots = []
        for body in mine:
            for item in self._ballots_of(body["id"]):
                ballots.append(_ballot_for_voter(body, item))
        ballots.sort(key=lambda b: b["status"] != "open")
        return json_response({"member": member, "bodies": mine, "ballots": ballots})

    # The hall's projector

    @api("GET", "/hall/<string:congress_id>")
    def hall_page(self, request: Request, congress_id: str) -> Response:
        # The stream position is taken before reading: the page replays whatever came after it.
        # None while the stream starts: the page then joins the stream live.
        position = self.stream.cursor if self.stream.wait_ready(timeout=2.0) else None
        try:
            hall = self._hall(congress_id, request.args.get("focus"))
        except NotFound:
            return page("message.html", 404, title="No such congress", message=f"There is no congress {congress_id}.")
        return page("hall.html", hall=hall, position="" if position is None else position)

    @api("GET", "/hall/<string:congress_id>/panel")
    def hall_panel(self, request: Request, congress_id: str) -> Response:
        """The changing part of the hall's screen, fetched by the page when a ballot opens or closes."""
        return page("hall_panel.html", hall=self._hall(congress_id, request.args.get("focus")))

    def _hall(self, congress_id: str, focus: str | None) -> dict[str, Any]:
        congress = self._answers.get(
            ("congress", congress_id), 1.0, lambda: call(self.voting.get_congress, congress_id)
        )
        hall: dict[str, Any] = {"congress": congress, "body": None, "open": [], "shown": None, "decided": []}
        body_id = congress.get("body_id")
        if not body_id:
            return hall
        hall["body"] = self._answers.get(("body", body_id), 2.0, lambda: call(self.voting.get_body, body_id))
        ballots = [_for_hall(item) for item in self._ballots_of(body_id, fresh=True)]
        hall["open"] = [b for b in ballots if b["status"] == "open"]
        closed = [b for b in ballots if b["status"] == "closed"]
        hall["decided"] = closed
        by_id = {b["id"]: b for b in closed}
        latest = self.stream.last_closed.get(body_id)
        hall["shown"] = by_id.get(focus or "") or by_id.get(latest or "") or (closed[-1] if closed else None)
        return hall

    @api("GET", "/static/<path:name>")
    def static(self, request: Request, name: str) -> Response:
        found = static_files().get(name)
        if found is None:
            raise NotFound(f"no static file {name!r}")
        body, kind = found
        return Response(
            body,
            status=200,
            content_type=kind,
            headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
        )


def _ballot_for_voter(body: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """What the voting page shows of a ballot: never who voted, only what it is about."""
    ballot, subject = item["ballot"], item["subject"]
    about: dict[str, Any] = {"id": subject["id"], "title": subject["title"]}
    if item["kind"] == "motion":
        about.update(
            text=subject.get("text", ""), mover=subject.get("mover"), majority_rule=subject.get("majority_rule")
        )
    else:
        about.update(
            method=subject.get("method"),
            seats=subject.get("seats"),
            candidates=[
                {"id": c["id"], "name": c["name"]}
                for c in sorted(subject.get("candidates", []), key=lambda c: c["name"])
                if not c.get("withdrawn")
            ],
        )
    result = ballot.get("result") or None
    return {
        "id": ballot["id"],
        "body_id": body["id"],
        "body_name": body["name"],
        "may_vote": body["deliberative"] and body["accredited"],
        "kind": item["kind"],
        "secrecy": ballot.get("secrecy"),
        "status": ballot.get("status"),
        "subject": about,
        "result": _public_result(result) if result else None,
    }


def _public_result(result: dict[str, Any]) -> dict[str, Any]:
    keep = ("outcome", "tally", "cast", "electorate", "majority_rule", "majority_met", "quorum", "quorum_met")
    if "elected" in result:
        keep = ("method", "seats", "quota", "elected", "elected_names")
    return {key: result[key] for key in keep if key in result}


def _for_hall(item: dict[str, Any]) -> dict[str, Any]:
    """A ballot as the projector shows it: turnout while open, the count once closed."""
    ballot, subject = item["ballot"], item["subject"]
    electorate = ballot.get("electorate") or 0
    shown: dict[str, Any] = {
        "id": ballot["id"],
        "kind": item["kind"],
        "title": subject["title"],
        "status": ballot["status"],
        "secrecy": ballot.get("secrecy"),
        "votes_cast": ballot.get("votes_cast") or 0,
        "electorate": electorate,
        "quorum": ballot.get("quorum") or 0,
        "majority_rule": subject.get("majority_rule"),
        "method": subject.get("method"),
        "seats": subject.get("seats"),
        "result": ballot.get("result"),
    }
    if item["kind"] == "election" and shown["result"]:
        names = {c["id"]: c["name"] for c in subject.get("candidates", [])}
        shown["count"] = _count_for_hall(shown["result"], names)
    return shown


def _count_for_hall(result: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """An election's count as stages a hall can follow: one column per stage, one row per candidate."""
    rounds = result.get("rounds", [])
    if len(rounds) > MAX_STAGES:
        # Keep the stages where someone was elected or excluded, the first and the last.
        eventful = [r for r in rounds if r.get("elected") or r.get("excluded")]
        picked = {id(r) for r in [rounds[0], *eventful[-(MAX_STAGES - 2) :], rounds[-1]]}
        rounds = [r for r in rounds if id(r) in picked]
    elected = list(result.get("elected", []))
    candidates = sorted(
        {cid for r in rounds for cid in r.get("votes", {})} | set(elected),
        key=lambda cid: (cid not in elected, elected.index(cid) if cid in elected else 0, names.get(cid, cid)),
    )
    return {
        "elected": [names.get(cid, cid) for cid in elected],
        "stages": [
            {
                "number": r.get("number"),
                "quota": r.get("quota"),
                "exhausted": r.get("exhausted"),
                "elected": [names.get(c, c) for c in r.get("elected", [])],
                "excluded": [names.get(c, c) for c in r.get("excluded", [])],
                "note": r.get("note", ""),
            }
            for r in rounds
        ],
        "rows": [
            {
                "name": names.get(cid, cid),
                "elected": cid in elected,
                "cells": [
                    {
                        "votes": r.get("votes", {}).get(cid),
                        "elected": cid in r.get("elected", []),
                        "excluded": cid in r.get("excluded", []),
                    }
                    for r in rounds
                ],
            }
            for cid in candidates
        ],
        "all_stages": len(result.get("rounds", [])),
    }
