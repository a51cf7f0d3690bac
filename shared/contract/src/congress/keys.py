"""The platform's keys, read from settings and never from a database.

Each key comes from an environment variable holding it (base64) or from a file named by the
same variable with `_FILE` (a Docker or Kubernetes secret). `make run` and the test stacks make
them under `var/keys/` (mode 0600, in a 0700 folder) with `ensure_keys`.

- `CONGRESS_SERVICE_KEY`: 32 bytes, shared by the services only: signs every RPC's proof of who
  asked and every event a service publishes (HMAC-SHA256 through PyJWT).
- `BALLOT_KEY`: 32 bytes, the voting service only: AES-GCM key for what an open secret ballot
  writes (choice and receipt), decrypted at the close.
- `RECORD_SIGNING_KEY`: an Ed25519 private key (32 raw bytes), the voting service only: signs
  every published ballot record; its public key is served by the API.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

SERVICE_KEY = "CONGRESS_SERVICE_KEY"
BALLOT_KEY = "BALLOT_KEY"
RECORD_SIGNING_KEY = "RECORD_SIGNING_KEY"
ALL_KEYS = (SERVICE_KEY, BALLOT_KEY, RECORD_SIGNING_KEY)


class MissingKey(RuntimeError):
    """A key the service needs is not configured: it refuses to start rather than run unprotected."""


def _read(name: str) -> bytes:
    value = os.environ.get(name, "").strip()
    path = os.environ.get(f"{name}_FILE", "").strip()
    if not value and path:
        try:
            value = Path(path).read_text().strip()
        except OSError as exc:
            raise MissingKey(f"{name}_FILE={path} cannot be read: {exc.strerror}") from None
    if not value:
        raise MissingKey(f"{name} is not set (give the key in {name} or a file in {name}_FILE)")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except ValueError:
        raise MissingKey(f"{name} is not base64") from None
    if len(raw) != 32:
        raise MissingKey(f"{name} must be 32 bytes (base64 of 32 random bytes), not {len(raw)}")
    return raw


def service_key() -> bytes:
    return _read(SERVICE_KEY)


def ballot_key() -> bytes:
    return _read(BALLOT_KEY)


def record_signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_read(RECORD_SIGNING_KEY))


def public_key_text(key: Ed25519PublicKey) -> str:
    """The form the API serves and `congress count ballot --key` takes: base64 of the raw 32 bytes."""
    return base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def load_public_key(text: str) -> Ed25519PublicKey:
    raw = base64.b64decode(text.strip(), validate=True)
    return Ed25519PublicKey.from_public_bytes(raw)


def new_key(name: str) -> str:
    if name == RECORD_SIGNING_KEY:
        raw = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    else:
        raw = secrets.token_bytes(32)
    return base64.urlsafe_b64encode(raw).decode()


def ensure_keys(directory: Path | str) -> dict[str, str]:
    """Make any missing key file under `directory` (0700; files 0600); the `*_FILE` settings to use."""
    folder = Path(directory)
    for missing in reversed([p for p in (folder, *folder.parents) if not p.exists()]):
        missing.mkdir(mode=0o700)  # var/ too, when this makes it: it holds the stores
    folder.chmod(0o700)
    settings = {}
    for name in ALL_KEYS:
        path = folder / f"{name.lower()}.key"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(new_key(name) + "\n")
        settings[f"{name}_FILE"] = str(path.resolve())
    return settings
