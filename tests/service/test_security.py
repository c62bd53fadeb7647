"""Secrets: Argon2id password hashes, tokens kept as SHA-256, TOTP codes (RFC 6238 vectors)."""

from __future__ import annotations

import base64
import hashlib
import types
import urllib.parse

import pyotp
import pyotp.totp
import pytest
from argon2 import PasswordHasher
from argon2.low_level import Type, hash_secret

from gutaxis.service import security
from gutaxis.service.security import (
    TOKEN_PREFIX,
    check_password_strength,
    hash_password,
    needs_rehash,
    new_token,
    new_totp_secret,
    same,
    token_hash,
    totp_uri,
    verify_password,
    verify_totp,
)

PASSWORD = "correct horse battery staple"


# ------------------------------------------------------------------ passwords
def _parts(encoded: str) -> dict[str, str]:
    _, kind, version, params, salt, digest = encoded.split("$")
    fields = dict(item.split("=") for item in params.split(","))
    return {"kind": kind, "version": version, **fields, "salt": salt, "digest": digest}


def _b64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def test_hash_is_argon2id_with_rfc_9106_low_memory_parameters() -> None:
    stored = hash_password(PASSWORD)
    assert stored.startswith("$argon2id$v=19$")
    parts = _parts(stored)
    # RFC 9106's second recommended option: t=3, m=64 MiB, p=4, 16-byte salt, 32-byte tag
    assert (parts["m"], parts["t"], parts["p"]) == ("65536", "3", "4")
    assert len(_b64(parts["salt"])) == 16
    assert len(_b64(parts["digest"])) == 32
    assert PASSWORD not in stored


def test_hash_recomputed_from_its_salt_with_the_low_level_function() -> None:
    stored = hash_password(PASSWORD)
    parts = _parts(stored)
    again = hash_secret(PASSWORD.encode(), _b64(parts["salt"]), time_cost=3, memory_cost=65536,
                        parallelism=4, hash_len=32, type=Type.ID)
    assert again.decode() == stored


def test_two_hashes_of_one_password_differ_by_their_salt() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second
    assert _parts(first)["salt"] != _parts(second)["salt"]
    assert verify_password(first, PASSWORD) and verify_password(second, PASSWORD)


def test_verify_accepts_the_password_only() -> None:
    stored = hash_password(PASSWORD)
    assert verify_password(stored, PASSWORD) is True
    assert verify_password(stored, PASSWORD + " ") is False
    assert verify_password(stored, PASSWORD.upper()) is False
    assert verify_password(stored, "") is False


def test_verify_a_broken_hash_is_false_not_an_error() -> None:
    stored = hash_password(PASSWORD)
    assert verify_password("not a hash", PASSWORD) is False
    assert verify_password(stored[:-8], PASSWORD) is False
    assert verify_password(stored.replace("argon2id", "argon2i"), PASSWORD) is False


def test_unknown_account_is_refused_even_with_the_dummy_password() -> None:
    # the unknown account (stored None) is verified against a dummy hash, for the same time;
    # even the dummy's own password does not let anyone in
    assert verify_password(None, PASSWORD) is False
    assert verify_password(None, "not a password of anyone") is False
    assert verify_password(security._DUMMY, "not a password of anyone") is True


def test_needs_rehash_for_weaker_parameters_only() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    assert needs_rehash(weak) is True
    assert verify_password(weak, PASSWORD) is True
    assert needs_rehash(hash_password(PASSWORD)) is False


@pytest.mark.parametrize(("password", "expected"), [
    ("a" * 11, "a password needs at least 12 characters (this one has 11)"),
    ("a" * 12, None),
    ("a" * 1024, None),
    ("a" * 1025, "a password may have at most 1024 characters"),
])
def test_password_strength_is_length_only(password: str, expected: str | None) -> None:
    assert check_password_strength(password) == expected


# ------------------------------------------------------------------ tokens
@pytest.mark.parametrize(("token", "expected"), [
    # FIPS 180-2's example: SHA-256("abc")
    ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
])
def test_token_hash_is_sha256_hex(token: str, expected: str) -> None:
    assert token_hash(token) == expected


def test_token_hash_of_a_real_token_and_of_odd_text() -> None:
    token = new_token(TOKEN_PREFIX)
    assert token_hash(token) == hashlib.sha256(token.encode("ascii")).hexdigest()
    assert token_hash("clé") == hashlib.sha256("clé".encode()).hexdigest()
    # a lone surrogate (from a broken header or cookie) is hashed, not an error
    assert token_hash("\ud800") == hashlib.sha256(b"\xed\xa0\x80").hexdigest()


def test_new_tokens_are_random_url_safe_and_prefixed() -> None:
    tokens = {new_token(TOKEN_PREFIX) for _ in range(20)}
    assert len(tokens) == 20
    for token in tokens:
        assert token.startswith("gx_")
        body = token[len("gx_"):]
        assert len(body) == 43  # 32 bytes in unpadded base64
        assert len(base64.urlsafe_b64decode(body + "=")) == 32
    assert len(new_token()) == 43


def test_same_compares_secrets() -> None:
    assert same("abc", "abc") is True
    assert same("abc", "abd") is False
    assert same("abc", "abcd") is False


# ------------------------------------------------------------------ TOTP
#: RFC 6238 appendix B: the SHA-1 seed "12345678901234567890", and its 8-digit codes; the
#: 6-digit code is the last 6 digits (the same HOTP value modulo 10**6).
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
RFC_CODES = {59: "94287082", 1111111109: "07081804", 1111111111: "14050471",
             1234567890: "89005924", 2000000000: "69279037"}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    """pyotp's clock, set by the test (``clock.now``)."""
    now = types.SimpleNamespace(now=0.0)
    monkeypatch.setattr(pyotp.totp, "time", types.SimpleNamespace(time=lambda: now.now))
    return now


@pytest.mark.parametrize("at", sorted(RFC_CODES))
def test_totp_accepts_the_rfc_6238_code(clock: types.SimpleNamespace, at: int) -> None:
    clock.now = at
    assert verify_totp(RFC_SECRET, RFC_CODES[at][-6:]) is True


def test_totp_accepts_the_adjacent_window_and_no_further(clock: types.SimpleNamespace) -> None:
    # 1111111109 and 1111111111 fall in consecutive 30-second windows
    assert 1111111109 // 30 + 1 == 1111111111 // 30
    early, late = RFC_CODES[1111111109][-6:], RFC_CODES[1111111111][-6:]
    clock.now = 1111111111
    assert verify_totp(RFC_SECRET, early) is True
    clock.now = 1111111109
    assert verify_totp(RFC_SECRET, late) is True
    clock.now = 1111111111 + 60  # two windows on
    assert verify_totp(RFC_SECRET, late) is False
    assert verify_totp(RFC_SECRET, early) is False
    clock.now = 1111111109 - 60  # two windows back
    assert verify_totp(RFC_SECRET, early) is False


@pytest.mark.parametrize("code", [
    "050471",        # the right code
    "050 471",       # as some apps show it
    " 050471\n",
])
def test_totp_ignores_white_space(clock: types.SimpleNamespace, code: str) -> None:
    clock.now = 1111111111
    assert verify_totp(RFC_SECRET, code) is True


@pytest.mark.parametrize("code", [
    "50471",         # too short (the int value is the same)
    "0050471",       # too long
    "14050471",      # the 8-digit code
    "05047a",        # not digits
    "-50471",
    "٠٥٠٤٧١",        # Arabic-Indic digits: isdigit() is True, but they are not the code
    "",
    "050471x",
])
def test_totp_refuses_wrong_length_and_non_digits(clock: types.SimpleNamespace,
                                                  code: str) -> None:
    clock.now = 1111111111
    assert verify_totp(RFC_SECRET, code) is False


def test_totp_with_a_new_secret_and_its_uri(clock: types.SimpleNamespace) -> None:
    secret = new_totp_secret()
    assert len(secret) == 32
    assert len(base64.b32decode(secret)) == 20
    clock.now = 1700000000
    code = pyotp.TOTP(secret).at(1700000000)
    assert verify_totp(secret, code) is True
    valid = {pyotp.TOTP(secret).at(1700000000 + k * 30) for k in (-1, 0, 1)}
    wrong = next(f"{n:06d}" for n in range(10 ** 6) if f"{n:06d}" not in valid)
    assert verify_totp(secret, wrong) is False
    uri = urllib.parse.urlsplit(totp_uri(secret, "ana@clinic.example"))
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert urllib.parse.unquote(uri.path) == "/gutaxis:ana@clinic.example"
    query = urllib.parse.parse_qs(uri.query)
    assert query["secret"] == [secret]
    assert query["issuer"] == ["gutaxis"]
