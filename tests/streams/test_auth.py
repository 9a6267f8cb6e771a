"""streams/auth.py: password hashes, tokens, signed sessions and the loopback rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.auth import (
    AuthError,
    Credentials,
    SessionSigner,
    check_bind,
    hash_password,
    is_loopback,
    parse_users,
    read_secret,
    verify_password,
)

pytestmark = pytest.mark.unit

BCRYPT = hash_password("s3cret-pass")
ARGON2 = hash_password("s3cret-pass", "argon2")


@pytest.mark.parametrize("hashed", [BCRYPT, ARGON2], ids=["bcrypt", "argon2"])
def test_a_password_matches_its_hash_and_nothing_else(hashed: str) -> None:
    assert verify_password("s3cret-pass", hashed)
    assert not verify_password("s3cret-pasS", hashed)
    assert not verify_password("", hashed)


def test_a_malformed_or_plain_text_hash_never_matches() -> None:
    assert not verify_password("s3cret-pass", "s3cret-pass")
    assert not verify_password("s3cret-pass", "$2b$12$broken")
    assert not verify_password("s3cret-pass", "$argon2id$broken")


def test_users_parse_from_lines_or_commas_and_a_bad_entry_is_named_without_its_secret() -> None:
    users = parse_users(f"# operators\nanna:{BCRYPT}\n\nben:{ARGON2}")
    assert users == {"anna": BCRYPT, "ben": ARGON2}
    assert parse_users(f"anna:{BCRYPT} ben:{ARGON2}") == users
    with pytest.raises(AuthError, match="entry 2") as caught:
        parse_users(f"anna:{BCRYPT}\nben:plain-text-password")
    assert "plain-text-password" not in str(caught.value)


def test_credentials_come_from_the_environment_or_files_and_are_never_shown(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("a-long-enough-shared-token\n")
    credentials = Credentials.from_env({"X_USERS": f"anna:{BCRYPT}", "X_TOKEN_FILE": str(token_file)}, "X_")
    assert credentials.required
    assert credentials.check_password("anna", "s3cret-pass")
    assert not credentials.check_password("anna", "wrong")
    assert not credentials.check_password("nobody", "s3cret-pass")
    assert credentials.check_token("a-long-enough-shared-token")
    assert not credentials.check_token("a-long-enough-shared-tokeN")
    assert credentials.check_bearer("Bearer a-long-enough-shared-token")
    assert not credentials.check_bearer("Basic a-long-enough-shared-token")
    assert not credentials.check_bearer(None)
    assert "a-long-enough" not in repr(credentials)
    assert BCRYPT not in repr(credentials)
    assert not Credentials.from_env({}, "X_").required


def test_a_short_token_or_an_unreadable_secret_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AuthError, match="at least 16"):
        Credentials.from_env({"X_TOKEN": "short"}, "X_")
    with pytest.raises(AuthError, match="X_TOKEN_FILE"):
        read_secret({"X_TOKEN_FILE": str(tmp_path / "missing")}, "X_TOKEN")


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.1.1", "::1", "[::1]", "localhost"])
def test_loopback_names_and_addresses(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "console.example.com", ""])
def test_everything_else_is_not_loopback(host: str) -> None:
    assert not is_loopback(host)


def test_serving_beyond_loopback_needs_a_credential() -> None:
    check_bind("127.0.0.1", Credentials(), "the console", "set one")
    check_bind("0.0.0.0", Credentials(tokens=("a-long-enough-shared-token",)), "the console", "set one")
    with pytest.raises(AuthError, match=r"refusing to serve the console on 0\.0\.0\.0"):
        check_bind("0.0.0.0", Credentials(), "the console", "set one")


def test_a_session_names_its_operator_until_it_expires_and_cannot_be_forged() -> None:
    signer = SessionSigner(b"shared-secret", max_age_seconds=60)
    session = signer.sign("anna", now=1000)
    assert signer.verify(session, now=1059) == "anna"
    assert signer.verify(session, now=1061) is None, "expired"
    assert SessionSigner(b"shared-secret").verify(session, now=1000) == "anna", "any instance with the secret"
    assert SessionSigner(b"other-secret").verify(session, now=1000) is None
    name, expires, mac = session.split("|")
    forged = SessionSigner(b"x").sign("mallory", now=1000).split("|")[0]
    assert signer.verify(f"{forged}|{expires}|{mac}", now=1000) is None
    assert signer.verify(f"{name}|{int(expires) + 3600}|{mac}", now=1000) is None
    assert signer.verify("garbage", now=1000) is None
    assert signer.token_for(session, "csrf") != signer.token_for(signer.sign("ben", now=1000), "csrf")
