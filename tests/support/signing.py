"""What a test that plays a service needs: the stack's own service key, to sign as one."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from congress.proof import EVENT_PROOF, sign_call, sign_event


def service_key(stack: Any) -> bytes:
    """The key the running stack's services were given (LocalStack makes one per stack)."""
    env = stack.processes.env
    text = env.get("CONGRESS_SERVICE_KEY") or Path(env["CONGRESS_SERVICE_KEY_FILE"]).read_text().strip()
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def event_headers(stack: Any, producer: str, envelope: dict[str, Any]) -> dict[str, str]:
    return {EVENT_PROOF: sign_event(producer, envelope, key=service_key(stack))}


def call_proof(stack: Any, issuer: str, service: str, method: str, *args: Any, **kwargs: Any) -> str:
    return sign_call(issuer, service, method, args, kwargs, key=service_key(stack))
