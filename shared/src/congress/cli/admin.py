"""`congress sections|returns|apportion|nominations|tokens …`: admin commands over the HTTP API.

Standard library only (urllib), so the command line needs nothing beyond the `congress` package.
The URL comes from --url, $CONGRESS_URL, the config file, or the default; the token from
$CONGRESS_TOKEN or the config file (never the command line, where `ps` would show it). The config
file is JSON, {"url": …, "token": …}, at $CONGRESS_CONFIG or ~/.config/congress/config.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from congress.cli.count import table
from congress.contract.api import APPORTIONMENT_METHODS
from congress.contract.catalogue import SECTION_STATUSES

DEFAULT_URL = "http://127.0.0.1:8000"
# Above the gateway's own 30 s bound on an apportionment, so the gateway's 503 arrives first.
TIMEOUT = 60.0


class AdminError(Exception):
    """An API error, an unreachable API or a missing setting: one line on stderr, exit status 1."""


# Settings


def config_path() -> Path:
    return Path(os.environ.get("CONGRESS_CONFIG") or Path.home() / ".config" / "congress" / "config.json")


def read_config() -> dict[str, Any]:
    path = config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        # The default path is optional; a path the user named explicitly must exist.
        if os.environ.get("CONGRESS_CONFIG"):
            raise AdminError(f"config file {path} (from CONGRESS_CONFIG) does not exist") from None
        return {}
    except OSError as exc:
        raise AdminError(f"config file {path}: cannot read: {exc.strerror}") from None
    try:
        config = json.loads(text)
    except ValueError as exc:
        raise AdminError(f"config file {path}: not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise AdminError(f'config file {path}: expected a JSON object like {{"url": "…", "token": "…"}}')
    return config


@dataclass
class Client:
    url: str
    token: str

    @classmethod
    def from_settings(cls, url: str | None) -> Client:
        # Environment first, the config file only for what the environment leaves unset.
        url = url or os.environ.get("CONGRESS_URL") or None
        token = os.environ.get("CONGRESS_TOKEN") or None
        if url is None or token is None:
            config = read_config()
            url = url or config.get("url") or DEFAULT_URL
            token = token or config.get("token") or None
        if not token:
            raise AdminError(
                f'no API token: set CONGRESS_TOKEN or put {{"token": "…"}} in the config file {config_path()}'
            )
        return cls(url=str(url).rstrip("/"), token=str(token))

    def call(self, method: str, path: str, body: Any = None, query: dict[str, str | None] | None = None) -> Any:
        """One API call: the decoded JSON answer, or AdminError with the API's error in one line."""
        url = self.url + path
        wanted = {k: v for k, v in (query or {}).items() if v is not None}
        if wanted:
            url += "?" + urllib.parse.urlencode(wanted)
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise AdminError(describe_http_error(exc.code, exc.reason, exc.read())) from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            why = (reason.strerror or str(reason)) if isinstance(reason, OSError) else str(reason)
            raise AdminError(f"cannot reach the API at {self.url}: {why}") from None
        except TimeoutError:
            raise AdminError(f"the API at {self.url} did not answer within {TIMEOUT:.0f} s") from None
        except (ValueError, OSError) as exc:  # e.g. a --url with no scheme, or a dropped connection
            raise AdminError(f"cannot call the API at {self.url}: {exc}") from None
        try:
            return json.loads(raw)
        except ValueError:
            raise AdminError(f"{url} did not answer with JSON; is {self.url} the congress API?") from None


def describe_http_error(status: int, reason: str, raw: bytes) -> str:
    """`400 invalid_input: message (field: problem; …)`, or the bare status if the body is not the API's."""
    try:
        error = json.loads(raw)["error"]
        code, message = error["code"], error["message"]
    except (ValueError, KeyError, TypeError):
        return f"{status} {reason} (not an answer from the congress API?)"
    problems = "; ".join(f"{name}: {text}" for name, text in flatten_fields(error.get("fields") or {}))
    line = f"{status} {code}: {message}" + (f" ({problems})" if problems else "")
    return " ".join(line.split())  # one line, whatever the messages contain


def flatten_fields(fields: Any, prefix: str = "") -> list[tuple[str, str]]:
    """marshmallow's messages (lists, or dicts for nested fields) as (dotted field, message) pairs."""
    if isinstance(fields, dict):
        return [pair for key, value in fields.items() for pair in flatten_fields(value, f"{prefix}{key}.")]
    if isinstance(fields, list):
        return [pair for value in fields for pair in flatten_fields(value, prefix)]
    return [(prefix.rstrip("."), str(fields))]


# Output


def show(value: Any) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "–"
    return str(value)


def when(value: str | None) -> str:
    """An ISO timestamp to the minute, for tables (the --json output keeps it exact)."""
    if not value:
        return "–"
    text = value.replace("T", " ")[:16]
    return text + " UTC" if value.endswith(("+00:00", "Z")) else text


def print_fields(obj: dict[str, Any], skip: tuple[str, ...] = ()) -> None:
    keys = [k for k in obj if k not in skip]
    width = max((len(k) for k in keys), default=0) + 1
    for key in keys:
        print(f"{key + ':':<{width}} {show(obj[key])}")


Columns = tuple[tuple[str, Callable[[dict[str, Any]], Any]], ...]


def print_rows(items: list[dict[str, Any]], columns: Columns, empty: str, numeric: tuple[int, ...] = ()) -> None:
    if not items:
        print(empty)
        return
    rows = [tuple(show(get(item)) for _, get in columns) for item in items]
    table(tuple(name for name, _ in columns), rows, numeric=numeric)


def print_apportionment(result: dict[str, Any]) -> None:
    quotient = "quota" if result["method"] == "hamilton" else "last priority"
    print(f"apportionment {result['id']}")
    print(
        f"{result['method']}: {result['seats']} seats, minimum {result['minimum']} per section, "
        f"returns up to {result['cutoff']}, calculated {when(result['calculated_at'])}"
    )
    rows = [
        (a["section"], str(a["members"]), str(a["seats"]), show(a["priority"]), show(a["return_as_of"]))
        for a in result["allocations"]
    ]
    table(("section", "members", "seats", quotient, "return as of"), rows, numeric=(1, 2, 3))
    for tie in result["ties"]:
        print(
            f"tie: {', '.join(tie['sections'])} level for the last {tie['seats']} seat(s); "
            f"settled by {tie['resolved_by']} (seed {tie['seed']}): {', '.join(tie['winners'])}"
        )
    if result["without_return"]:
        print(f"no return by the cut-off (counted as 0 members): {', '.join(result['without_return'])}")


SECTION_COLUMNS: Columns = (
    ("code", lambda s: s["code"]),
    ("name", lambda s: s["name"]),
    ("country", lambda s: s["country"]),
    ("status", lambda s: s["status"]),
    ("email", lambda s: s["email"]),
    ("registered", lambda s: when(s["registered_at"])),
)
RETURN_COLUMNS: Columns = (
    ("as of", lambda r: r["as_of"]),
    ("members", lambda r: r["members"]),
    ("supporters", lambda r: r["supporters"]),
    ("filed", lambda r: when(r["filed_at"])),
    ("filed by", lambda r: r["filed_by"]),
    ("id", lambda r: r["id"]),
)
APPORTIONMENT_COLUMNS: Columns = (
    ("id", lambda a: a["id"]),
    ("calculated", lambda a: when(a["calculated_at"])),
    ("method", lambda a: a["method"]),
    ("seats", lambda a: a["seats"]),
    ("minimum", lambda a: a["minimum"]),
    ("cutoff", lambda a: a["cutoff"]),
    ("sections", lambda a: len(a["allocations"])),
)
NOMINATION_COLUMNS: Columns = (
    ("id", lambda n: n["id"]),
    ("name", lambda n: n["name"]),
    ("email", lambda n: n["email"]),
    ("status", lambda n: n["status"]),
    ("nominated", lambda n: when(n["nominated_at"])),
    ("apportionment", lambda n: n["apportionment_id"]),
)


# Commands: each returns the API's answer and how to print it readably; `run` does the rest.

Printer = Callable[[Any], None]


def _segment(value: str) -> str:
    # Codes and ids go into the path: quote them so a stray '/' or '?' cannot address another route.
    return urllib.parse.quote(value, safe="")


def sections_list(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    answer = client.call("GET", "/api/v1/sections", query={"status": args.status, "country": args.country})
    return answer, lambda a: print_rows(a["sections"], SECTION_COLUMNS, "no sections")


def sections_show(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    return client.call("GET", f"/api/v1/sections/{_segment(args.code)}"), print_fields


def sections_register(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    body = {"code": args.code, "name": args.name, "country": args.country, "email": args.email}
    if args.status is not None:
        body["status"] = args.status
    if args.webhook_url is not None:
        body["webhook_url"] = args.webhook_url or None
    return client.call("POST", "/api/v1/sections", body), print_fields


def sections_update(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    body: dict[str, Any] = {k: v for k, v in (("name", args.name), ("email", args.email)) if v is not None}
    if args.webhook_url is not None:
        body["webhook_url"] = args.webhook_url or None  # --webhook-url '' removes it
    # An empty body goes to the API too, which says which fields it wants.
    return client.call("PATCH", f"/api/v1/sections/{_segment(args.code)}", body), print_fields


def sections_status(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    body = {"status": args.status, "reason": args.reason}
    return client.call("POST", f"/api/v1/sections/{_segment(args.code)}/status", body), print_fields


def returns_file(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    body = {"as_of": args.as_of, "members": args.members}
    if args.supporters is not None:
        body["supporters"] = args.supporters
    return client.call("POST", f"/api/v1/sections/{_segment(args.code)}/returns", body), print_fields


def returns_list(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    answer = client.call("GET", f"/api/v1/sections/{_segment(args.code)}/returns")
    return answer, lambda a: print_rows(a["returns"], RETURN_COLUMNS, f"no returns from {args.code}", (1, 2))


def apportion_run(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    body: dict[str, Any] = {"seats": args.seats, "method": args.method}
    for key in ("minimum", "cutoff", "seed"):
        if getattr(args, key) is not None:
            body[key] = getattr(args, key)
    return client.call("POST", "/api/v1/apportionments", body), print_apportionment


def apportion_show(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    return client.call("GET", f"/api/v1/apportionments/{_segment(args.id)}"), print_apportionment


def apportion_list(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    answer = client.call("GET", "/api/v1/apportionments")
    return answer, lambda a: print_rows(a["apportionments"], APPORTIONMENT_COLUMNS, "no apportionments", (3, 4, 6))


def nominations_add(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    body = {"name": args.name, "email": args.email}
    if args.apportionment is not None:
        body["apportionment_id"] = args.apportionment
    return client.call("POST", f"/api/v1/sections/{_segment(args.code)}/nominations", body), print_fields


def nominations_list(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    answer = client.call(
        "GET", f"/api/v1/sections/{_segment(args.code)}/nominations", query={"apportionment_id": args.apportionment}
    )
    return answer, lambda a: print_rows(a["nominations"], NOMINATION_COLUMNS, f"no nominations from {args.code}")


def nominations_withdraw(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    path = f"/api/v1/sections/{_segment(args.code)}/nominations/{_segment(args.nomination_id)}/withdraw"
    return client.call("POST", path), print_fields


def print_issued_token(issued: dict[str, Any]) -> None:
    print_fields(issued, skip=("token", "revoked_at"))
    print()
    print(f"token: {issued['token']}")
    print("This is the only time the token is shown (only its hash is kept): give it to the officer now.")


def tokens_issue(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    body = {"label": args.label} if args.label is not None else {}
    return client.call("POST", f"/api/v1/sections/{_segment(args.code)}/officer-tokens", body), print_issued_token


def tokens_revoke(client: Client, args: argparse.Namespace) -> tuple[Any, Printer]:
    return client.call("DELETE", f"/api/v1/officer-tokens/{_segment(args.token_id)}"), print_fields


def run(args: argparse.Namespace) -> int:
    client = Client.from_settings(args.url)
    answer, printer = args.admin_command(client, args)
    if args.json:
        json.dump(answer, sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        printer(answer)
    return 0


# The parser


def command_builders(
    commands: Any,
) -> tuple[Callable[..., Any], Callable[..., argparse.ArgumentParser], argparse.ArgumentParser]:
    """`group(name, help)`, `command(group, name, handler, help)` and the parent parser giving
    every command over the API --url and --json."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url", help=f"the gateway's URL (default: $CONGRESS_URL, the config file's url, else {DEFAULT_URL})"
    )
    common.add_argument("--json", action="store_true", help="print the API's JSON answer, for scripts")

    def group(name: str, help: str) -> Any:
        parser = commands.add_parser(name, help=help)
        return parser.add_subparsers(dest=f"{name}_command", metavar="ACTION", required=True)

    def command(actions: Any, name: str, handler: Callable, help: str) -> argparse.ArgumentParser:
        parser = actions.add_parser(name, help=help, description=help, parents=[common])
        parser.set_defaults(run=run, admin_command=handler)
        return parser

    return group, command, common


def add_commands(commands: Any) -> None:
    """Add the admin command groups to the `congress` parser's subcommands."""
    group, command, _ = command_builders(commands)

    sections = group("sections", "the register of sections (over the HTTP API)")
    cmd = command(sections, "list", sections_list, "list sections")
    cmd.add_argument("--status", choices=SECTION_STATUSES)
    cmd.add_argument("--country", help="exact country name")
    cmd = command(sections, "show", sections_show, "one section")
    cmd.add_argument("code", metavar="CODE")
    cmd = command(sections, "register", sections_register, "register a section")
    cmd.add_argument("--code", required=True, help="2-32 lowercase letters, digits or hyphens")
    cmd.add_argument("--name", required=True)
    cmd.add_argument("--country", required=True)
    cmd.add_argument("--email", required=True)
    cmd.add_argument("--status", choices=SECTION_STATUSES, help="default: section")
    cmd.add_argument("--webhook-url")
    cmd = command(sections, "update", sections_update, "change a section's name or contacts")
    cmd.add_argument("code", metavar="CODE")
    cmd.add_argument("--name")
    cmd.add_argument("--email")
    cmd.add_argument("--webhook-url", help="'' removes it")
    cmd = command(sections, "status", sections_status, "change a section's status, with a reason")
    cmd.add_argument("code", metavar="CODE")
    cmd.add_argument("status", metavar="STATUS", choices=SECTION_STATUSES, help=", ".join(SECTION_STATUSES))
    cmd.add_argument("--reason", required=True)

    returns = group("returns", "sections' membership returns")
    cmd = command(returns, "file", returns_file, "file a section's membership return")
    cmd.add_argument("code", metavar="CODE")
    cmd.add_argument("--as-of", required=True, metavar="DATE", help="the date the count is for (YYYY-MM-DD)")
    cmd.add_argument("--members", required=True, type=int, metavar="N")
    cmd.add_argument("--supporters", type=int, metavar="N", help="default: 0")
    cmd = command(returns, "list", returns_list, "a section's returns, newest first")
    cmd.add_argument("code", metavar="CODE")

    apportion = group("apportion", "apportion congress delegates among the sections")
    cmd = command(apportion, "run", apportion_run, "calculate and store an apportionment from the latest returns")
    cmd.add_argument("--seats", required=True, type=int, metavar="N")
    cmd.add_argument("--method", required=True, choices=APPORTIONMENT_METHODS)
    cmd.add_argument("--min", type=int, dest="minimum", metavar="K", help="minimum seats per section (1)")
    cmd.add_argument("--cutoff", metavar="DATE", help="count the latest returns on or before DATE (today)")
    cmd.add_argument("--seed", help="seed of the lot that settles ties (default: derived from the figures)")
    cmd = command(apportion, "show", apportion_show, "one stored apportionment")
    cmd.add_argument("id", metavar="ID")
    command(apportion, "list", apportion_list, "every stored apportionment")

    nominations = group("nominations", "delegates nominated by the sections")
    cmd = command(nominations, "add", nominations_add, "nominate a delegate within the section's allocation")
    cmd.add_argument("code", metavar="CODE")
    cmd.add_argument("--name", required=True)
    cmd.add_argument("--email", required=True)
    cmd.add_argument("--apportionment", metavar="ID", help="default: the latest apportionment")
    cmd = command(nominations, "list", nominations_list, "a section's nominations")
    cmd.add_argument("code", metavar="CODE")
    cmd.add_argument("--apportionment", metavar="ID", help="only those under this apportionment")
    cmd = command(nominations, "withdraw", nominations_withdraw, "withdraw a nomination")
    cmd.add_argument("code", metavar="CODE")
    cmd.add_argument("nomination_id", metavar="NOMINATION_ID")

    tokens = group("tokens", "section officers' API tokens")
    cmd = command(tokens, "issue", tokens_issue, "issue a token for a section's officer (shown once)")
    cmd.add_argument("code", metavar="CODE")
    cmd.add_argument("--label", help="whose token it is, e.g. 'secretary'")
    cmd = command(tokens, "revoke", tokens_revoke, "revoke a section officer's token")
    cmd.add_argument("token_id", metavar="TOKEN_ID")
