"""Security settings: TLS and SASL from options, the environment and files; secrets never shown;
the identity key and the web token refusals."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

import pytest

from streams.kafka_security import KafkaSecurity
from streams.secrets import Secret, SecretError
from streams.settings import DEVELOPMENT_IDENTITY_SALT, Settings, SettingsError

pytestmark = pytest.mark.unit

PASSWORD = "sasl-password-0123456789"


def _file(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text + "\n")
    return path


def test_sasl_and_tls_come_from_the_environment_and_the_password_from_a_file(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "TOUCHPOINT_BROKER": "kafka://broker-1:9093",
            "TOUCHPOINT_KAFKA_TLS": "true",
            "TOUCHPOINT_KAFKA_SASL_MECHANISM": "scram-sha-512",
            "TOUCHPOINT_KAFKA_SASL_USERNAME": "touchpoint-worker",
            "TOUCHPOINT_KAFKA_SASL_PASSWORD_FILE": str(_file(tmp_path, "password", PASSWORD)),
        }
    )
    security = settings.kafka_security
    assert (security.protocol, security.sasl_mechanism, security.sasl_username) == (
        "SASL_SSL",
        "SCRAM-SHA-512",
        "touchpoint-worker",
    )
    options = security.client_options()
    assert options["sasl_plain_password"] == PASSWORD
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["ssl_context"].check_hostname
    assert security.describe() == "SASL_SSL (SCRAM-SHA-512 as touchpoint-worker)"


def test_options_override_the_environment_but_no_option_carries_a_secret() -> None:
    settings = Settings.from_env(
        {
            "TOUCHPOINT_KAFKA_SASL_MECHANISM": "PLAIN",
            "TOUCHPOINT_KAFKA_SASL_USERNAME": "env-user",
            "TOUCHPOINT_KAFKA_SASL_PASSWORD": PASSWORD,
        },
        kafka_sasl_username="option-user",
    )
    assert settings.kafka_security.sasl_username == "option-user"
    with pytest.raises(SettingsError, match="is a secret"):
        Settings.from_env({}, kafka_sasl_password=PASSWORD)


@pytest.mark.parametrize(
    ("security", "protocol"),
    [
        (KafkaSecurity(), "PLAINTEXT"),
        (KafkaSecurity(tls=True), "SSL"),
        (KafkaSecurity(ca_file=Path("ca.pem")), "SSL"),
        (
            KafkaSecurity(sasl_mechanism="PLAIN", sasl_username="u", sasl_password=Secret("p" * 8)),
            "SASL_PLAINTEXT",
        ),
    ],
)
def test_the_protocol_follows_from_tls_and_sasl(security: KafkaSecurity, protocol: str) -> None:
    assert security.protocol == protocol


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"TOUCHPOINT_KAFKA_SASL_MECHANISM": "GSSAPI"}, "must be one of PLAIN, SCRAM-SHA-256"),
        ({"TOUCHPOINT_KAFKA_SASL_MECHANISM": "PLAIN"}, "needs TOUCHPOINT_KAFKA_SASL_USERNAME"),
        (
            {"TOUCHPOINT_KAFKA_SASL_MECHANISM": "PLAIN", "TOUCHPOINT_KAFKA_SASL_USERNAME": "u"},
            "needs a password: TOUCHPOINT_KAFKA_SASL_PASSWORD",
        ),
        ({"TOUCHPOINT_KAFKA_SASL_USERNAME": "u"}, "no TOUCHPOINT_KAFKA_SASL_MECHANISM"),
        ({"TOUCHPOINT_KAFKA_SASL_MECHANISM": "OAUTHBEARER"}, "TOUCHPOINT_KAFKA_OAUTH_TOKEN_FILE"),
        (
            {"TOUCHPOINT_KAFKA_CERT_FILE": "c.pem"},
            "both TOUCHPOINT_KAFKA_CERT_FILE and TOUCHPOINT_KAFKA_KEY_FILE",
        ),
        ({"TOUCHPOINT_KAFKA_TLS": "maybe"}, "TOUCHPOINT_KAFKA_TLS must be true or false"),
    ],
)
def test_inconsistent_kafka_security_is_a_clear_error(environ: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(environ)


def test_a_broker_url_with_credentials_is_refused_without_quoting_them() -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"TOUCHPOINT_BROKER": f"kafka://alice:{PASSWORD}@broker:9092"})
    assert "must not carry credentials" in str(refused.value)
    assert PASSWORD not in str(refused.value)


def test_secrets_are_never_in_repr_str_or_the_settings_repr(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "TOUCHPOINT_IDENTITY_SALT": "i" * 32,
            "TOUCHPOINT_CONTROL_SECRET": "c" * 32,
            "TOUCHPOINT_WEB_TOKEN": "w" * 32,
            "TOUCHPOINT_KAFKA_SASL_MECHANISM": "PLAIN",
            "TOUCHPOINT_KAFKA_SASL_USERNAME": "u",
            "TOUCHPOINT_KAFKA_SASL_PASSWORD": PASSWORD,
        }
    )
    shown = " ".join([repr(settings), str(settings), repr(settings.kafka_security), f"{settings.web_token}"])
    for secret in ("i" * 32, "c" * 32, "w" * 32, PASSWORD):
        assert secret not in shown
    assert repr(settings.kafka_sasl_password) == "Secret(from TOUCHPOINT_KAFKA_SASL_PASSWORD)"


def test_an_unreadable_secret_file_names_the_variable_and_the_path(tmp_path: Path) -> None:
    secret = Secret.from_env({"X_FILE": str(tmp_path / "missing")}, "X")
    with pytest.raises(SecretError, match=r"X_FILE: cannot read .*missing"):
        secret.reveal()
    empty = Secret.from_env({"X_FILE": str(_file(tmp_path, "empty", ""))}, "X")
    with pytest.raises(SecretError, match="is empty"):
        empty.reveal()


def test_the_public_identity_key_is_refused_unless_it_is_a_development_run() -> None:
    with pytest.raises(SettingsError, match="no identity key") as refused:
        Settings.from_env({}).check_identity_key()
    assert "--development" in str(refused.value)
    development = Settings.from_env({"TOUCHPOINT_DEVELOPMENT": "true"})
    development.check_identity_key()
    assert development.identity_key == DEVELOPMENT_IDENTITY_SALT.encode()
    # Setting the public key by hand is the same as not setting one.
    with pytest.raises(SettingsError, match="no identity key"):
        Settings.from_env({"TOUCHPOINT_IDENTITY_SALT": DEVELOPMENT_IDENTITY_SALT}).check_identity_key()


@pytest.mark.parametrize(("length", "accepted"), [(15, False), (16, True), (64, True), (65, False)])
def test_the_identity_key_must_fit_blake2b(length: int, accepted: bool) -> None:
    settings = Settings.from_env({"TOUCHPOINT_IDENTITY_SALT": "k" * length})
    if accepted:
        settings.check_identity_key()
    else:
        with pytest.raises(SettingsError, match="must be 16 to 64 bytes") as refused:
            settings.check_identity_key()
        assert "k" * length not in str(refused.value)


def test_web_tokens_come_from_a_file_several_for_a_rotation_and_short_ones_are_refused(
    tmp_path: Path,
) -> None:
    path = _file(tmp_path, "tokens", "first-token-0123456789, second-token-0123456789")
    settings = Settings.from_env({"TOUCHPOINT_WEB_TOKEN_FILE": str(path)})
    assert settings.web_tokens() == ("first-token-0123456789", "second-token-0123456789")
    with pytest.raises(SettingsError, match="at least 16 characters") as refused:
        Settings.from_env({"TOUCHPOINT_WEB_TOKEN": "short"}).web_tokens()
    assert "short" not in str(refused.value).replace("at least", "")


def test_a_kafka_client_key_that_cannot_be_loaded_names_the_files_not_the_password(tmp_path: Path) -> None:
    cert = _file(tmp_path, "client.pem", "not a certificate")
    key = _file(tmp_path, "client.key", "not a key")
    security = KafkaSecurity(cert_file=cert, key_file=key, key_password=Secret("key-password-123456"))
    with pytest.raises(ValueError, match="cannot load") as refused:
        security.ssl_context()
    assert "key-password-123456" not in str(refused.value)


def test_hostname_checking_can_be_turned_off_but_the_chain_is_still_verified() -> None:
    context = KafkaSecurity(tls=True, check_hostname=False).ssl_context()
    assert context is not None
    assert not context.check_hostname
    assert context.verify_mode == ssl.CERT_REQUIRED


def test_faust_reads_none_of_its_own_environment_and_names_an_ignored_credential(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    from streams.app import create_app

    monkeypatch.setenv("BROKER_CREDENTIALS", f"alice:{PASSWORD}")
    monkeypatch.setenv("WEB_BIND", "0.0.0.0")
    settings = Settings(broker="kafka://127.0.0.1:9092", data_dir=tmp_path, development=True).validated()
    with caplog.at_level(logging.WARNING):
        app = create_app(settings)  # crashed with the password in the message before
    assert app.conf.broker_credentials is None
    assert app.conf.web_bind == "127.0.0.1"
    assert "BROKER_CREDENTIALS is set but ignored" in caplog.text
    assert PASSWORD not in caplog.text


async def test_oauthbearer_reads_its_token_from_a_file_on_every_connection(tmp_path: Path) -> None:
    import faust

    from streams.app import faust_credentials

    token = _file(tmp_path, "token", "first-token-value")
    security = KafkaSecurity(sasl_mechanism="OAUTHBEARER", oauth_token_file=token).checked()
    options = security.client_options()
    assert (options["security_protocol"], options["sasl_mechanism"]) == ("SASL_PLAINTEXT", "OAUTHBEARER")
    assert await options["sasl_oauth_token_provider"].token() == "first-token-value"
    token.write_text("refreshed-token-value\n")  # a sidecar renewed it
    credentials = faust_credentials(security)
    assert isinstance(credentials, faust.OAuthCredentials)
    assert await credentials.oauth_cb.token() == "refreshed-token-value"


def test_the_worker_gets_the_same_sasl_login_and_tls_context_as_the_cli(tmp_path: Path) -> None:
    import faust

    from streams.app import faust_credentials

    security = KafkaSecurity(
        tls=True,
        sasl_mechanism="SCRAM-SHA-256",
        sasl_username="touchpoint-worker",
        sasl_password=Secret(PASSWORD),
    )
    credentials = faust_credentials(security)
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.mechanism.value, credentials.protocol.value) == ("SCRAM-SHA-256", "SASL_SSL")
    assert PASSWORD not in repr(credentials)
    assert isinstance(faust_credentials(KafkaSecurity(tls=True)), faust.SSLCredentials)
    assert faust_credentials(KafkaSecurity()) is None
