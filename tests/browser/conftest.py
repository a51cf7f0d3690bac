"""The hall's pages in a real browser: Debian's Chromium driven by Playwright against the whole
stack as processes (one stack, on PostgreSQL, for every browser test)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Stack, free_port, running_stack
from tests.support import infra
from tests.support.mailbox import Mailbox

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS") or Path(__file__).with_name("artifacts"))
AXE = Path(__file__).with_name("vendor") / "axe.min.js"
DESKTOP = {"width": 1920, "height": 1080}
PHONE = {"width": 390, "height": 844}
HAVE_CHROMIUM = Path(CHROMIUM).exists()
NO_CHROMIUM = f"no Chromium at {CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)"
# For the modules that drive a browser: skipped before their stack is started.
needs_browser = [pytest.mark.e2e, pytest.mark.skipif(not HAVE_CHROMIUM, reason=NO_CHROMIUM)]


@dataclass
class Hall:
    stack: Stack
    mailbox: Mailbox

    @property
    def url(self) -> str:
        return self.stack.url


@pytest.fixture(scope="session")
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hall]:
    """The stack, its credential emails caught by a local SMTP server, PUBLIC_URL its own address."""
    port = free_port()
    with infra.own_vhost() as amqp_uri, Mailbox() as mailbox:
        settings = {
            "GATEWAY_PORT": str(port),
            "PUBLIC_URL": f"http://127.0.0.1:{port}",
            "SMTP_HOST": mailbox.host,
            "SMTP_PORT": str(mailbox.port),
        }
        with running_stack("postgres", amqp_uri, tmp_path_factory.mktemp("hall"), extra_env=settings) as stack:
            yield Hall(stack, mailbox)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not HAVE_CHROMIUM:
        pytest.skip(NO_CHROMIUM)
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    print(f"\nbrowser test artifacts (screenshots): {ARTIFACTS}")
    with sync_playwright() as playwright:
        # Debian's build, by path: nothing downloads a browser here or in CI.
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()


@dataclass
class Watched:
    """A page and what its console said: a violation of the page's own CSP is a failure."""

    page: Any
    console: list[str] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        return [line for line in self.console if "Content Security Policy" in line]


@pytest.fixture
def open_page(browser: Any) -> Iterator[Callable[..., Watched]]:
    """open_page(viewport=DESKTOP) -> a fresh browser context (its own sessionStorage) and page."""
    contexts: list[Any] = []
    watched: list[Watched] = []

    def make(viewport: dict[str, int] = DESKTOP) -> Watched:
        context = browser.new_context(viewport=viewport, device_scale_factor=1)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        seen = Watched(page)
        page.on("console", lambda message: seen.console.append(f"{message.type}: {message.text}"))
        watched.append(seen)
        return seen

    yield make
    for seen in watched:
        assert not seen.csp_violations(), seen.csp_violations()
    for context in contexts:
        context.close()


def screenshot(page: Any, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def serious_accessibility_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core run in the page (injected through the DevTools protocol, which the page's CSP does
    not govern); the violations of impact serious or critical."""
    page.evaluate("(source) => { (0, eval)(source); }", AXE.read_text())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def credential_link(mailbox: Mailbox, email: str) -> str:
    """The sign-in link of the credential email sent to `email` (text part)."""
    found = mailbox.wait_for(lambda m: email in m.rcpt_tos and "credential" in m.subject.lower())
    text = found[-1].part("text/plain")
    match = re.search(r"(https?://\S+/vote#credential=\S+)", text)
    assert match, f"no sign-in link in the credential email: {text}"
    return match.group(1)
