"""The delegate's voting page (/vote) in Chromium: signing in, voting on a motion and ranking an
election with the keyboard alone, the receipt, every refusal, and the receipt found in the
published record after the close."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
import requests

from tests.browser.conftest import (
    PHONE,
    Hall,
    credential_link,
    needs_browser,
    screenshot,
    serious_accessibility_violations,
)
from tests.support.congress import Congress, Delegate, congress_in_session, table_and_open

pytestmark = needs_browser

RECEIPT = re.compile(r"^[0-9a-f]{32}$")


def ok(answer: requests.Response, status: int = 200) -> Any:
    assert answer.status_code == status, f"{answer.request.method} {answer.url}: {answer.status_code} {answer.text}"
    return answer.json()


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def sign_in(page: Any, hall: Hall, delegate: Delegate) -> None:
    page.goto(hall.url + "/vote")
    page.get_by_label("Credential").fill(delegate.credential)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"Signed in as {delegate.name}").first).to_be_visible()


def open_election(hall: Hall, body_id: str, names: list[str], method: str = "meek", seats: int = 2) -> dict:
    stack = hall.stack
    election = ok(
        stack.api(
            "POST",
            f"/api/v1/bodies/{body_id}/elections",
            json={"title": "Elect the IEC", "seats": seats, "method": method},
        ),
        201,
    )
    for name in names:
        candidate = {"name": name, "email": f"{name.split()[0].lower()}@example.org"}
        ok(stack.api("POST", f"/api/v1/elections/{election['id']}/candidates", json=candidate), 201)
    ballot = ok(stack.api("POST", f"/api/v1/elections/{election['id']}/ballot"), 201)
    return {"election": ok(stack.api("GET", f"/api/v1/elections/{election['id']}")), "ballot": ballot}


@pytest.fixture
def congress(hall: Hall) -> Congress:
    return congress_in_session(hall.stack, 4)


def test_a_delegate_signs_in_votes_yes_gets_a_receipt_and_finds_it_in_the_record_after_the_close(
    hall: Hall, congress: Congress, open_page: Any
) -> None:
    motion, ballot = table_and_open(hall.stack, congress.body_id)
    watched = open_page(PHONE)
    page = watched.page
    delegate = congress.delegates[0]

    page.goto(hall.url + "/vote")
    screenshot(page, "vote-phone-sign-in")
    page.get_by_label("Credential").fill(delegate.credential)
    page.get_by_role("button", name="Sign in").click()

    card = page.get_by_role("article", name=f"Motion: {motion['title']}")
    expect(card).to_be_visible()
    screenshot(page, "vote-phone-open-motion")
    card.get_by_role("button", name="Yes", exact=True).click()
    expect(card.get_by_role("heading", name="Confirm your vote")).to_be_focused()
    card.get_by_role("button", name="Cast my vote").click()
    expect(card.get_by_role("heading", name="Your vote is recorded")).to_be_visible()
    receipt = card.locator(".receipt-code").inner_text().strip()
    assert RECEIPT.match(receipt), receipt
    expect(page.get_by_role("status")).to_contain_text("is recorded")
    screenshot(page, "vote-phone-receipt")
    # The credential went only in Authorization headers: no cookie, nothing in the address.
    assert page.context.cookies() == []
    assert delegate.credential not in page.url

    # A reload keeps the receipt on screen: "already voted", never a second ballot.
    page.reload()
    card = page.get_by_role("article", name=f"Motion: {motion['title']}")
    expect(card.get_by_role("heading", name="You have voted")).to_be_visible()
    expect(card.locator(".receipt-code")).to_have_text(receipt)
    assert not card.get_by_role("button", name="Yes", exact=True).is_visible()

    # The close reaches the page by itself; the receipt is then found in the published record.
    ok(hall.stack.api("POST", f"/api/v1/ballots/{ballot['id']}/close"))
    closed = page.locator("#closed-ballots").get_by_role("article", name=f"Motion: {motion['title']}")
    expect(closed).to_be_visible()
    expect(closed.get_by_label("Receipt")).to_have_value(receipt)
    closed.get_by_role("button", name="Find my receipt").click()
    expect(closed.locator(".check-result")).to_contain_text("Found in the published record: your ballot reads Yes")
    screenshot(page, "vote-phone-receipt-found")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), "wider than the phone"


def test_the_credential_email_links_to_the_voting_page_and_signs_in_without_the_credential_staying_in_the_url(
    hall: Hall, congress: Congress, open_page: Any
) -> None:
    delegate = congress.delegates[1]
    members = ok(hall.stack.api("GET", f"/api/v1/bodies/{congress.body_id}/members"))["members"]
    email = next(m["email"] for m in members if m["id"] == delegate.member_id)
    link = credential_link(hall.mailbox, email)
    assert link == f"{hall.url}/vote#credential={delegate.credential}"

    page = open_page().page
    page.goto(link)
    expect(page.get_by_text(f"Signed in as {delegate.name}").first).to_be_visible()
    assert page.url == f"{hall.url}/vote", "the credential must leave the address bar at once"
    assert page.evaluate("sessionStorage.getItem('congress.credential')") == delegate.credential


def test_a_delegate_ranks_three_candidates_with_the_keyboard_alone(
    hall: Hall, congress: Congress, open_page: Any
) -> None:
    names = ["Clara Zetkin", "Leon Trotsky", "Rosa Luxemburg"]  # the page lists them by name
    opened = open_election(hall, congress.body_id, names)
    ids = {c["name"]: c["id"] for c in opened["election"]["candidates"]}
    wanted = ["Rosa Luxemburg", "Clara Zetkin", "Leon Trotsky"]
    delegate = congress.delegates[2]
    page = open_page().page

    # Signed in from the email's link: from here on, only keys are pressed.
    page.goto(f"{hall.url}/vote#credential={delegate.credential}")
    card = page.get_by_role("article", name="Election: Elect the IEC")
    expect(card).to_be_visible()

    def tab_to(name: str) -> None:
        for _ in range(60):
            page.keyboard.press("Tab")
            focused = page.evaluate(
                "() => { const e = document.activeElement; return (e.labels && e.labels[0] && e.labels[0].textContent)"
                " || e.textContent || ''; }"
            )
            if focused.strip() == name:
                return
        raise AssertionError(f"Tab never reached {name!r}")

    for preference, name in enumerate(wanted, start=1):
        tab_to(f"Preference {preference}")
        # A closed <select> moves through its options with the arrow keys: "No preference" first,
        # then the candidates in the order of their names.
        for _ in range(sorted(names).index(name) + 1):
            page.keyboard.press("ArrowDown")
        expect(card.get_by_label(f"Preference {preference}")).to_have_value(ids[name])
    tab_to("Review my ranking")
    page.keyboard.press("Enter")
    confirm = card.get_by_role("group", name="Confirm your vote")
    expect(confirm.get_by_role("listitem")).to_have_text(wanted)
    expect(confirm.get_by_role("heading", name="Confirm your vote")).to_be_focused()
    tab_to("Cast my vote")
    page.keyboard.press("Enter")
    expect(card.get_by_role("heading", name="Your vote is recorded")).to_be_visible()
    receipt = card.locator(".receipt-code").inner_text().strip()

    record = ok(hall.stack.api("POST", f"/api/v1/ballots/{opened['ballot']['id']}/close"))
    assert record["status"] == "closed"
    published = ok(requests.get(f"{hall.url}/api/v1/ballots/{opened['ballot']['id']}/record", timeout=30))
    mine = next(b for b in published["ballots"] if b["receipt"] == receipt)
    assert mine["ranking"] == [ids[name] for name in wanted]


def test_the_pages_list_is_a_delegates_own_and_other_tokens_are_refused_as_documented(
    hall: Hall, congress: Congress
) -> None:
    delegate = congress.delegates[0]
    mine = ok(hall.stack.api("GET", "/api/v1/me/ballots", token=delegate.auth))
    assert mine["member"]["id"] == delegate.member_id and congress.body_id in {b["id"] for b in mine["bodies"]}
    refused = hall.stack.api("GET", "/api/v1/me/ballots")  # the admin's token: the route declares delegates
    assert refused.status_code == 403 and "delegate" in refused.json()["error"]["message"], refused.text
    assert hall.stack.api("GET", "/api/v1/me/ballots", token=None).status_code == 401


def about_to_vote_no(hall: Hall, congress: Congress, open_page: Any) -> tuple[Any, Any, Delegate]:
    """A delegate signed in, with "No" chosen on an open motion: (page, its card, the delegate)."""
    motion, _ = table_and_open(hall.stack, congress.body_id)
    delegate = congress.delegates[3]
    page = open_page().page
    sign_in(page, hall, delegate)
    card = page.get_by_role("article", name=f"Motion: {motion['title']}")
    card.get_by_role("button", name="No", exact=True).click()
    return page, card, delegate


def test_a_revoked_credential_is_refused_with_a_clear_message(hall: Hall, congress: Congress, open_page: Any) -> None:
    page, card, delegate = about_to_vote_no(hall, congress, open_page)

    ok(hall.stack.api("DELETE", f"/api/v1/members/{delegate.member_id}/credential"))
    card.get_by_role("button", name="Cast my vote").click()
    alert = page.get_by_role("alert")
    expect(alert).to_have_text("Your credential has been revoked; ask the Secretariat for a new one.")
    expect(page.get_by_label("Credential")).to_be_focused()
    assert page.evaluate("sessionStorage.getItem('congress.credential')") is None

    # Signing in again with it says the same (the field is emptied once the answer is in).
    field = page.get_by_label("Credential")
    field.fill(delegate.credential)
    page.get_by_role("button", name="Sign in").click()
    expect(field).to_have_value("")
    expect(alert).to_have_text("Your credential has been revoked; ask the Secretariat for a new one.")
    field.fill("dc_not-a-credential-at-all")
    page.get_by_role("button", name="Sign in").click()
    expect(alert).to_contain_text("This credential is not valid")


def test_a_list_read_before_a_revocation_does_not_sign_the_delegate_back_in(
    hall: Hall, congress: Congress, open_page: Any
) -> None:
    """The page re-reads its ballots when one opens. A reading sent before the credential was
    revoked, and answered (200) after a refused vote has signed the delegate out, is stale: the
    page stays signed out, the reason in view. (Seen once in CI as a flaky test.)"""
    page, card, delegate = about_to_vote_no(hall, congress, open_page)

    # The next reading is held: answered by the server now, delivered to the page later.
    held: list[tuple[Any, Any]] = []
    page.route("**/api/v1/me/ballots", lambda route: held.append((route, route.fetch())))
    table_and_open(hall.stack, congress.body_id)  # a ballot opens: the page re-reads its list
    deadline = time.monotonic() + 15
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(50)  # lets Playwright run the route handler
    assert held, "the page did not re-read its ballots when one opened"
    route, before_revocation = held[0]
    assert before_revocation.status == 200

    ok(hall.stack.api("DELETE", f"/api/v1/members/{delegate.member_id}/credential"))
    card.get_by_role("button", name="Cast my vote").click()
    alert = page.get_by_role("alert")
    revoked = "Your credential has been revoked; ask the Secretariat for a new one."
    expect(alert).to_have_text(revoked)

    with page.expect_response("**/api/v1/me/ballots") as stale:
        route.fulfill(response=before_revocation)
    stale.value.finished()
    page.evaluate("() => fetch('/health').then((answer) => answer.status)")  # a round trip after it
    assert page.locator("#sign-in").is_visible() and page.locator("#ballots").is_hidden()
    assert alert.text_content() == revoked
    assert page.evaluate("sessionStorage.getItem('congress.credential')") is None


def test_a_delegate_who_joined_after_the_opening_is_told_they_are_not_in_the_electorate(
    hall: Hall, congress: Congress, open_page: Any
) -> None:
    motion, _ = table_and_open(hall.stack, congress.body_id)
    late = ok(
        hall.stack.api(
            "POST",
            f"/api/v1/bodies/{congress.body_id}/members",
            json={"name": "Late Delegate", "email": "late@example.org"},
        ),
        201,
    )
    page = open_page().page
    sign_in(page, hall, Delegate(late["id"], "Late Delegate", late["credential"]))
    card = page.get_by_role("article", name=f"Motion: {motion['title']}")
    card.get_by_role("button", name="Abstain", exact=True).click()
    card.get_by_role("button", name="Cast my vote").click()
    expect(page.get_by_role("alert")).to_contain_text("you are not in its electorate")


def test_a_ballot_that_closes_while_the_delegate_decides_is_shown_closed(
    hall: Hall, congress: Congress, open_page: Any
) -> None:
    motion, ballot = table_and_open(hall.stack, congress.body_id)
    page = open_page().page
    sign_in(page, hall, congress.delegates[0])
    card = page.locator("#open-ballots").get_by_role("article", name=f"Motion: {motion['title']}")
    card.get_by_role("button", name="Yes", exact=True).click()

    ok(hall.stack.api("POST", f"/api/v1/ballots/{ballot['id']}/close"))
    expect(page.get_by_role("status")).to_have_text(f"Voting has closed on “{motion['title']}”.")
    expect(card).to_have_count(0)
    closed = page.locator("#closed-ballots").get_by_role("article", name=f"Motion: {motion['title']}")
    expect(closed).to_contain_text("No quorum")


def test_the_voting_page_has_no_serious_accessibility_violation(hall: Hall, congress: Congress, open_page: Any) -> None:
    motion, _ = table_and_open(hall.stack, congress.body_id)
    open_election(hall, congress.body_id, ["Ann Alpha", "Ben Beta", "Cat Gamma"], method="block", seats=2)
    page = open_page(PHONE).page
    page.goto(hall.url + "/vote")
    assert serious_accessibility_violations(page) == []
    sign_in(page, hall, congress.delegates[1])
    card = page.get_by_role("article", name=f"Motion: {motion['title']}")
    expect(card).to_be_visible()
    expect(page.get_by_role("article", name="Election: Elect the IEC").get_by_label("Ben Beta")).to_be_visible()
    assert serious_accessibility_violations(page) == []
    card.get_by_role("button", name="Abstain", exact=True).click()
    assert serious_accessibility_violations(page) == []
    card.get_by_role("button", name="Cast my vote").click()
    expect(card.get_by_role("heading", name="Your vote is recorded")).to_be_visible()
    assert serious_accessibility_violations(page) == []


def test_a_second_vote_from_another_device_is_refused_as_already_voted(
    hall: Hall, congress: Congress, open_page: Any
) -> None:
    motion, ballot = table_and_open(hall.stack, congress.body_id)
    delegate = congress.delegates[2]
    ok(
        hall.stack.api("POST", f"/api/v1/ballots/{ballot['id']}/votes", token=delegate.auth, json={"choice": "no"}),
        201,
    )
    page = open_page().page
    sign_in(page, hall, delegate)
    card = page.get_by_role("article", name=f"Motion: {motion['title']}")
    card.get_by_role("button", name="Yes", exact=True).click()
    card.get_by_role("button", name="Cast my vote").click()
    expect(page.get_by_role("alert")).to_have_text(
        "You have already voted in this ballot: only your first vote counts, and it cannot be changed."
    )
    expect(card.get_by_role("heading", name="You have already voted")).to_be_visible()
