"""Password hashing with the standard library's scrypt."""

import base64
import functools
import hashlib
import hmac
import secrets

_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches ``stored``. A missing user, or one without a
    password, costs the same scrypt run as a real check (against a dummy hash), so the
    answer's timing does not tell which uids exist."""
    known = stored is not None and stored.startswith("scrypt$") and stored.count("$") == 2
    if not known:
        stored = _dummy_hash()
    _, salt_b64, digest_b64 = str(stored).split("$", 2)
    digest = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt_b64), n=_N, r=_R, p=_P)
    return hmac.compare_digest(digest, base64.b64decode(digest_b64)) and known


def hash_like(password: str, stored: str | None) -> str | None:
    """``password`` hashed with ``stored``'s salt: ``stored`` itself exactly when
    ``password`` is the one it was made from (None when there is nothing to compare
    with). It lets the secret stop where it arrived while another process, holding
    only this hash, decides whether the password was right (``same_hash``)."""
    if stored is None or not stored.startswith("scrypt$") or stored.count("$") != 2:
        return None
    _, salt_b64, _ = stored.split("$", 2)
    digest = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt_b64), n=_N, r=_R, p=_P)
    return f"scrypt${salt_b64}$" + base64.b64encode(digest).decode()


def same_hash(candidate: str | None, stored: str | None) -> bool:
    """Constant-time: is ``candidate`` (``hash_like``'s) the stored hash?"""
    if candidate is None or stored is None:
        return False
    return hmac.compare_digest(candidate.encode(), stored.encode())
