"""EIRC_SMS_PROVIDER and its companions (CONTRACT §2 as amended by issue 18): which gateway, where, with what;
settings that cannot work stop start-up with one line (ConfigurationError)."""

from __future__ import annotations

from typing import Any

import pytest

from eirc.delivery.messages import SMS_CODE_TEXT, sms_code_text
from eirc.settings import DEFAULT_SMS_TEXT, ConfigurationError, Settings


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, env="test", **values)  # type: ignore[call-arg]


def test_no_provider_no_url_is_the_development_outbox() -> None:
    assert settings().sms_gateway is None


def test_a_url_alone_is_the_relay() -> None:
    s = settings(sms_url="http://relay.local/sms")
    assert s.sms_gateway == "relay" and s.sms_base_url is None


@pytest.mark.parametrize(
    ("provider", "host"),
    [
        ("smsc", "https://smsc.ru"),
        ("smsru", "https://sms.ru"),
        ("smsaero", "https://gate.smsaero.ru"),
        ("exolve", "https://api.exolve.ru"),
    ],
)
def test_a_gateway_without_url_is_its_documented_host(provider: str, host: str) -> None:
    s = settings(sms_provider=provider.upper(), sms_login="l", sms_token="t", sms_sender="S")
    assert (s.sms_gateway, s.sms_base_url) == (provider, host)


def test_eirc_sms_url_replaces_only_scheme_and_host() -> None:
    s = settings(sms_provider="smsc", sms_token="t", sms_url="http://127.0.0.1:8081/anything/here?x=1")
    assert s.sms_base_url == "http://127.0.0.1:8081"


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"sms_provider": "twilio"}, "EIRC_SMS_PROVIDER: 'twilio' is not an SMS gateway"),
        ({"sms_provider": "relay"}, "EIRC_SMS_PROVIDER=relay needs EIRC_SMS_URL"),
        ({"sms_provider": "smsc"}, "EIRC_SMS_PROVIDER=smsc needs EIRC_SMS_TOKEN"),
        (
            {"sms_provider": "smsru", "sms_login": "x"},
            "EIRC_SMS_PROVIDER=smsru needs EIRC_SMS_TOKEN (the api_id)",
        ),
        (
            {"sms_provider": "smsaero", "sms_token": "k"},
            "needs EIRC_SMS_LOGIN (the account's e-mail), EIRC_SMS_SENDER",
        ),
        ({"sms_provider": "exolve", "sms_token": "k"}, "EIRC_SMS_PROVIDER=exolve needs EIRC_SMS_SENDER"),
        (
            {"sms_provider": "smsc", "sms_token": "t", "sms_url": "smsc.local"},
            "EIRC_SMS_URL: for EIRC_SMS_PROVIDER=smsc",
        ),
        ({"sms_text": "Ваш код"}, "EIRC_SMS_TEXT: the text must hold {code} exactly once"),
        ({"sms_text": "{code} и ещё {code}"}, "exactly once"),
        ({"sms_text": "Код A{code}7"}, "a digit right next to {code}"),
        ({"sms_text": "Код {code}, справки 2025"}, "a run of 4 digits besides the code"),
        ({"sms_text": "Код {secret}"}, "exactly once"),
    ],
)
def test_unusable_sms_settings_stop_start_up_with_one_line(values: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        settings(**values)
    line = str(refused.value)
    assert words in line and "\n" not in line


def test_a_secret_is_never_echoed_in_the_refusal() -> None:
    with pytest.raises(ConfigurationError) as refused:
        settings(sms_provider="smsaero", sms_token="s3cr3t-key")
    assert "s3cr3t" not in str(refused.value)


def test_empty_values_are_unset() -> None:
    s = settings(sms_provider="", sms_url="", sms_sender="")
    assert s.sms_gateway is None and s.sms_sender is None


def test_the_text_template() -> None:
    assert settings().sms_text == DEFAULT_SMS_TEXT and sms_code_text() == SMS_CODE_TEXT
    assert "{secret}" in SMS_CODE_TEXT and "{code}" not in SMS_CODE_TEXT
    # digits are fine when no run has the code's length
    s = settings(sms_text="Код {code}. Справки: 8-800-100-10-10", code_length=6)
    assert sms_code_text(s.sms_text) == "Код {secret}. Справки: 8-800-100-10-10"
