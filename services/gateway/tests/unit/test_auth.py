from __future__ import annotations

import pytest

from congress.errors import Forbidden, NotAuthenticated
from gateway.auth import Principal, TokenBook, require, token_hash


@pytest.fixture
def book() -> TokenBook:
    return TokenBook({token_hash("admin-secret"): Principal("admin"), token_hash("watch"): Principal("observer")})


def test_a_known_bearer_token_gives_its_role(book: TokenBook) -> None:
    assert book.authenticate("Bearer admin-secret") == Principal("admin")
    assert book.authenticate("bearer watch") == Principal("observer")


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", "Basic admin-secret", "Bearer admin-secret2"])
def test_missing_malformed_or_unknown_tokens_are_not_authenticated(book: TokenBook, header: str | None) -> None:
    with pytest.raises(NotAuthenticated):
        book.authenticate(header)


def test_a_role_outside_the_allowed_ones_is_forbidden() -> None:
    require(Principal("admin"), "admin")
    with pytest.raises(Forbidden, match="admin"):
        require(Principal("observer"), "admin", "secretariat")


def test_the_book_holds_hashes_not_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_TOKEN", "plain-admin-token")
    book = TokenBook.from_environment()

    assert "plain-admin-token" not in repr(book._hashes)
    assert book.authenticate("Bearer plain-admin-token").role == "admin"
