"""Secrets: Argon2id password hashes, random tokens kept as their SHA-256, TOTP codes.

Passwords are hashed with argon2-cffi's ``PasswordHasher`` (Argon2id, its
RFC 9106 low-memory profile); tokens (session ids, access tokens, invitation
codes) are 32 random bytes shown once and stored only as SHA-256 — a stolen
database gives no way in.  The second factor is RFC 6238 TOTP (pyotp).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["hash_password", "verify_password", "needs_rehash", "new_token", "token_hash",
           "new_totp_secret", "verify_totp", "totp_step", "totp_uri", "check_password_strength",
           "TOKEN_PREFIX", "same"]

_HASHER = PasswordHasher()
#: Personal access tokens start with this (so that a leaked one is recognisable).
TOKEN_PREFIX = "gx_"
#: A hash to verify against when the account does not exist (same time either way).
_DUMMY = _HASHER.hash("not a password of anyone")
MIN_PASSWORD_LENGTH = 12


def hash_password(password: str) -> str:
    """Hash ``password`` with Argon2id.

    Examples
    --------
    >>> hash_password("correct horse battery").startswith("$argon2id$")
    True
    """
    return _HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Check whether ``password`` matches ``stored`` (an unknown account costs the same time).

    Examples
    --------
    >>> h = hash_password("correct horse battery")
    >>> verify_password(h, "correct horse battery"), verify_password(h, "wrong")
    (True, False)
    """
    try:
        return _HASHER.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Tell whether ``stored`` was made with weaker parameters than today's."""
    return _HASHER.check_needs_rehash(stored)


def check_password_strength(password: str) -> str | None:
    """Why ``password`` is refused, or None (length only, as NIST SP 800-63B advises).

    Examples
    --------
    >>> check_password_strength("short")
    'a password needs at least 12 characters (this one has 5)'
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        return (f"a password needs at least {MIN_PASSWORD_LENGTH} characters "
                f"(this one has {len(password)})")
    if len(password) > 1024:
        return "a password may have at most 1024 characters"
    return None


def new_token(prefix: str = "") -> str:
    """Make a new random token: ``prefix`` and 256 random bits, URL-safe base64."""
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """Hash a token as it is stored: its SHA-256, in hex.

    Examples
    --------
    >>> len(token_hash("gx_abc"))
    64
    """
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def same(a: str, b: str) -> bool:
    """Compare two secrets in constant time."""
    return hmac.compare_digest(a.encode(), b.encode())


def new_totp_secret() -> str:
    """Make a new random TOTP secret (base32, 32 characters: 160 bits)."""
    return pyotp.random_base32()


def totp_uri(secret: str, email: str) -> str:
    """Return the ``otpauth://`` URI that sets up an authenticator app (issuer gutaxis)."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name="gutaxis")


def totp_step(secret: str, code: str, *, after: int | None = None) -> int | None:
    """Return the 30-second step whose code ``code`` is (this one or an adjacent one), or None.

    A code is good once: a step not after ``after`` (the last step used)
    is refused, so that a code seen over a shoulder cannot be replayed.

    Examples
    --------
    >>> s = new_totp_secret()
    >>> step = totp_step(s, pyotp.TOTP(s).now())
    >>> step is not None, totp_step(s, pyotp.TOTP(s).now(), after=step)
    (True, None)
    """
    code = "".join(code.split())
    if not code.isdigit() or len(code) != 6 or not code.isascii():
        return None
    totp = pyotp.TOTP(secret)
    now = dt.datetime.now(dt.UTC)
    for offset in (-1, 0, 1):
        moment = now + dt.timedelta(seconds=offset * totp.interval)
        if same(totp.at(moment), code):
            step = int(totp.timecode(moment))
            return step if after is None or step > after else None
    return None


def verify_totp(secret: str, code: str) -> bool:
    """Check whether ``code`` is the current (or the adjacent) 30-second code of ``secret``.

    Examples
    --------
    >>> s = new_totp_secret()
    >>> verify_totp(s, pyotp.TOTP(s).now()), verify_totp(s, "000000x")
    (True, False)
    """
    code = "".join(code.split())
    if not code.isdigit() or len(code) != 6:
        return False
    return pyotp.TOTP(secret).verify(code, valid_window=1)
