"""The second factor: a code works once; wrong codes count towards the lock-out (committed)."""

from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import select

from builders.practice import PASSWORD, make_user
from gutaxis.service.models import AuditEvent, AuthSession, User
from gutaxis.service.security import WrongKeyError, new_totp_secret


def _with_second_factor(ctx, email):
    secret = new_totp_secret()
    make_user(ctx, "A", email)
    with ctx.transaction() as db:
        db.scalar(select(User).where(User.email == email)).totp_secret = secret
    return secret


def _password(client, email):
    response = client.post("/api/v1/session", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200 and response.json()["second_factor_required"]
    return {"X-CSRF-Token": response.json()["csrf_token"]}


def test_a_code_is_good_once(client, ctx):
    secret = _with_second_factor(ctx, "a@a.example")
    code = pyotp.TOTP(secret).now()
    headers = _password(client, "a@a.example")
    assert client.post("/api/v1/session/code", json={"code": code},
                       headers=headers).status_code == 204
    assert client.get("/api/v1/me").status_code == 200
    client.cookies.clear()
    headers = _password(client, "a@a.example")
    replay = client.post("/api/v1/session/code", json={"code": code}, headers=headers)
    assert replay.status_code == 422
    assert "a code works once" in replay.json()["error"]["message"]
    assert client.get("/api/v1/me").status_code == 401


def test_wrong_codes_are_counted_and_lock_the_account(make_settings):
    from fastapi.testclient import TestClient

    from gutaxis.service import create_app

    with TestClient(create_app(make_settings(lockout_failures=3))) as client:
        ctx = client.app.state.ctx
        secret = _with_second_factor(ctx, "a@a.example")
        wrong = f"{(int(pyotp.TOTP(secret).now()) + 500000) % 1000000:06d}"
        headers = _password(client, "a@a.example")
        for expected in (422, 422, 422):
            response = client.post("/api/v1/session/code", json={"code": wrong},
                                   headers=headers)
            if response.status_code == 401:  # the third failure ended the session
                break
            assert response.status_code == expected
        with ctx.transaction() as db:
            user = db.scalar(select(User).where(User.email == "a@a.example"))
            assert user.locked_until is not None
            failed = [e.detail for e in db.scalars(select(AuditEvent).where(
                AuditEvent.action == "session.code_failed").order_by(AuditEvent.seq))]
        assert failed == ["failures=1", "failures=2", "failures=3, locked"]
        locked = client.post("/api/v1/session", json={"email": "a@a.example",
                                                      "password": PASSWORD})
        assert locked.status_code == 401


def _wrong(secret):
    return f"{(int(pyotp.TOTP(secret).now()) + 500000) % 1000000:06d}"


def _own(make_settings, **changes):
    from fastapi.testclient import TestClient

    from gutaxis.service import create_app

    return TestClient(create_app(make_settings(**changes)))


def test_signing_in_again_between_wrong_codes_does_not_start_the_count_again(make_settings):
    # the right password reset the count: 4 codes, sign in again, 4 more, for ever
    from gutaxis.service.models import LoginFailure

    with _own(make_settings, lockout_failures=3) as client:
        ctx = client.app.state.ctx
        secret = _with_second_factor(ctx, "a@a.example")
        for _ in range(2):
            headers = _password(client, "a@a.example")
            assert client.post("/api/v1/session/code", json={"code": _wrong(secret)},
                               headers=headers).status_code == 422
        headers = _password(client, "a@a.example")
        response = client.post("/api/v1/session/code", json={"code": _wrong(secret)},
                               headers=headers)
        assert response.status_code == 422
        with ctx.sessions() as db:
            user = db.scalar(select(User).where(User.email == "a@a.example"))
            assert user.locked_until is not None
            # each wrong code also counts against the address
            assert len(db.scalars(select(LoginFailure)).all()) == 3
            # the lock ended every sign-in still waiting for its code
            assert not db.scalars(select(AuthSession).where(
                AuthSession.user_id == user.id)).all()
        refused = client.post("/api/v1/session/code",
                              json={"code": pyotp.TOTP(secret).now()}, headers=headers)
        assert refused.status_code == 401
        assert client.get("/api/v1/me").status_code == 401


def test_a_right_code_clears_the_count(make_settings):
    with _own(make_settings, lockout_failures=3) as client:
        ctx = client.app.state.ctx
        secret = _with_second_factor(ctx, "a@a.example")
        headers = _password(client, "a@a.example")
        for _ in range(2):
            assert client.post("/api/v1/session/code", json={"code": _wrong(secret)},
                               headers=headers).status_code == 422
        assert client.post("/api/v1/session/code", json={"code": pyotp.TOTP(secret).now()},
                           headers=headers).status_code == 204
        with ctx.sessions() as db:
            user = db.scalar(select(User).where(User.email == "a@a.example"))
            assert (user.failed_logins, user.locked_until) == (0, None)


def test_concurrent_attempts_are_counted_one_after_the_other(client, ctx):
    # PostgreSQL: read, change and write back without a row lock let 30 wrong passwords at
    # once leave the count at 1, and one code sent on 8 waiting sessions complete all 8
    import threading

    from gutaxis.service.access import Principal
    from gutaxis.service.security import token_hash
    from gutaxis.service.services import accounts

    secret = _with_second_factor(ctx, "a@a.example")
    with ctx.sessions() as db:
        user = db.scalar(select(User).where(User.email == "a@a.example"))
        user_id, clinic_id = user.id, user.clinic_id
    waiting = []
    for _ in range(6):
        with ctx.transaction() as db:
            started = accounts.sign_in(db, ctx.settings, "a@a.example", PASSWORD, "10.0.0.1")
        waiting.append(Principal(user_id, clinic_id, "owner", "a@a.example", "10.0.0.1",
                                 "session", started.csrf_token, token_hash(started.token)))
    code = pyotp.TOTP(secret).now()
    barrier = threading.Barrier(len(waiting))
    taken = []

    def give_the_code(who):
        barrier.wait()
        with ctx.transaction() as db:
            taken.append(accounts.second_factor(db, ctx.settings, who, code) is None)

    threads = [threading.Thread(target=give_the_code, args=(w,)) for w in waiting]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(taken) == [False] * 5 + [True]  # the code worked once
    with ctx.transaction() as db:  # the five replays counted (and locked): unlock
        user = db.get(User, user_id)
        assert user.locked_until is not None
        user.failed_logins, user.locked_until = 0, None

    n = ctx.settings.lockout_failures
    barrier = threading.Barrier(2 * n)

    def wrong_password():
        barrier.wait()
        with ctx.transaction() as db:
            accounts.sign_in(db, ctx.settings, "a@a.example", "not the password", "10.0.0.2")

    threads = [threading.Thread(target=wrong_password) for _ in range(2 * n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    with ctx.sessions() as db:
        assert db.get(User, user_id).locked_until is not None
        failed = db.scalars(select(AuditEvent.detail).where(
            AuditEvent.action == "session.failed")).all()
    assert sorted(failed, key=lambda d: int(d.split("=")[1].split(",")[0])) == [
        f"failures={i}" for i in range(1, n)] + [f"failures={n}, locked"]


def test_turning_the_factor_off_takes_a_code_and_a_session(client, ctx):
    # it needed neither, and a token could do it (and make tokens that outlived it)
    secret = _with_second_factor(ctx, "a@a.example")
    other = client.__class__(client.app)
    headers = _password(other, "a@a.example")  # another device, fully signed in
    assert other.post("/api/v1/session/code", json={"code": pyotp.TOTP(secret).now()},
                      headers=headers).status_code == 204
    with ctx.transaction() as db:  # the code just used is spent; the next window's is not
        db.scalar(select(User).where(User.email == "a@a.example")).totp_last_step -= 2
    headers = _password(client, "a@a.example")
    assert client.post("/api/v1/session/code", json={"code": pyotp.TOTP(secret).now()},
                       headers=headers).status_code == 204
    token = client.post("/api/v1/tokens", json={"name": "t"}, headers=headers).json()["token"]
    # a token cannot turn it off, nor make a token
    by_token = {"Authorization": f"Bearer {token}"}
    assert client.__class__(client.app).post(
        "/account/totp/off", data={"code": pyotp.TOTP(secret).now()},
        headers=by_token).status_code == 403
    made = client.__class__(client.app).post("/api/v1/tokens", json={"name": "child"},
                                             headers=by_token)
    assert made.status_code == 403 and "access token" in made.json()["error"]["message"]
    # without the right code it stays on
    form = {"csrf_token": headers["X-CSRF-Token"]}
    assert client.post("/account/totp/off", data=form).status_code == 422
    assert client.post("/account/totp/off",
                       data={**form, "code": _wrong(secret)}).status_code == 422
    with ctx.sessions() as db:
        assert db.scalar(select(User).where(User.email == "a@a.example")).totp_secret
    with ctx.transaction() as db:  # the sign-in's code is spent; wait for a fresh one
        db.scalar(select(User).where(User.email == "a@a.example")).totp_last_step -= 2
    off = client.post("/account/totp/off", data={**form, "code": pyotp.TOTP(secret).now()},
                      follow_redirects=False)
    assert off.status_code == 303
    with ctx.sessions() as db:
        assert db.scalar(select(User).where(User.email == "a@a.example")).totp_secret is None
    assert client.get("/api/v1/me").status_code == 200
    assert other.get("/api/v1/me").status_code == 401  # the other device signs in again


def _stored_secret(ctx, email):
    with ctx.sessions() as db:
        user = db.scalar(select(User).where(User.email == email))
        return user.id, user.totp_secret


def test_the_secret_is_kept_sealed_under_a_key_outside_the_database(client, ctx, database_url):
    # it was stored as it is: a copy of the database gave away every second factor
    import os
    import stat

    from builders.practice import sign_in
    from gutaxis.service.security import SecretBox

    make_user(ctx, "A", "a@a.example")
    headers = sign_in(client, "a@a.example")
    secret = new_totp_secret()
    form = {"csrf_token": headers["X-CSRF-Token"], "secret": secret,
            "code": pyotp.TOTP(secret).now()}
    assert client.post("/account/totp", data=form, follow_redirects=False).status_code == 303
    user_id, stored = _stored_secret(ctx, "a@a.example")
    assert stored.startswith(SecretBox.SEALED_PREFIX) and secret not in stored
    key_file = ctx.settings.secret_key_file
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    # the key in its file opens it, bound to this account: not to another row
    assert SecretBox.from_file(key_file).open(stored, f"gutaxis totp user {user_id}") == secret
    with pytest.raises(WrongKeyError):
        SecretBox.from_file(key_file).open(stored, f"gutaxis totp user {user_id + 1}")
    if database_url is None:  # nowhere in the database file, its journal included
        ctx.engine.dispose()
        for path in ctx.settings.data_dir.glob("gutaxis.sqlite3*"):
            assert secret.encode() not in path.read_bytes()
    # signing in with the code works as before
    client.cookies.clear()
    with ctx.transaction() as db:  # the enrolment's code is spent; the next window's is not
        db.scalar(select(User).where(User.email == "a@a.example")).totp_last_step -= 2
    headers = _password(client, "a@a.example")
    assert client.post("/api/v1/session/code", json={"code": pyotp.TOTP(secret).now()},
                       headers=headers).status_code == 204


def test_a_secret_stored_before_sealing_is_sealed_at_start_and_at_first_use(make_settings):
    from gutaxis.service.security import SecretBox

    with _own(make_settings) as client:
        ctx = client.app.state.ctx
        secret = _with_second_factor(ctx, "a@a.example")  # written as it was before
        assert _stored_secret(ctx, "a@a.example")[1] == secret
        headers = _password(client, "a@a.example")
        assert client.post("/api/v1/session/code", json={"code": pyotp.TOTP(secret).now()},
                           headers=headers).status_code == 204
        user_id, stored = _stored_secret(ctx, "a@a.example")
        assert SecretBox.is_sealed(stored)
        assert ctx.secrets.open(stored, f"gutaxis totp user {user_id}") == secret
        make_user(ctx, "A", "b@a.example")
        with ctx.transaction() as db:
            db.scalar(select(User).where(User.email == "b@a.example")).totp_secret = secret
    with _own(make_settings) as client:  # the next start seals it
        ctx = client.app.state.ctx
        user_id, stored = _stored_secret(ctx, "b@a.example")
        assert ctx.secrets.open(stored, f"gutaxis totp user {user_id}") == secret
        assert stored != secret


def test_a_lost_key_is_said_to_the_operator_and_counts_as_no_failure(make_settings, caplog):
    import base64

    secret, key_file = _sealed_in_use(make_settings)
    key_file.write_text(base64.b64encode(bytes(range(32))).decode() + "\n")  # another key
    with caplog.at_level("ERROR"), _own(make_settings) as client:
        # said at start, with the accounts it leaves unchecked: not first at their sign-in
        [said] = [r.getMessage() for r in caplog.records if "is not the key" in r.getMessage()]
        assert "1 second factor(s) sealed with another key (accounts " in said
        assert "cannot sign in" in said
        caplog.clear()
        ctx = client.app.state.ctx
        with ctx.transaction() as db:
            db.scalar(select(User).where(User.email == "a@a.example")).totp_last_step -= 2
        headers = _password(client, "a@a.example")
        refused = client.post("/api/v1/session/code", json={"code": pyotp.TOTP(secret).now()},
                              headers=headers)
        assert refused.status_code == 503
        assert "cannot be checked" in refused.json()["error"]["message"]
        assert any("secret.key" in r.getMessage() for r in caplog.records)
        page = client.post("/login/code", data={"code": pyotp.TOTP(secret).now(),
                                                "csrf_token": headers["X-CSRF-Token"]})
        assert page.status_code == 503 and "cannot be checked" in page.text
        with ctx.sessions() as db:
            assert db.scalar(select(User).where(User.email == "a@a.example")).failed_logins == 0


def test_a_key_file_that_holds_no_key_is_refused_with_its_name(tmp_path):
    from gutaxis.exceptions import ValidationError
    from gutaxis.service.security import SecretBox

    key_file = tmp_path / "secret.key"
    first = SecretBox.from_file(key_file)
    again = SecretBox.from_file(key_file)  # the same key, read back
    assert again.open(first.seal("S", "c"), "c") == "S"
    key_file.write_text("")  # a server that died between making the file and writing it
    with pytest.raises(ValidationError, match="secret.key: expected the server's secret key"):
        SecretBox.from_file(key_file)


def _make_key(path):
    from gutaxis.service.security import SecretBox

    box = SecretBox.from_file(path)
    return box.seal("S", "c"), box.made_now


def test_servers_starting_at_once_make_one_key_and_never_read_half_of_it(tmp_path):
    # the second process read the file between its creation and the write: an empty key
    import multiprocessing

    from gutaxis.service.security import SecretBox

    context = multiprocessing.get_context("fork")
    for trial in range(15):
        path = tmp_path / f"k{trial}" / "secret.key"
        path.parent.mkdir()
        with context.Pool(3) as pool:
            results = pool.map(_make_key, [path] * 3)
        assert sum(made for _, made in results) == 1
        key = SecretBox.from_file(path)
        assert [key.open(sealed, "c") for sealed, _ in results] == ["S"] * 3
        assert sorted(p.name for p in path.parent.iterdir()) == ["secret.key"]


def _sealed_in_use(make_settings):
    """An account whose second factor was used once (so sealed); its secret and key file."""
    with _own(make_settings) as client:
        ctx = client.app.state.ctx
        secret = _with_second_factor(ctx, "a@a.example")
        headers = _password(client, "a@a.example")
        assert client.post("/api/v1/session/code", json={"code": pyotp.TOTP(secret).now()},
                           headers=headers).status_code == 204
        return secret, ctx.settings.secret_key_file


def test_a_damaged_key_is_said_at_start_and_at_sign_in_and_the_repair_still_runs(
        make_settings, caplog):
    secret, key_file = _sealed_in_use(make_settings)
    key_file.write_text("not a key\n")
    with caplog.at_level("ERROR"), _own(make_settings) as client:
        said = [r.getMessage() for r in caplog.records]
        # said at start, once; the server runs
        assert sum("secret.key: expected the server's secret key" in m for m in said) == 1
        ctx = client.app.state.ctx
        with ctx.transaction() as db:  # the code just used is spent; the next window's is not
            db.scalar(select(User).where(User.email == "a@a.example")).totp_last_step -= 2
        headers = _password(client, "a@a.example")
        refused = client.post("/api/v1/session/code",
                              json={"code": pyotp.TOTP(secret).now()}, headers=headers)
        assert refused.status_code == 503 and "cannot be read" in refused.text
    from typer.testing import CliRunner

    from gutaxis.cli import app as cli_app

    settings = make_settings()
    env = {"GUTAXIS_DATABASE_URL": settings.database_url or ""}
    result = CliRunner().invoke(cli_app, [
        "users", "password", "--email", "a@a.example", "--second-factor-off", "--data",
        str(settings.data_dir)], input="a new long password\n", env=env)
    assert result.exit_code == 0, result.output
    with _own(make_settings) as client:
        with client.app.state.ctx.sessions() as db:
            assert db.scalar(select(User).where(User.email == "a@a.example")).totp_secret is None


def test_a_key_file_others_may_read_is_warned_about(tmp_path, caplog):
    from gutaxis.service.security import SecretBox

    key_file = tmp_path / "secret.key"
    SecretBox.from_file(key_file)
    key_file.chmod(0o644)
    with caplog.at_level("WARNING"):
        SecretBox.from_file(key_file)
    assert any("chmod 600" in r.getMessage() for r in caplog.records)


def test_a_lost_key_replaced_at_start_is_said_with_the_factors_it_leaves_unchecked(
        make_settings, caplog):
    _, key_file = _sealed_in_use(make_settings)
    key_file.unlink()
    with caplog.at_level("ERROR"), _own(make_settings):
        pass
    assert any("was missing and a new key was made: 1 second factor(s) sealed with another key"
               in r.getMessage()
               for r in caplog.records)
