"""Messages rendered from the Jinja2 templates in `secretariat/templates/email`: plain text and HTML."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, TemplateNotFound, select_autoescape

from secretariat.domain.notices import message


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@cache
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("secretariat", "templates/email"),
        # HTML escapes everything it is given (a circular's body, a section's name); text does not.
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def _render(names: tuple[str, ...], extension: str, context: Mapping[str, Any]) -> str:
    env = environment()
    for name in names:
        try:
            template = env.get_template(f"{name}.{extension}")
        except TemplateNotFound:
            continue
        return template.render(**context).strip() + "\n"
    raise TemplateNotFound(f"{names[-1]}.{extension}")


def render_notification(event_type: str, data: Mapping[str, Any], recipient_name: str, inbox: bool = False) -> Rendered:
    said = message(event_type, data)
    context = {
        "subject": said.subject,
        "summary": said.summary,
        "data": data,
        "event_type": event_type,
        "recipient_name": recipient_name,
        "inbox": inbox,
    }
    names = (event_type, "notification")
    return Rendered(said.subject, _render(names, "txt", context), _render(names, "html", context))


def render_credential(name: str, body_name: str, credential: str) -> Rendered:
    subject = f"Your credential for {body_name}"
    context = {
        "subject": subject,
        "recipient_name": name,
        "body_name": body_name,
        "credential": credential,
        "inbox": False,
        # Where delegates vote: the gateway's public address (the credential rides in the fragment).
        "public_url": os.environ.get("PUBLIC_URL") or "http://127.0.0.1:8000",
    }
    return Rendered(subject, _render(("credential",), "txt", context), _render(("credential",), "html", context))
