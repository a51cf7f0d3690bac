"""Issue 11: an admin issues, lists and revokes tokens of every role, the Secretariat's included."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Stack, new_section

pytestmark = pytest.mark.e2e


def issue(stack: Stack, **request: str) -> dict:
    answer = stack.api("POST", "/api/v1/tokens", json=request)
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_tokens_of_every_role_work_list_without_their_secret_and_revoke(stack: Stack) -> None:
    code = new_section()["code"]
    assert stack.api("POST", "/api/v1/sections", json=new_section(code)).status_code == 201
    secretariat = issue(stack, role="secretariat", label="Centre desk")
    observer = issue(stack, role="observer", label="hall screen")
    officer = issue(stack, role="section_officer", section=code, label="secretary")
    second_admin = issue(stack, role="admin", label="deputy")
    assert secretariat["token"].startswith("ts_") and officer["token"].startswith("so_")

    # Each works as its role, and only as its role.
    as_secretariat = stack.api("GET", "/api/v1/deliveries", token=f"Bearer {secretariat['token']}")
    assert as_secretariat.status_code == 200, as_secretariat.text
    assert stack.api("GET", "/api/v1/deliveries", token=f"Bearer {observer['token']}").status_code == 403
    assert stack.api("GET", f"/api/v1/sections/{code}/returns", token=f"Bearer {officer['token']}").status_code == 200
    assert stack.api("GET", "/api/v1/tokens", token=f"Bearer {second_admin['token']}").status_code == 200

    listed = stack.api("GET", "/api/v1/tokens").json()["tokens"]
    by_id = {t["id"]: t for t in listed}
    for made in (secretariat, observer, officer, second_admin):
        assert by_id[made["id"]]["role"] == made["role"]
    assert not any("token" in t for t in listed)
    own = stack.api("GET", f"/api/v1/sections/{code}/officer-tokens", token=f"Bearer {officer['token']}")
    assert [t["id"] for t in own.json()["tokens"]] == [officer["id"]]
    assert stack.api("GET", "/api/v1/tokens", token=f"Bearer {officer['token']}").status_code == 403
    only = stack.api("GET", "/api/v1/tokens?role=secretariat").json()["tokens"]
    assert {t["role"] for t in only} == {"secretariat"}

    assert stack.api("DELETE", f"/api/v1/tokens/{secretariat['id']}").status_code == 200
    assert stack.api("GET", "/api/v1/deliveries", token=f"Bearer {secretariat['token']}").status_code == 401
    assert secretariat["id"] not in {t["id"] for t in stack.api("GET", "/api/v1/tokens").json()["tokens"]}


@pytest.mark.parametrize(
    ("request_body", "field"),
    [
        ({"role": "delegate"}, "role"),
        ({"role": "section_officer"}, "section"),
        ({"role": "secretariat", "section": "ew"}, "section"),
        ({"role": "observer", "label": "x" * 201}, "label"),
    ],
)
def test_a_token_that_cannot_be_issued_is_refused_with_the_field_named(
    stack: Stack, request_body: dict, field: str
) -> None:
    before = len(stack.api("GET", "/api/v1/tokens").json()["tokens"])
    answer = stack.api("POST", "/api/v1/tokens", json=request_body)
    assert answer.status_code == 400 and field in answer.json()["error"]["fields"], answer.text
    assert len(stack.api("GET", "/api/v1/tokens").json()["tokens"]) == before
