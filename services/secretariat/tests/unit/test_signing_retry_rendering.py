from __future__ import annotations

import pytest

from secretariat.adapters.mail import build_message
from secretariat.adapters.templates import render_credential, render_notification
from secretariat.domain import signing
from secretariat.domain.retry import backoff, gives_up
from secretariat.settings import Settings


def test_signatures_match_the_standard_webhooks_reference_vector() -> None:
    # The test vector of the Standard Webhooks reference libraries.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    signed = signing.sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')

    assert signed == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_new_secrets_are_prefixed_and_carry_at_least_24_random_bytes() -> None:
    import base64

    first, second = signing.new_secret(), signing.new_secret()
    assert first.startswith("whsec_") and first != second
    assert len(base64.b64decode(first.removeprefix("whsec_"))) >= 24


def test_backoff_doubles_with_jitter_within_half_and_whole_and_is_capped() -> None:
    assert [backoff(n, 2.0, rng=lambda: 0.0) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert [backoff(n, 2.0, rng=lambda: 1.0) for n in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 16.0]
    assert backoff(30, 2.0, cap=60.0, rng=lambda: 1.0) == 60.0
    assert not gives_up(5, 6) and gives_up(6, 6)


def test_a_notification_renders_as_text_and_escaped_html() -> None:
    data = {"circular_id": "c", "title": "Fees <2027>", "body": "Comrades,\n\nPay <b>now</b> & on time."}

    rendered = render_notification("circular.issued", data, "Socialist Party", inbox=True)

    assert rendered.subject == "Fees <2027>"
    assert "Pay <b>now</b> & on time." in rendered.text and "Dear Socialist Party," in rendered.text
    assert "Pay &lt;b&gt;now&lt;/b&gt; &amp; on time." in rendered.html and "<b>now</b>" not in rendered.html
    assert "inbox" in rendered.text


def test_a_motion_result_has_its_tally_in_both_forms() -> None:
    data = {
        "title": "Programme",
        "outcome": "adopted",
        "tally": {"yes": 3, "no": 1, "abstain": 0},
        "majority_rule": "simple",
        "majority_met": True,
        "quorum": 2,
        "quorum_met": True,
        "electorate": 5,
    }

    rendered = render_notification("motion.decided", data, "Socialist Party")

    assert rendered.subject == "Motion adopted: Programme"
    assert "yes 3, no 1, abstain 0" in rendered.text
    assert '<td style="text-align: right;">3</td>' in rendered.html


def test_email_is_multipart_alternative_with_the_delivery_id_as_message_id() -> None:
    rendered = render_credential("Rosa", "World Congress", "dc_secret-credential")
    mail = build_message(
        Settings(mail_from="IS <is@example.org>"),
        "rosa@example.org",
        rendered.subject,
        rendered.text,
        rendered.html,
        "d-1",
    )

    assert mail.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html"]
    assert mail["Message-ID"] == "<d-1@example.org>"
    assert "dc_secret-credential" in mail.get_body(("plain",)).get_content()


def test_settings_come_from_config_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_PORT", "2525")
    monkeypatch.setenv("WEBHOOK_MAX_ATTEMPTS", "3")
    settings = Settings.from_config({"SMTP_HOST": "mail.example.org", "SMTP_TLS": "STARTTLS"})

    assert (settings.smtp_host, settings.smtp_port, settings.smtp_tls) == ("mail.example.org", 2525, "starttls")
    assert settings.max_attempts == 3 and settings.backoff_base == 2.0
    with pytest.raises(ValueError, match="SMTP_TLS"):
        Settings.from_config({"SMTP_TLS": "maybe"})
