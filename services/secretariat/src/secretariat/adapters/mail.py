"""Email over SMTP: multipart/alternative (plain text and HTML), TLS none, STARTTLS or SSL.

smtplib blocks, but under `nameko run` eventlet has patched the socket module, so a send
waits cooperatively like any other I/O of the service.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from secretariat.settings import Settings


class MailError(Exception):
    """The message was not accepted; `code` is the SMTP reply code when the server gave one."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


def build_message(
    settings: Settings, to: str, subject: str, text: str, html: str, message_id: str | None = None
) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = settings.mail_from
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    # The delivery id: a duplicate send after a crash carries the same Message-ID, which mail
    # systems use to drop it.
    domain = settings.mail_from.rsplit("@", 1)[-1].strip(">").strip() or "localhost"
    mail["Message-ID"] = f"<{message_id}@{domain}>" if message_id else make_msgid(domain=domain)
    mail.set_content(text)
    mail.add_alternative(html, subtype="html")
    return mail


class SmtpMailer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.smtp_tls == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                s.smtp_host, s.smtp_port, timeout=s.smtp_timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
            if s.smtp_tls == "starttls":
                client.starttls(context=ssl.create_default_context())
        if s.smtp_user:
            client.login(s.smtp_user, s.smtp_password or "")
        return client

    def send(self, to: str, subject: str, text: str, html: str, message_id: str | None = None) -> None:
        """Hand the message to the SMTP server; raises MailError if it is not accepted."""
        mail = build_message(self.settings, to, subject, text, html, message_id)
        try:
            client = self._connect()
            try:
                refused = client.send_message(mail)
            finally:
                try:
                    client.quit()
                except (smtplib.SMTPException, OSError):
                    client.close()
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise MailError(f"SMTP {code}: recipient refused: {_text(reply)}", code) from None
        except smtplib.SMTPResponseException as exc:
            raise MailError(f"SMTP {exc.smtp_code}: {_text(exc.smtp_error)}", exc.smtp_code) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(f"SMTP {type(exc).__name__}: {exc}") from None
        if refused:
            code, reply = next(iter(refused.values()))
            raise MailError(f"SMTP {code}: recipient refused: {_text(reply)}", code)


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
