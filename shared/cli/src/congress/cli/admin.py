"""`congress sections|returns|apportion|nominations|tokens …`: the register and the apportionment.

Each command returns the API's answer and how to print it readably; `api_command` prints it, or
the JSON with --json. Settings and errors are client.py's (re-exported here for count.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from congress.cli.client import (
    AdminError,
    Client,
    UsageProblem,
    config_path,
    describe_http_error,
    read_config,
)
from congress.cli.client import segment as _segment
from congress.cli.command import Call, Group, Vocabulary, api_command
from congress.cli.imports import Row, check_rows, first_seen, read_rows, schema_problems, send_rows, starting_at
from congress.cli.output import Columns, Printer, print_fields, print_rows, show, table, when

__all__ = ["AdminError", "Client", "config_path", "describe_http_error", "read_config"]


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
    ("email", lambda n: n.get("email")),
    ("status", lambda n: n["status"]),
    ("nominated", lambda n: when(n["nominated_at"])),
    ("apportionment", lambda n: n["apportionment_id"]),
)
TOKEN_COLUMNS: Columns = (
    ("id", lambda t: t["id"]),
    ("role", lambda t: t.get("role", "section_officer")),
    ("section", lambda t: t.get("code")),
    ("label", lambda t: t.get("label")),
    ("created", lambda t: when(t.get("created_at"))),
    ("revoked", lambda t: when(t.get("revoked_at")) if t.get("revoked_at") else ""),
)


# Sections


@click.group("sections", cls=Group)
def sections_command() -> None:
    """The register of sections."""


@sections_command.command("list")
@click.option("--status", type=Vocabulary("SECTION_STATUSES"))
@click.option("--country", help="exact country name")
@api_command
def sections_list(call: Call, status: str | None, country: str | None) -> tuple[Any, Printer]:
    """List sections, by code."""
    answer = call.client.call("GET", "/api/v1/sections", query={"status": status, "country": country})
    return answer, lambda a: print_rows(a["sections"], SECTION_COLUMNS, "no sections")


@sections_command.command("show")
@click.argument("code")
@api_command
def sections_show(call: Call, code: str) -> tuple[Any, Printer]:
    """One section."""
    return call.client.call("GET", f"/api/v1/sections/{_segment(code)}"), print_fields


@sections_command.command("register")
@click.option("--code", required=True, help="2-32 lowercase letters, digits or hyphens")
@click.option("--name", required=True)
@click.option("--country", required=True)
@click.option("--email", required=True)
@click.option("--status", type=Vocabulary("SECTION_STATUSES"), help="default: section")
@click.option("--webhook-url", help="where the section's own webhook receives what it hears")
@api_command
def sections_register(
    call: Call, code: str, name: str, country: str, email: str, status: str | None, webhook_url: str | None
) -> tuple[Any, Printer]:
    """Register a section."""
    body: dict[str, Any] = {"code": code, "name": name, "country": country, "email": email}
    if status is not None:
        body["status"] = status
    if webhook_url is not None:
        body["webhook_url"] = webhook_url or None
    return call.client.call("POST", "/api/v1/sections", body), print_fields


@sections_command.command("update")
@click.argument("code")
@click.option("--name")
@click.option("--email")
@click.option("--webhook-url", help="'' removes it")
@api_command
def sections_update(
    call: Call, code: str, name: str | None, email: str | None, webhook_url: str | None
) -> tuple[Any, Printer]:
    """Change a section's name or contacts."""
    body: dict[str, Any] = {k: v for k, v in (("name", name), ("email", email)) if v is not None}
    if webhook_url is not None:
        body["webhook_url"] = webhook_url or None  # --webhook-url '' removes it
    # An empty body goes to the API too, which says which fields it wants.
    return call.client.call("PATCH", f"/api/v1/sections/{_segment(code)}", body), print_fields


@sections_command.command("status")
@click.argument("code")
@click.argument("status", type=Vocabulary("SECTION_STATUSES"))
@click.option("--reason", required=True)
@api_command
def sections_status(call: Call, code: str, status: str, reason: str) -> tuple[Any, Printer]:
    """Change a section's status, with a reason."""
    body = {"status": status, "reason": reason}
    return call.client.call("POST", f"/api/v1/sections/{_segment(code)}/status", body), print_fields


# Membership returns


@click.group("returns", cls=Group)
def returns_command() -> None:
    """Sections' membership returns."""


@returns_command.command("file")
@click.argument("code")
@click.option("--as-of", required=True, metavar="DATE", help="the date the count is for (YYYY-MM-DD)")
@click.option("--members", required=True, type=int, metavar="N")
@click.option("--supporters", type=int, metavar="N", help="default: 0")
@api_command
def returns_file(call: Call, code: str, as_of: str, members: int, supporters: int | None) -> tuple[Any, Printer]:
    """File a section's membership return."""
    body: dict[str, Any] = {"as_of": as_of, "members": members}
    if supporters is not None:
        body["supporters"] = supporters
    return call.client.call("POST", f"/api/v1/sections/{_segment(code)}/returns", body), print_fields


@returns_command.command("list")
@click.argument("code")
@api_command
def returns_list(call: Call, code: str) -> tuple[Any, Printer]:
    """A section's returns, newest first."""
    answer = call.client.call("GET", f"/api/v1/sections/{_segment(code)}/returns")
    return answer, lambda a: print_rows(a["returns"], RETURN_COLUMNS, f"no returns from {code}", (1, 2))


# Apportionments


@click.group("apportion", cls=Group)
def apportion_command() -> None:
    """Apportion congress delegates among the sections."""


@apportion_command.command("run")
@click.option("--seats", required=True, type=int, metavar="N")
@click.option("--method", required=True, type=Vocabulary("APPORTIONMENT_METHODS"))
@click.option("--min", "minimum", type=int, metavar="K", help="minimum seats per section (1)")
@click.option("--cutoff", metavar="DATE", help="count the latest returns on or before DATE (today)")
@click.option("--seed", help="seed of the lot that settles ties (default: derived from the figures)")
@api_command
def apportion_run(
    call: Call, seats: int, method: str, minimum: int | None, cutoff: str | None, seed: str | None
) -> tuple[Any, Printer]:
    """Calculate and store an apportionment from the latest returns."""
    body: dict[str, Any] = {"seats": seats, "method": method}
    for key, value in (("minimum", minimum), ("cutoff", cutoff), ("seed", seed)):
        if value is not None:
            body[key] = value
    return call.client.call("POST", "/api/v1/apportionments", body), print_apportionment


@apportion_command.command("show")
@click.argument("id")
@api_command
def apportion_show(call: Call, id: str) -> tuple[Any, Printer]:
    """One stored apportionment."""
    return call.client.call("GET", f"/api/v1/apportionments/{_segment(id)}"), print_apportionment


@apportion_command.command("list")
@api_command
def apportion_list(call: Call) -> tuple[Any, Printer]:
    """Every stored apportionment."""
    answer = call.client.call("GET", "/api/v1/apportionments")
    return answer, lambda a: print_rows(a["apportionments"], APPORTIONMENT_COLUMNS, "no apportionments", (3, 4, 6))


# Nominations


@click.group("nominations", cls=Group)
def nominations_command() -> None:
    """Delegates nominated by the sections."""


@nominations_command.command("add")
@click.argument("code")
@click.option("--name", required=True)
@click.option("--email", required=True)
@click.option("--apportionment", metavar="ID", help="default: the latest apportionment")
@api_command
def nominations_add(call: Call, code: str, name: str, email: str, apportionment: str | None) -> tuple[Any, Printer]:
    """Nominate a delegate within the section's allocation."""
    body = {"name": name, "email": email}
    if apportionment is not None:
        body["apportionment_id"] = apportionment
    return call.client.call("POST", f"/api/v1/sections/{_segment(code)}/nominations", body), print_fields


@nominations_command.command("list")
@click.argument("code")
@click.option("--apportionment", metavar="ID", help="only those under this apportionment")
@api_command
def nominations_list(call: Call, code: str, apportionment: str | None) -> tuple[Any, Printer]:
    """A section's nominations."""
    answer = call.client.call(
        "GET", f"/api/v1/sections/{_segment(code)}/nominations", query={"apportionment_id": apportionment}
    )
    return answer, lambda a: print_rows(a["nominations"], NOMINATION_COLUMNS, f"no nominations from {code}")


@nominations_command.command("withdraw")
@click.argument("code")
@click.argument("nomination_id")
@api_command
def nominations_withdraw(call: Call, code: str, nomination_id: str) -> tuple[Any, Printer]:
    """Withdraw a nomination."""
    path = f"/api/v1/sections/{_segment(code)}/nominations/{_segment(nomination_id)}/withdraw"
    return call.client.call("POST", path), print_fields


@nominations_command.command("import")
@click.argument("file", metavar="FILE.csv", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--apportionment", metavar="ID", help="default: the latest apportionment")
@click.option("--from-line", type=click.IntRange(min=2), metavar="N", help="send only rows from line N on (resume)")
@api_command
def nominations_import(call: Call, file: Path, apportionment: str | None, from_line: int | None) -> None:
    """Nominate delegates from a CSV with the columns section,name,email.

    Every row is checked first (each value as the API checks it, repeated emails, sections the API
    does not know): if any is bad, each bad row is named with its line and nothing is sent. Then the
    rows go in one by one; the API has no batch endpoint, so if it refuses one (a full allocation,
    say) the import stops there and says which lines went in and which were not sent.
    """
    from marshmallow import ValidationError

    from congress.contract.api import CODE, NominationRequest

    rows = starting_at(read_rows(file, ("section", "name", "email")), from_line)
    if not rows:
        raise UsageProblem(f"{file}: no rows from line {from_line} on")
    known = {s["code"] for s in call.client.call("GET", "/api/v1/sections")["sections"]}
    repeats = first_seen(rows, lambda r: r.values.get("email", "").lower(), "email")
    schema = NominationRequest()

    def check(row: Row) -> list[str]:
        code = row.values["section"]
        row.body = {"name": row.values["name"], "email": row.values["email"]}
        if apportionment is not None:
            row.body["apportionment_id"] = apportionment
        said = []
        if not code:
            said.append("section: missing")
        else:
            try:
                CODE(code)
            except ValidationError as exc:
                said.append(f"section: {code!r}: {' '.join(map(str, exc.messages))}")
            else:
                if code not in known:
                    said.append(f"section: no section {code!r}")
        said += schema_problems(schema, row.body)
        if row.line in repeats:
            said.append(f"email: {repeats[row.line]}")
        return said

    check_rows(file, rows, check)

    def send(row: Row) -> dict[str, Any]:
        return call.client.call("POST", f"/api/v1/sections/{_segment(row.values['section'])}/nominations", row.body)

    columns = (
        ("section", lambda r, a: r.values["section"]),
        ("name", lambda r, a: a["name"]),
        ("id", lambda r, a: a["id"]),
    )
    send_rows(file, rows, send, columns, call.as_json, "nominations")
    return None


# Tokens


def print_issued_token(issued: dict[str, Any]) -> None:
    print_fields(issued, skip=("token", "revoked_at"))
    print()
    print(f"token: {issued['token']}")
    print("This is the only time the token is shown (only its hash is kept): give it to its holder now.")


@click.group("tokens", cls=Group)
def tokens_command() -> None:
    """API tokens of every role (a delegate's is a credential: see `congress accredit`)."""


@tokens_command.command("issue")
@click.argument("code", required=False)
@click.option("--role", type=Vocabulary("TOKEN_ROLES"), help="default with CODE: section_officer")
@click.option("--section", metavar="CODE", help="the section of a section_officer's token")
@click.option("--label", help="whose token it is, e.g. 'secretary'")
@api_command
def tokens_issue(
    call: Call, code: str | None, role: str | None, section: str | None, label: str | None
) -> tuple[Any, Printer]:
    """Issue a token (shown once): `--role ROLE [--section CODE]`, or `CODE` for a section officer's."""
    if code is not None:
        if section is not None and section != code:
            raise click.UsageError(f"CODE {code!r} and --section {section!r} differ: give one")
        if role not in (None, "section_officer"):
            raise click.UsageError(f"CODE is a section officer's section; a {role} token has no CODE")
        role, section = "section_officer", code
    if role is None:
        raise click.UsageError("give --role ROLE (or a section's CODE for its officer's token)")
    body: dict[str, Any] = {"role": role, "section": section}
    if label is not None:
        body["label"] = label
    return call.client.call("POST", "/api/v1/tokens", body), print_issued_token


@tokens_command.command("list")
@click.option("--role", type=Vocabulary("TOKEN_ROLES"))
@click.option("--section", metavar="CODE")
@click.option("--include-revoked", is_flag=True, help="revoked tokens too")
@api_command
def tokens_list(call: Call, role: str | None, section: str | None, include_revoked: bool) -> tuple[Any, Printer]:
    """Issued tokens (never the tokens themselves): id, role, section, label, dates."""
    query = {"role": role, "section": section, "include_revoked": "true" if include_revoked else None}
    answer = call.client.call("GET", "/api/v1/tokens", query=query)
    return answer, lambda a: print_rows(a["tokens"], TOKEN_COLUMNS, "no tokens")


@tokens_command.command("revoke")
@click.argument("token_id")
@api_command
def tokens_revoke(call: Call, token_id: str) -> tuple[Any, Printer]:
    """Revoke a token, of any role."""
    return call.client.call("DELETE", f"/api/v1/tokens/{_segment(token_id)}"), print_fields
