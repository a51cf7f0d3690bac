"""The secretariat's settings: nameko config first, then the environment, then defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from congress.contract import hosts

TLS_MODES = ("none", "starttls", "ssl")


@dataclass(frozen=True)
class Settings:
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_tls: str = "none"
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_timeout: float = 30.0
    mail_from: str = "International Secretariat <secretariat@localhost>"
    centre_email: str | None = None
    # Every channel's retry policy (webhooks and email alike).
    max_attempts: int = 6
    backoff_base: float = 2.0
    backoff_cap: float = 3600.0
    webhook_timeout: float = 10.0
    # Private networks webhooks may reach (WEBHOOK_ALLOW_PRIVATE_NETWORKS, CIDRs): none by default.
    webhook_allow_private_networks: tuple[hosts.Network, ...] = ()
    # The delivery worker: how often it looks for due rows unless woken, how many it sends at
    # once, and how long a claimed row stays its own (longer than any send may take).
    poll_interval: float = 1.0
    concurrency: int = 8
    lease_seconds: float = 120.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None = None) -> Settings:
        config = config or {}

        def get(key: str, default: Any) -> Any:
            value = config.get(key)
            if value in (None, ""):
                value = os.environ.get(key)
            return default if value in (None, "") else value

        settings = cls(
            smtp_host=str(get("SMTP_HOST", cls.smtp_host)),
            smtp_port=int(get("SMTP_PORT", cls.smtp_port)),
            smtp_tls=str(get("SMTP_TLS", cls.smtp_tls)).lower(),
            smtp_user=get("SMTP_USER", None),
            smtp_password=get("SMTP_PASSWORD", None),
            smtp_timeout=float(get("SMTP_TIMEOUT", cls.smtp_timeout)),
            mail_from=str(get("MAIL_FROM", cls.mail_from)),
            centre_email=get("CENTRE_EMAIL", None),
            max_attempts=int(get("WEBHOOK_MAX_ATTEMPTS", cls.max_attempts)),
            backoff_base=float(get("WEBHOOK_BACKOFF_BASE", cls.backoff_base)),
            backoff_cap=float(get("WEBHOOK_BACKOFF_MAX", cls.backoff_cap)),
            webhook_timeout=float(get("WEBHOOK_TIMEOUT", cls.webhook_timeout)),
            # A bad entry stops the service at start rather than allowing nothing in silence.
            webhook_allow_private_networks=hosts.parse_networks(str(get(hosts.ALLOW_SETTING, ""))),
            poll_interval=float(get("DELIVERY_POLL_INTERVAL", cls.poll_interval)),
            concurrency=int(get("DELIVERY_CONCURRENCY", cls.concurrency)),
            lease_seconds=float(get("DELIVERY_LEASE_SECONDS", cls.lease_seconds)),
        )
        if settings.smtp_tls not in TLS_MODES:
            raise ValueError(f"SMTP_TLS must be one of {', '.join(TLS_MODES)}, not {settings.smtp_tls!r}")
        if settings.max_attempts < 1:
            raise ValueError("WEBHOOK_MAX_ATTEMPTS must be at least 1")
        return settings
