"""Issue 11, acceptance 4: at LOG_LEVEL=DEBUG, no credential, token, receipt or proof reaches a log."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Stack, new_section, running_stack
from tests.support import infra
from tests.support.congress import congress_in_session, table_and_open

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def chatty(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    vhost = infra.create_vhost()
    if vhost is None:
        pytest.skip("needs rabbitmqctl to give this stack a vhost of its own")
    try:
        workdir = tmp_path_factory.mktemp(f"debug-{request.param}")
        env = {"LOG_LEVEL": "DEBUG", "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "127.0.0.0/8"}
        with running_stack(request.param, infra.amqp_uri(vhost), workdir, extra_env=env) as stack:
            yield stack
    finally:
        infra.delete_vhost(vhost)


def test_no_secret_issued_in_a_congress_appears_in_any_log_at_debug(chatty: Stack) -> None:
    stack = chatty
    secrets_issued: list[str] = [stack.admin_token, stack.observer_token]

    code = new_section()["code"]
    assert stack.api("POST", "/api/v1/sections", json=new_section(code)).status_code == 201
    officer = stack.api("POST", f"/api/v1/sections/{code}/officer-tokens", json={"label": "secretary"}).json()
    secrets_issued.append(officer["token"])
    assert stack.api("GET", f"/api/v1/sections/{code}", token=f"Bearer {officer['token']}").status_code == 200
    hook = stack.api(
        "POST", "/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "event_types": ["motion.decided"]}
    )
    assert hook.status_code == 201, hook.text
    secrets_issued.append(hook.json()["secret"])

    congress = congress_in_session(stack, delegates=6)
    secrets_issued += [d.credential for d in congress.delegates]
    _, ballot = table_and_open(stack, congress.body_id)
    for i, delegate in enumerate(congress.delegates):
        vote = {"choice": ("yes", "no", "abstain")[i % 3], "request_id": f"r-{i}"}
        for _ in range(2):  # a retry too: the answer (and its receipt) travels twice
            answer = stack.api("POST", f"/api/v1/ballots/{ballot['id']}/votes", token=delegate.auth, json=vote)
            assert answer.status_code in (200, 201), answer.text
        secrets_issued.append(answer.json()["receipt"])
    wrong = stack.api("POST", f"/api/v1/ballots/{ballot['id']}/votes", token="Bearer dc_" + "x" * 43, json=vote)
    assert wrong.status_code == 401
    assert stack.api("POST", f"/api/v1/ballots/{ballot['id']}/close").status_code == 200
    reissued = stack.api("POST", f"/api/v1/members/{congress.delegates[0].member_id}/credential").json()
    secrets_issued.append(reissued["credential"])

    logs = {path: path.read_text(errors="replace") for path in Path(stack.processes.log_dir).glob("*.log")}
    assert sum("DEBUG" in text for text in logs.values()) >= 3, "the services did not log at DEBUG"
    proofs = re.compile(r"eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}")
    for path, text in logs.items():
        leaked = [s[:8] + "…" for s in secrets_issued if s in text]
        assert not leaked, f"{path.name} holds {len(leaked)} secret(s): {leaked}"
        assert not proofs.search(text), f"{path.name} holds a call or event proof"
