"""Secrets: Argon2id password hashes, random tokens kept as their SHA-256, TOTP codes.

Passwords are hashed with argon2-cffi's ``PasswordHasher`` (Argon2id, its
RFC 9106 low-memory profile); tokens (session ids, access tokens, invitation
codes) are 32 random bytes shown once and stored only as SHA-256 — a stolen
database gives no way in.  The second factor is RFC 6238 TOTP (pyotp); its
secrets, which the server must be able to read back, are kept sealed with
AES-256-GCM (:class:`SecretBox`, the ``cryptography`` package) under a key in
a file beside the data, not in the database: a copy of the database alone
does not give them away.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import logging
import os
import secrets
import threading
from pathlib import Path

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gutaxis.exceptions import GutaxisError, ValidationError

__all__ = ["hash_password", "verify_password", "needs_rehash", "new_token", "token_hash",
           "new_totp_secret", "verify_totp", "totp_step", "totp_uri", "check_password_strength",
           "TOKEN_PREFIX", "same", "SecretBox", "KeyFileBox", "WrongKeyError", "SECRETS"]

logger = logging.getLogger(__name__)

_HASHER = PasswordHasher()
#: Personal access tokens start with this (so that a leaked one is recognisable).
TOKEN_PREFIX = "gx_"
#: A hash to verify against when the account does not exist (same time either way).
_DUMMY = _HASHER.hash("not a password of anyone")
MIN_PASSWORD_LENGTH = 12
#: The key of a database session's ``info`` that holds the application's :class:`KeyFileBox`
#: (:class:`gutaxis.service.context.AppContext` puts it there).
SECRETS = "secrets"


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


class WrongKeyError(GutaxisError):
    """A sealed secret does not open with this key (another key sealed it, or it was altered)."""


class SecretBox:
    """Seal short secrets (the TOTP secrets) with AES-256-GCM under a key kept outside the database.

    A sealed value is ``SEALED_PREFIX`` and the URL-safe base64 of a random
    96-bit nonce followed by the ciphertext and its tag.  ``context`` (the
    account it belongs to) is authenticated with it, so a value copied to
    another row does not open there.

    Parameters
    ----------
    key : bytes
        32 random bytes (:meth:`from_file` keeps them in a file).

    Examples
    --------
    >>> box = SecretBox(bytes(range(32)))
    >>> sealed = box.seal("JBSWY3DPEHPK3PXP", "user 7")
    >>> sealed.startswith(SecretBox.SEALED_PREFIX), "JBSWY3DP" in sealed
    (True, False)
    >>> box.open(sealed, "user 7")
    'JBSWY3DPEHPK3PXP'
    >>> box.open(sealed, "user 8")
    Traceback (most recent call last):
    ...
    gutaxis.service.security.WrongKeyError: a sealed secret does not open with this server's key
    """

    #: What a sealed value starts with (a value without it was stored before sealing).
    SEALED_PREFIX = "aesgcm1:"
    KEY_BYTES = 32

    def __init__(self, key: bytes) -> None:
        if len(key) != self.KEY_BYTES:
            raise ValidationError(f"a secret key has {self.KEY_BYTES} bytes; got {len(key)}")
        self._aead = AESGCM(key)
        #: Whether :meth:`from_file` made the key file (a new key) rather than read it.
        self.made_now = False

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> SecretBox:
        """Read the key kept in ``path``, making it (readable by its owner only) when absent.

        The file holds the key as base64 on one line.  A new key is written
        whole to a file of its own, on disk, then linked to ``path`` in one
        step: servers starting at once on one data folder end up with the
        same key, and none ever reads a file half written.  ``made_now``
        tells whether this call made it.

        Raises
        ------
        ValidationError
            The file is there but does not hold a key.
        OSError
            It cannot be read or made.
        """
        path = Path(path)
        if not os.path.lexists(path):
            key = secrets.token_bytes(cls.KEY_BYTES)
            scratch = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
            fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                try:
                    os.write(fd, base64.b64encode(key) + b"\n")
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.link(scratch, path)
                made = True
            except FileExistsError:  # another process made it first: read theirs
                made = False
            finally:
                scratch.unlink(missing_ok=True)
            directory = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
            if made:
                box = cls(key)
                box.made_now = True
                return box
        mode = path.stat().st_mode
        if mode & 0o077:
            logger.warning("%s: others than its owner may read the server's secret key "
                           "(mode %o); chmod 600 it", path, mode & 0o777)
        text = path.read_bytes().strip()
        try:
            key = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != cls.KEY_BYTES:
            raise ValidationError(f"{path}: expected the server's secret key ({cls.KEY_BYTES} "
                                  f"bytes in base64 on one line); found {len(text)} other "
                                  "bytes. Restore it from the backup; without it the second "
                                  "factors sealed with it cannot be checked (or move the file "
                                  "aside: a new key is made, and those second factors must be "
                                  "turned off with `gutaxis users password "
                                  "--second-factor-off`)")
        return cls(key)

    @classmethod
    def is_sealed(cls, stored: str) -> bool:
        """Tell whether ``stored`` was sealed (or is a value kept from before sealing)."""
        return stored.startswith(cls.SEALED_PREFIX)

    def seal(self, secret: str, context: str) -> str:
        """Seal ``secret``, bound to ``context``; a new random nonce every time."""
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, secret.encode(), context.encode())
        return self.SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, stored: str, context: str) -> str:
        """Open what :meth:`seal` made for ``context`` (a value from before sealing as it is).

        Raises
        ------
        WrongKeyError
            Sealed under another key or for another context, or altered.
        """
        if not self.is_sealed(stored):
            return stored
        try:
            raw = base64.urlsafe_b64decode(stored[len(self.SEALED_PREFIX):])
            return self._aead.decrypt(raw[:12], raw[12:], context.encode()).decode()
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise WrongKeyError("a sealed secret does not open with this server's key") \
                from exc


class KeyFileBox:
    """The :class:`SecretBox` of a key file, read (or made) when first needed.

    What an application holds: commands that never seal or open a secret
    (``gutaxis users password --second-factor-off``, ``db upgrade``) work
    even when the key file is lost or damaged, and can repair the accounts.

    Parameters
    ----------
    path : path
        The key file (:meth:`SecretBox.from_file`).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._box: SecretBox | None = None
        self._lock = threading.Lock()

    def box(self) -> SecretBox:
        """Return the box, reading or making the key file the first time.

        Raises
        ------
        ValidationError, OSError
            As :meth:`SecretBox.from_file`.
        """
        with self._lock:
            if self._box is None:
                self._box = SecretBox.from_file(self.path)
            return self._box

    is_sealed = staticmethod(SecretBox.is_sealed)

    def seal(self, secret: str, context: str) -> str:
        """Seal as :meth:`SecretBox.seal` does."""
        return self.box().seal(secret, context)

    def open(self, stored: str, context: str) -> str:
        """Open as :meth:`SecretBox.open` does (a value from before sealing needs no key)."""
        return stored if not self.is_sealed(stored) else self.box().open(stored, context)
