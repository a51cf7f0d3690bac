"""The Secretariat's commands: circulars, section inboxes, webhook subscriptions, deliveries."""

from __future__ import annotations

from typing import Any

import click

from congress.cli.client import segment as _segment
from congress.cli.command import Call, DefaultGroup, Group, Vocabulary, api_command, read_text_file, split_list
from congress.cli.output import Columns, Printer, print_fields, print_rows, show, when, yes_no

CIRCULAR_COLUMNS: Columns = (
    ("id", lambda c: c["id"]),
    ("issued", lambda c: when(c.get("issued_at"))),
    ("title", lambda c: c["title"]),
    ("audience", lambda c: c["audience"] + (f" ({', '.join(c['sections'])})" if c.get("sections") else "")),
    ("recipients", lambda c: c.get("recipients")),
    ("issued by", lambda c: c.get("issued_by")),
)
NOTICE_COLUMNS: Columns = (
    ("id", lambda n: n["id"]),
    ("received", lambda n: when(n.get("created_at"))),
    ("event", lambda n: n.get("event_type")),
    ("subject", lambda n: n.get("subject")),
    ("read", lambda n: yes_no(n.get("read"))),
)
WEBHOOK_COLUMNS: Columns = (
    ("id", lambda w: w["id"]),
    ("url", lambda w: w["url"]),
    ("events", lambda w: show(w.get("event_types")) if w.get("event_types") else "(the section's own)"),
    ("section", lambda w: w.get("section")),
    ("origin", lambda w: w.get("origin")),
    ("created", lambda w: when(w.get("created_at"))),
)
DELIVERY_COLUMNS: Columns = (
    ("id", lambda d: d["id"]),
    ("event", lambda d: d.get("event_type")),
    ("channel", lambda d: d.get("channel")),
    ("recipient", lambda d: d.get("recipient")),
    ("status", lambda d: d.get("status")),
    ("attempts", lambda d: f"{d.get('attempts')}/{d.get('attempt_limit')}"),
    ("last error", lambda d: d.get("last_error")),
    ("created", lambda d: when(d.get("created_at"))),
)


# Circulars


@click.group("circulars", cls=Group)
def circulars_command() -> None:
    """Circulars of the Secretariat: to every section, to the IEC, or to named sections."""


@circulars_command.command("issue")
@click.option("--title", required=True)
@click.option("--body-file", required=True, metavar="FILE", help="the circular's text, UTF-8 ('-': stdin)")
@click.option("--audience", type=Vocabulary("CIRCULAR_AUDIENCES"), default="all_sections", show_default=True)
@click.option("--section", "sections", multiple=True, metavar="CODE", help="with --audience sections; repeat it")
@api_command
def circulars_issue(
    call: Call, title: str, body_file: str, audience: str, sections: tuple[str, ...]
) -> tuple[Any, Printer]:
    """Issue a circular: it reaches its audience's inboxes, emails and webhooks."""
    codes = split_list(sections)
    if audience == "sections" and not codes:
        raise click.UsageError("--audience sections needs at least one --section CODE")
    if audience != "sections" and codes:
        raise click.UsageError(f"--section is for --audience sections, not {audience}")
    body = {"title": title, "body": read_text_file(body_file, "circular"), "audience": audience, "sections": codes}
    return call.client.call("POST", "/api/v1/circulars", body), lambda c: print_fields(c, skip=("body",))


@circulars_command.command("list")
@api_command
def circulars_list(call: Call) -> tuple[Any, Printer]:
    """Circulars issued, newest first."""
    answer = call.client.call("GET", "/api/v1/circulars")
    return answer, lambda a: print_rows(a["circulars"], CIRCULAR_COLUMNS, "no circulars", numeric=(4,))


# A section's inbox


@click.group("inbox", cls=DefaultGroup, default="list")
def inbox_command() -> None:
    """A section's inbox: `congress inbox CODE [--unread]`, `congress inbox read CODE ID`.

    For the section's officer (or an admin). A section named `list` or `read`: `congress inbox list CODE`.
    """


@inbox_command.command("list")
@click.argument("code")
@click.option("--unread", is_flag=True, help="only what has not been read")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@api_command
def inbox_list(call: Call, code: str, unread: bool, limit: int) -> tuple[Any, Printer]:
    """The section's notifications, newest first."""
    query = {"unread": "true" if unread else None, "limit": limit}
    answer = call.client.call("GET", f"/api/v1/sections/{_segment(code)}/inbox", query=query)
    empty = f"no unread notifications for {code}" if unread else f"no notifications for {code}"
    return answer, lambda a: print_rows(a["notifications"], NOTICE_COLUMNS, empty)


@inbox_command.command("read")
@click.argument("code")
@click.argument("notification_id", type=int)
@api_command
def inbox_read(call: Call, code: str, notification_id: int) -> tuple[Any, Printer]:
    """Show one notification, and mark it read."""
    answer = call.client.call("POST", f"/api/v1/sections/{_segment(code)}/inbox/{notification_id}/read")

    def printer(notice: dict[str, Any]) -> None:
        print_fields(notice, skip=("body",))
        print()
        print(str(notice.get("body") or "").rstrip("\n"))

    return answer, printer


# Webhooks


@click.group("webhooks", cls=Group)
def webhooks_command() -> None:
    """Webhook subscriptions of outside systems (a section's own follows its webhook_url)."""


@webhooks_command.command("add")
@click.option("--url", "target", required=True, metavar="URL", help="where the signed events are POSTed")
@click.option(
    "--event", "events", type=Vocabulary("WEBHOOK_EVENT_TYPES"), multiple=True, required=True, help="repeat it"
)
@click.option("--section", metavar="CODE", help="only events to or about this section")
@click.option("--description", default="", help="what it is for")
@click.option("--gateway", "url", metavar="URL", help="the gateway's URL (as --url elsewhere)")
@click.option("--json", "as_json", is_flag=True, help="print the API's JSON answer, for scripts")
def webhooks_add(
    target: str, events: tuple[str, ...], section: str | None, description: str, url: str | None, as_json: bool
) -> int:
    """Subscribe URL to event types; the signing secret is shown this once."""
    body: dict[str, Any] = {"url": target, "event_types": list(events), "section": section, "description": description}
    call = Call(url=url, as_json=as_json)
    answer = call.client.call("POST", "/api/v1/webhooks", body)
    if as_json:
        from congress.cli.output import print_json

        print_json(answer)
        return 0
    print_fields(answer, skip=("secret",))
    if answer.get("secret"):
        print()
        print(f"secret: {answer['secret']}")
        print("This is the only time the secret is shown: the receiver verifies webhook-signature with it.")
    return 0


@webhooks_command.command("list")
@api_command
def webhooks_list(call: Call) -> tuple[Any, Printer]:
    """Every webhook subscription."""
    answer = call.client.call("GET", "/api/v1/webhooks")
    return answer, lambda a: print_rows(a["webhooks"], WEBHOOK_COLUMNS, "no webhooks")


@webhooks_command.command("remove")
@click.argument("webhook_id")
@api_command
def webhooks_remove(call: Call, webhook_id: str) -> tuple[Any, Printer]:
    """Remove a subscription; its pending deliveries are cancelled."""
    return call.client.call("DELETE", f"/api/v1/webhooks/{_segment(webhook_id)}"), print_fields


# Deliveries


@click.group("deliveries", cls=Group)
def deliveries_command() -> None:
    """Email and webhook deliveries, their attempts, and retries of those that failed."""


@deliveries_command.command("list")
@click.option("--status", type=Vocabulary("DELIVERY_STATUSES"))
@click.option("--channel", type=Vocabulary("DELIVERY_CHANNELS"))
@click.option("--event", "event_type", metavar="TYPE", help="only deliveries of this event type")
@click.option("--recipient", help="e.g. section:CODE, webhook:ID")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@api_command
def deliveries_list(
    call: Call, status: str | None, channel: str | None, event_type: str | None, recipient: str | None, limit: int
) -> tuple[Any, Printer]:
    """Deliveries, newest first."""
    query = {"status": status, "channel": channel, "event_type": event_type, "recipient": recipient, "limit": limit}
    answer = call.client.call("GET", "/api/v1/deliveries", query=query)
    return answer, lambda a: print_rows(a["deliveries"], DELIVERY_COLUMNS, "no deliveries")


def print_delivery(delivery: dict[str, Any]) -> None:
    print_fields(delivery, skip=("log",))
    log = delivery.get("log") or []
    if log:
        print()
        print_rows(
            log,
            (
                ("attempt", lambda a: a.get("attempt")),
                ("at", lambda a: when(a.get("attempted_at"))),
                ("outcome", lambda a: a.get("outcome")),
                ("status", lambda a: a.get("status_code")),
                ("error", lambda a: a.get("error")),
                ("ms", lambda a: a.get("duration_ms")),
            ),
            "",
            numeric=(0, 3, 5),
        )


@deliveries_command.command("show")
@click.argument("delivery_id")
@api_command
def deliveries_show(call: Call, delivery_id: str) -> tuple[Any, Printer]:
    """One delivery, with every attempt."""
    return call.client.call("GET", f"/api/v1/deliveries/{_segment(delivery_id)}"), print_delivery


@deliveries_command.command("retry")
@click.argument("delivery_id")
@api_command
def deliveries_retry(call: Call, delivery_id: str) -> tuple[Any, Printer]:
    """Send a failed (or cancelled) delivery again, with a fresh budget of attempts."""
    return call.client.call("POST", f"/api/v1/deliveries/{_segment(delivery_id)}/retry"), print_delivery
