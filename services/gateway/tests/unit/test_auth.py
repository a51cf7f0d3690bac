from __future__ import annotations

import pytest

from congress.actors import Actor, require_role, require_section
from congress.errors import Forbidden, NotAuthenticated
from gateway.auth import TokenBook, presented_token, token_hash


@pytest.fixture
def book() -> TokenBook:
    return TokenBook({token_hash("admin-secret"): Actor("admin"), token_hash("watch"): Actor("observer")})


def test_a_known_bearer_token_gives_its_role(book: TokenBook) -> None:
    assert book.find(token_hash(presented_token("Bearer admin-secret"))) == Actor("admin")
    assert book.find(token_hash(presented_token("bearer watch"))) == Actor("observer")
    assert book.find(token_hash("admin-secret2")) is None


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", "Basic admin-secret"])
def test_missing_or_malformed_authorization_is_not_authenticated(header: str | None) -> None:
    with pytest.raises(NotAuthenticated):
        presented_token(header)


def test_a_role_outside_the_allowed_ones_is_forbidden() -> None:
    require_role(Actor("admin"), "admin")
    with pytest.raises(Forbidden, match="admin"):
        require_role(Actor("observer"), "admin", "secretariat")


def test_a_section_officer_acts_only_for_their_own_section() -> None:
    require_section(Actor("admin"), "ew")
    require_section(Actor("section_officer", section="ew"), "ew")
    with pytest.raises(Forbidden, match="'ew', not 'fr'"):
        require_section(Actor("section_officer", section="ew"), "fr")
    with pytest.raises(Forbidden):
        require_section(Actor("observer"), "ew")


def test_the_book_holds_hashes_not_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_TOKEN", "plain-admin-token")
    book = TokenBook.from_environment()

    assert "plain-admin-token" not in repr(book._hashes)
    assert book.find(token_hash("plain-admin-token")) == Actor("admin")


@pytest.mark.parametrize("placeholder", ["change-me", "admin", "short"])
def test_a_placeholder_admin_token_is_never_accepted(monkeypatch: pytest.MonkeyPatch, placeholder: str) -> None:
    monkeypatch.setenv("ADMIN_TOKEN", placeholder)

    book = TokenBook.from_environment()

    assert book.find(token_hash(placeholder)) is None
