"""The `congress` admin commands as a process against the real stack over HTTP: readable tables,
`--json` exactly as the API answers, and every failure one line on stderr: exit status 1 for a
refusal by the API, 2 for a usage error (nothing sent), 3 for a failure (unreachable, 5xx)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.e2e.conftest import Stack, free_port, new_section
from tests.support.cli_output import as_json, fields_of, ok, one_line_error, table_rows

pytestmark = pytest.mark.e2e

CLI = Path(sys.executable).with_name("congress")
# Returns cannot be dated in the future: keep every as-of safely in the past.
LAST_MONTH = (date.today() - timedelta(days=30)).isoformat()
LAST_YEAR = (date.today() - timedelta(days=365)).isoformat()

Run = Callable[..., subprocess.CompletedProcess]


def run_cli(*args: str, env: dict[str, str], home: Path) -> subprocess.CompletedProcess:
    # Nothing from the caller's own CONGRESS_* settings or ~/.config leaks into a test.
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CONGRESS_")}
    return subprocess.run(
        [str(CLI), *args], env={**clean, "HOME": str(home), **env}, capture_output=True, text=True, timeout=90
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def cli(stack: Stack, home: Path) -> Run:
    """`cli(*args, token=…)`: the CLI at the stack's URL, as admin unless given another token (None: none)."""

    def run(*args: str, token: str | None = "admin", **env: str) -> subprocess.CompletedProcess:
        settings = {"CONGRESS_URL": stack.url, **env}
        if token is not None:
            settings["CONGRESS_TOKEN"] = stack.admin_token if token == "admin" else token
        return run_cli(*args, env=settings, home=home)

    return run


def register(stack: Stack, **overrides: str) -> dict:
    section = new_section(**overrides)
    answer = stack.api("POST", "/api/v1/sections", json=section)
    assert answer.status_code == 201, answer.text
    return section


def file_return(stack: Stack, code: str, members: int, as_of: str = LAST_MONTH) -> None:
    answer = stack.api("POST", f"/api/v1/sections/{code}/returns", json={"as_of": as_of, "members": members})
    assert answer.status_code == 201, answer.text


def test_register_show_list_update_and_suspend_sections(stack: Stack, cli: Run) -> None:
    country = "Land " + secrets.token_hex(4)  # a country of our own, so the list holds only our sections
    code, group = "s" + secrets.token_hex(4), "s" + secrets.token_hex(4)

    party = ["--name", "Socialist Party", "--country", country, "--email", f"{code}@example.org"]
    shown = fields_of(ok(cli("sections", "register", "--code", code, *party)))
    assert (shown["code"], shown["status"], shown["webhook_url"]) == (code, "section", "–")
    supporters = ["--name", "Supporters", "--country", country, "--email", f"{group}@example.org"]
    extras = ["--status", "sympathising_group", "--webhook-url", "https://example.org/hook"]
    registered = as_json(cli("sections", "register", "--code", group, *supporters, *extras, "--json"))
    assert registered == stack.api("GET", f"/api/v1/sections/{group}").json()
    assert registered["webhook_url"] == "https://example.org/hook"

    again = cli("sections", "register", "--code", code, "--name", "x", "--country", "x", "--email", "x@example.org")
    assert one_line_error(again) == (
        f"congress: 409 conflict: a section with code {code!r} is already registered (code: already registered)"
    )

    assert fields_of(ok(cli("sections", "show", code)))["name"] == "Socialist Party"
    assert as_json(cli("sections", "show", code, "--json")) == stack.api("GET", f"/api/v1/sections/{code}").json()

    listed = ok(cli("sections", "list", "--country", country))
    assert listed.splitlines()[0].split() == ["code", "name", "country", "status", "email", "registered"]
    rows = table_rows(listed)
    assert [(r[0], r[1], r[3]) for r in rows] == sorted(
        [(code, "Socialist Party", "section"), (group, "Supporters", "sympathising_group")]
    )  # by code, as the API orders them
    assert (
        as_json(cli("sections", "list", "--country", country, "--json"))
        == stack.api("GET", "/api/v1/sections", params={"country": country}).json()
    )
    only = as_json(cli("sections", "list", "--country", country, "--status", "sympathising_group", "--json"))
    assert [s["code"] for s in only["sections"]] == [group]
    assert ok(cli("sections", "list", "--country", "Nowhere " + secrets.token_hex(4))) == "no sections\n"

    updated = as_json(cli("sections", "update", group, "--email", "new@example.org", "--webhook-url", "", "--json"))
    assert (updated["email"], updated["webhook_url"], updated["name"]) == ("new@example.org", None, "Supporters")
    suspended = fields_of(ok(cli("sections", "status", code, "suspended", "--reason", "no return for two years")))
    assert suspended["status"] == "suspended"
    assert stack.api("GET", f"/api/v1/sections/{code}").json()["status"] == "suspended"


def test_file_returns_and_list_them_newest_first(stack: Stack, cli: Run) -> None:
    code = register(stack)["code"]

    filed = fields_of(ok(cli("returns", "file", code, "--as-of", LAST_YEAR, "--members", "120")))
    assert (filed["members"], filed["supporters"], filed["filed_by"]) == ("120", "0", "admin")
    newer = as_json(
        cli("returns", "file", code, "--as-of", LAST_MONTH, "--members", "150", "--supporters", "40", "--json")
    )
    assert (newer["as_of"], newer["members"], newer["supporters"]) == (LAST_MONTH, 150, 40)

    rows = table_rows(ok(cli("returns", "list", code)))
    assert [(r[0], r[1], r[2]) for r in rows] == [(LAST_MONTH, "150", "40"), (LAST_YEAR, "120", "0")]
    listed = as_json(cli("returns", "list", code, "--json"))
    assert listed == stack.api("GET", f"/api/v1/sections/{code}/returns").json()
    assert listed["returns"][0]["id"] == newer["id"]


def test_apportion_run_show_and_list(stack: Stack, cli: Run) -> None:
    code = register(stack)["code"]
    file_return(stack, code, 5000)

    run = as_json(cli("apportion", "run", "--seats", "1000", "--method", "sainte-lague", "--seed", "cli", "--json"))
    assert (run["method"], run["seats"], run["minimum"], run["seed"]) == ("sainte-lague", 1000, 1, "cli")
    assert sum(a["seats"] for a in run["allocations"]) == 1000
    seats = next(a["seats"] for a in run["allocations"] if a["section"] == code)

    shown = as_json(cli("apportion", "show", run["id"], "--json"))
    assert shown == stack.api("GET", f"/api/v1/apportionments/{run['id']}").json() == run

    readable = ok(cli("apportion", "show", run["id"]))
    assert readable.startswith(f"apportionment {run['id']}\nsainte-lague: 1000 seats, minimum 1 per section")
    row = next(r for r in table_rows(readable) if r[0] == code)
    assert (row[1], row[2], row[-1]) == ("5000", str(seats), LAST_MONTH)

    listed = as_json(cli("apportion", "list", "--json"))
    assert listed == stack.api("GET", "/api/v1/apportionments").json()
    assert run["id"] in [a["id"] for a in listed["apportionments"]]
    assert run["id"] in [r[0] for r in table_rows(ok(cli("apportion", "list")))]


def test_nominations_add_list_and_withdraw(stack: Stack, cli: Run) -> None:
    code = register(stack)["code"]
    file_return(stack, code, 10)
    # As many seats as sections with full rights, one each: so the second nomination must wait.
    entitled = len(stack.api("GET", "/api/v1/sections", params={"status": "section"}).json()["sections"])
    apportionment = as_json(cli("apportion", "run", "--seats", str(entitled), "--method", "dhondt", "--json"))
    assert next(a["seats"] for a in apportionment["allocations"] if a["section"] == code) == 1
    path = f"/api/v1/sections/{code}/nominations"

    rosa = ["--name", "Rosa", "--email", "rosa@example.org"]
    added = fields_of(ok(cli("nominations", "add", code, *rosa, "--apportionment", apportionment["id"])))
    assert (added["status"], added["apportionment_id"]) == ("nominated", apportionment["id"])
    rows = table_rows(ok(cli("nominations", "list", code, "--apportionment", apportionment["id"])))
    assert [(r[0], r[1], r[3]) for r in rows] == [(added["id"], "Rosa", "nominated")]

    karl = ["--name", "Karl", "--email", "karl@example.org"]
    full = one_line_error(cli("nominations", "add", code, *karl))
    assert full.startswith("congress: 409 conflict: ") and "withdraw a nomination first" in full

    withdrawn = as_json(cli("nominations", "withdraw", code, added["id"], "--json"))
    assert withdrawn["status"] == "withdrawn" and withdrawn["withdrawn_at"]
    assert one_line_error(cli("nominations", "withdraw", code, added["id"])).startswith("congress: 409 conflict: ")
    second = as_json(cli("nominations", "add", code, *karl, "--json"))
    assert second["apportionment_id"] == apportionment["id"]  # the latest by default

    listed = as_json(cli("nominations", "list", code, "--json"))
    assert listed == stack.api("GET", path).json()
    assert [(n["id"], n["status"]) for n in listed["nominations"]] == [
        (added["id"], "withdrawn"),
        (second["id"], "nominated"),
    ]


def test_an_issued_officer_token_works_for_its_own_section_only_until_revoked(stack: Stack, cli: Run) -> None:
    own, other = register(stack)["code"], register(stack)["code"]

    issued = ok(cli("tokens", "issue", own, "--label", "secretary"))
    token = next(line.split(": ", 1)[1] for line in issued.splitlines() if line.startswith("token: "))
    assert token.startswith("so_") and issued.count(token) == 1
    fields = fields_of(issued)
    assert (fields["code"], fields["label"]) == (own, "secretary")

    filed = as_json(cli("returns", "file", own, "--as-of", LAST_MONTH, "--members", "7", "--json", token=token))
    assert filed["filed_by"] == f"section_officer:{own}"
    ok(cli("sections", "update", own, "--name", "Renamed", token=token))

    refused = one_line_error(cli("returns", "file", other, "--as-of", LAST_MONTH, "--members", "7", token=token))
    assert refused == f"congress: 403 forbidden: your token is for section {own!r}, not {other!r}"
    assert one_line_error(cli("tokens", "issue", own, token=token)).startswith("congress: 403 forbidden: ")

    revoked = fields_of(ok(cli("tokens", "revoke", fields["id"])))
    assert revoked["id"] == fields["id"] and revoked["revoked_at"] != "–"
    assert "token" not in revoked
    after = one_line_error(cli("sections", "show", own, token=token))
    assert after.startswith("congress: 401 not_authenticated: ") and "revoked" in after


def test_the_url_and_token_come_from_a_config_file(stack: Stack, home: Path, tmp_path: Path) -> None:
    code = register(stack)["code"]
    config = tmp_path / "congress.json"
    config.write_text(json.dumps({"url": stack.url, "token": stack.admin_token}))

    named = run_cli("sections", "show", code, "--json", env={"CONGRESS_CONFIG": str(config)}, home=home)
    assert as_json(named)["code"] == code

    # The default place, ~/.config/congress/config.json; the environment wins over the file.
    default = home / ".config" / "congress" / "config.json"
    default.parent.mkdir(parents=True)
    default.write_text(json.dumps({"url": "http://127.0.0.1:9", "token": "not-a-token"}))
    env = {"CONGRESS_URL": stack.url, "CONGRESS_TOKEN": stack.admin_token}
    assert as_json(run_cli("sections", "show", code, "--json", env=env, home=home))["code"] == code
    refused = run_cli("sections", "show", code, env={"CONGRESS_URL": stack.url}, home=home)
    assert one_line_error(refused).startswith("congress: 401 not_authenticated: ")

    default.write_text("{not json")
    broken = one_line_error(run_cli("sections", "show", code, home=home, env={}), status=2)  # nothing sent
    assert broken.startswith(f"congress: config file {default}: not valid JSON")
    missing = run_cli("sections", "show", code, env={"CONGRESS_CONFIG": str(tmp_path / "nope.json")}, home=home)
    assert "nope.json" in one_line_error(missing, status=2)


def test_invalid_input_is_one_line_naming_the_field(stack: Stack, cli: Run) -> None:
    code = register(stack)["code"]

    negative = cli("returns", "file", code, "--as-of", LAST_MONTH, "--members", "-1")
    assert one_line_error(negative) == (
        "congress: 400 invalid_input: the request has invalid fields (members: Must be greater than or equal to 0.)"
    )
    future = cli("returns", "file", code, "--as-of", "2999-01-01", "--members", "1")
    assert one_line_error(future) == (
        "congress: 400 invalid_input: the request has invalid fields (as_of: cannot be in the future)"
    )
    nothing = one_line_error(cli("sections", "update", code))
    assert nothing.startswith("congress: 400 invalid_input: ") and "_schema: give at least one of" in nothing
    assert (
        one_line_error(cli("sections", "show", "nowhere")) == "congress: 404 not_found: no section with code 'nowhere'"
    )

    # Usage errors: status 2, the usage line and the wrong option named; nothing sent.
    usage = cli("apportion", "run", "--seats", "10", "--method", "jefferson")
    assert usage.returncode == 2 and usage.stdout == ""
    assert "usage: congress apportion run" in usage.stderr
    assert "Invalid value for '--method': 'jefferson' is not one of 'huntington-hill'" in usage.stderr
    missing = cli("returns", "file", code, "--members", "1")
    assert missing.returncode == 2 and "Missing option '--as-of'" in missing.stderr


def test_an_unreachable_api_or_a_missing_token_is_one_line(home: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    down = run_cli("sections", "list", "--url", url, env={"CONGRESS_TOKEN": "t"}, home=home)
    # A failure, not a refusal: status 3.
    assert one_line_error(down, status=3) == f"congress: cannot reach the API at {url}: Connection refused"

    no_token = one_line_error(run_cli("sections", "list", "--url", url, env={}, home=home), status=2)
    assert "CONGRESS_TOKEN" in no_token and "config" in no_token


def test_a_url_that_is_not_the_api_is_one_line(stack: Stack, cli: Run) -> None:
    line = one_line_error(cli("sections", "list", "--url", stack.url + "/elsewhere"))
    assert line.startswith("congress: 404 ")
