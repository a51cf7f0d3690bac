"""The command line's settings, its HTTP client, and its errors with their exit statuses.

The URL comes from --url, $CONGRESS_URL, the config file, or the default; the token from
$CONGRESS_TOKEN or the config file (never the command line, where `ps` would show it). The config
file is JSON, {"url": …, "token": …}, at $CONGRESS_CONFIG or ~/.config/congress/config.json.

`requests` is imported on the first call, never at start-up: `congress --help` stays fast.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_URL = "http://127.0.0.1:8000"
# Above the gateway's own 30 s bound on an apportionment, so the gateway's 503 arrives first.
TIMEOUT = 60.0

# Exit statuses: what a script may rely on.
EXIT_REFUSED = 1  # the API said no (a 4xx answer), or a check the command makes failed
EXIT_USAGE = 2  # nothing was sent: a wrong option, a missing setting, an unreadable or invalid file
EXIT_FAILED = 3  # the API could not answer: unreachable, timed out, a 5xx answer, or not the API
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = (
    "\b\nExit status:\n"
    "  0  done\n"
    "  1  refused by the API (4xx: invalid, forbidden, not found, conflict) or a check that failed\n"
    "  2  usage error, nothing sent (an option, a missing token, an unreadable or invalid file)\n"
    "  3  failure: the API is unreachable, timed out, or answered 5xx\n"
    "130  interrupted (Ctrl-C)"
)


class CliError(Exception):
    """One line on stderr (`congress: …`) and the exit status of its kind."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(" ".join(message.split()))  # one line, whatever the message holds
        if exit_code is not None:
            self.exit_code = exit_code

    def lines(self) -> list[str]:
        return [str(self)]


class InvalidRows(CliError):
    """Problems in a file, one line each (`FILE:LINE: …`); nothing was sent."""

    exit_code = EXIT_USAGE

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems[0] if problems else "invalid input")
        self.problems = [" ".join(p.split()) for p in problems]

    def lines(self) -> list[str]:
        return self.problems


class Refused(CliError):
    exit_code = EXIT_REFUSED


class UsageProblem(CliError):
    exit_code = EXIT_USAGE


class Failed(CliError):
    exit_code = EXIT_FAILED


# The name count.py and older callers know.
AdminError = CliError


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
            raise UsageProblem(f"config file {path} (from CONGRESS_CONFIG) does not exist") from None
        return {}
    except OSError as exc:
        raise UsageProblem(f"config file {path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageProblem(f"config file {path}: not UTF-8 text") from None
    try:
        config = json.loads(text)
    except ValueError as exc:
        raise UsageProblem(f"config file {path}: not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise UsageProblem(f'config file {path}: expected a JSON object like {{"url": "…", "token": "…"}}')
    return config


def settled_url(url: str | None) -> str:
    """--url, else $CONGRESS_URL, else the config file's, else the default."""
    url = url or os.environ.get("CONGRESS_URL") or None
    if url is None:
        url = read_config().get("url") or DEFAULT_URL
    return str(url).rstrip("/")


def settled_token() -> str:
    token = os.environ.get("CONGRESS_TOKEN") or read_config().get("token") or None
    if not token:
        raise UsageProblem(
            f'no API token: set CONGRESS_TOKEN or put {{"token": "…"}} in the config file {config_path()}'
        )
    return str(token)


# Errors the API gives


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


def root_cause(exc: BaseException) -> str:
    """The OS's words for a failed connection ("Connection refused"), found under requests' wrappers."""
    seen: set[int] = set()
    todo: list[Any] = [exc]
    while todo:
        item = todo.pop(0)
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, OSError) and item.strerror:
            return str(item.strerror)
        todo += [*item.args, getattr(item, "reason", None), item.__cause__, item.__context__]
    return str(exc)


def segment(value: str) -> str:
    # Codes and ids go into the path: quote them so a stray '/' or '?' cannot address another route.
    return urllib.parse.quote(value, safe="")


# The client


@dataclass
class Client:
    url: str
    token: str | None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, url: str | None, token: str | None = None, token_required: bool = True) -> Client:
        # Environment first, the config file only for what the environment leaves unset.
        base = settled_url(url)
        if token is None and token_required:
            token = settled_token()
        return cls(url=base, token=token)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict[str, Any] | None = None,
        timeout: float = TIMEOUT,
    ) -> Any:
        """One API call: the decoded JSON answer, or a CliError with the API's error in one line."""
        import requests  # here, not at start-up: it costs a tenth of a second

        headers = {"Accept": "application/json", **self.headers}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        params = {k: str(v) for k, v in (query or {}).items() if v is not None}
        try:
            response = requests.request(
                method, self.url + path, json=body, params=params, headers=headers, timeout=timeout
            )
        except requests.Timeout:
            raise Failed(f"the API at {self.url} did not answer within {timeout:.0f} s") from None
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema):
            raise UsageProblem(f"{self.url} is not an http(s) URL of the congress API") from None
        except requests.ConnectionError as exc:
            raise Failed(f"cannot reach the API at {self.url}: {root_cause(exc)}") from None
        except (requests.RequestException, ValueError, OSError) as exc:
            raise Failed(f"cannot call the API at {self.url}: {exc}") from None
        if response.status_code >= 400:
            line = describe_http_error(response.status_code, response.reason or "", response.content)
            raise (Refused if response.status_code < 500 else Failed)(line)
        try:
            return response.json()
        except ValueError:
            raise Failed(f"{response.url} did not answer with JSON; is {self.url} the congress API?") from None
