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
