"""The analyst's signing key: Ed25519 (``cryptography``), kept outside every case.

Each workstation account has one key, created on first use in the user's config directory
(``platformdirs.user_config_dir("evidence-audit")/signing_key.pem``, mode 0600; the folder can be
moved with ``EVIDENCE_AUDIT_KEY_DIR``, e.g. to a removable drive). A case records the public key
and its fingerprint; the audit chain's head is signed at every stored change, so a signature
on row N proves rows 1..N as they were (each row's hash covers the one before it).

What a signature cannot prove: anything after the last signed head, and anything done by
someone who holds the private key. Keep the key file private and back it up; publish the
fingerprint (``evidence-audit key``) so others can check a case against it.
"""
from __future__ import annotations

import base64
import hashlib
import os
import pwd
import socket
from dataclasses import dataclass
from pathlib import Path

from media_core.errors import CaseError

KEY_FILE = "signing_key.pem"
ALGORITHM = "ed25519"


def account() -> str:
    """The OS account running this process (from the password database, never the environment)."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # a uid without a passwd entry (containers)
        return f"uid-{os.getuid()}"


def key_dir() -> Path:
    """Where the signing key lives: ``$EVIDENCE_AUDIT_KEY_DIR`` or the user's config directory."""
    env = os.environ.get("EVIDENCE_AUDIT_KEY_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_config_dir("evidence-audit"))


def fingerprint(public_raw: bytes) -> str:
    """``SHA256:`` + the first 16 bytes of the public key's SHA-256, hex (what users compare)."""
    return "SHA256:" + hashlib.sha256(public_raw).hexdigest()[:32]


@dataclass(frozen=True)
class Signer:
    """A loaded private key with its public half and fingerprint."""

    private_key: object
    public_raw: bytes
    fingerprint: str
    path: Path

    @property
    def public_b64(self) -> str:
        return base64.b64encode(self.public_raw).decode("ascii")

    def sign(self, message: bytes) -> str:
        """The signature of ``message``, base64."""
        return base64.b64encode(self.private_key.sign(message)).decode("ascii")


def _public_raw(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def load_signer(directory: str | os.PathLike | None = None, *, create: bool = True) -> Signer:
    """This account's signing key, created (0600) on first use.

    Raises
    ------
    CaseError
        The key file exists but cannot be read or is not an Ed25519 key, or cannot be created.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    d = Path(directory) if directory is not None else key_dir()
    p = d / KEY_FILE
    if p.is_file():
        try:
            key = serialization.load_pem_private_key(p.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise CaseError(f"{p}: the signing key cannot be read ({exc})") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise CaseError(f"{p}: not an Ed25519 signing key")
    elif not create:
        raise CaseError(f"{p}: no signing key")
    else:
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        try:
            d.mkdir(parents=True, exist_ok=True)
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
        except FileExistsError:  # another process made it first: use theirs
            return load_signer(d, create=False)
        except OSError as exc:
            raise CaseError(f"{p}: cannot create the signing key ({exc.strerror or exc})") from None
    raw = _public_raw(key)
    return Signer(key, raw, fingerprint(raw), p)


def verify_signature(public_b64: str, message: bytes, signature_b64: str) -> bool:
    """Whether ``signature_b64`` is a valid Ed25519 signature of ``message`` by ``public_b64``."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        pub = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_b64, validate=True))
        pub.verify(base64.b64decode(signature_b64, validate=True), message)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def head_message(case_id: str, seq: int, row_hash: str) -> bytes:
    """What is signed for a chain head: the case, the row number and its hash."""
    return f"evidence-audit log head\n{case_id}\n{seq}\n{row_hash}\n".encode("utf-8")


def host() -> str:
    """This machine's name (recorded with a new signer)."""
    return socket.gethostname()


# ---------------------------------------------------------------------------- signed-head journal
def _journal(case_id: str) -> Path:
    return key_dir() / "heads" / f"{case_id}.json"


def record_head(case_id: str, seq: int, row_hash: str, at: str) -> None:
    """Remember, outside the case, the newest head this account signed for it.

    A case can be rolled back (its newest rows, signatures and head deleted together) without
    any trace inside it; this journal in the key's folder lets :meth:`Case.verify` on this
    workstation notice. Best effort: a journal that cannot be written never blocks a change.
    """
    import json

    p = _journal(case_id)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"case_id": case_id, "seq": seq, "hash": row_hash, "at": at}))
        os.replace(tmp, p)
    except OSError:
        pass


def recorded_head(case_id: str) -> dict | None:
    """The newest head this account signed for ``case_id`` (see :func:`record_head`), or None."""
    import json

    try:
        d = json.loads(_journal(case_id).read_text())
    except (OSError, ValueError):
        return None
    return d if isinstance(d, dict) and isinstance(d.get("seq"), int) else None
