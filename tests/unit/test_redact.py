"""Secrets never reach a message (issue 13, finding 5): redact() and the connection parsers' errors."""

from __future__ import annotations

import pytest

from monitor.redact import is_secret_name, known_secrets, redact

SMTP_PW = "Sup3r-S3cret-pw"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize(
    "conn",
    [
        f"smtp://bob:{SMTP_PW}@mail.example.com:587",
        f"smtp:/bob:{SMTP_PW}@mail.example.com:587",  # malformed: one slash
        f"bob:{SMTP_PW}@mail.example.com",  # malformed: no scheme
        f'{{"host": "mail.example.com", "login": "bob", "password": "{SMTP_PW}"',  # malformed JSON
        f'{{"host": "mail.example.com", "login": "bob", "password": "{SMTP_PW}"}}',
    ],
)
def test_connection_passwords_are_known_and_masked(conn):
    env = {"AIRFLOW_CONN_SMTP_DEFAULT": conn}
    assert SMTP_PW in known_secrets(env)
    text = f"error: could not use {conn!r}; the password {SMTP_PW} was wrong"
    out = redact(text, env=env)
    assert SMTP_PW not in out and "***" in out


def test_aws_secrets_masked_in_every_form():
    env = {
        "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
        "AIRFLOW_CONN_AWS_DEFAULT": '{"login": "AKIAEXAMPLE", "password": "pw-from-conn", "extra": {"aws_session_token": "tok-123456"}}',
    }
    from urllib.parse import quote

    text = f"{AWS_SECRET} {quote(AWS_SECRET, safe='')} pw-from-conn tok-123456"
    out = redact(text, env=env)
    for s in (AWS_SECRET, quote(AWS_SECRET, safe=""), "pw-from-conn", "tok-123456"):
        assert s not in out


def test_uri_userinfo_masked_without_knowing_the_secret():
    out = redact("reading s3://AKIA:abc%2Fdef@bucket/key and https://u:p4ss@host/x failed", env={})
    assert out == "reading s3://AKIA:***@bucket/key and https://u:***@host/x failed"
    assert redact('{"password": "xyz123"}', env={}) == '{"password": "***"}'


def test_ordinary_text_untouched():
    env = {"AIRFLOW__CORE__LOAD_EXAMPLES": "False", "HOME": "/root", "MY_KEY_COUNT": "12", "XAUTH": "short"}
    text = "error: False is not a date; see /root/x; 12 rows; email@example.com"
    assert redact(text, env=env) == text


@pytest.mark.parametrize("name", ["AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AIRFLOW_CONN_X", "AIRFLOW__CORE__FERNET_KEY",
                                  "DB_PASSWORD", "GH_TOKEN", "SESSION_ID", "MONITOR_API_KEY"])
def test_secret_names(name):
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["DEMO_DIR", "MONITOR_BUCKET", "MONITOR_OUTBOX", "HOME", "BUCKET"])
def test_ordinary_names(name):
    assert not is_secret_name(name)
