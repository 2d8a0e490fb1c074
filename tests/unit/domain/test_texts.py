"""Texts: every error code has one, and SPEC's texts are copied exactly."""

from __future__ import annotations

import pytest

from eirc.domain import texts
from eirc.domain.errors import DomainError, DomainErrors, ErrorCode
from eirc.domain.texts import ERROR_TEXTS, error_text

# Copied from /work/shared/SPEC.md, character for character.
SPEC_TEXTS = {
    ErrorCode.REQUIRED: "Пожалуйста, заполните обязательное поле",
    ErrorCode.INVALID_PHONE: "Введен некорректный номер. Исправьте номер и попробуйте еще раз",
    ErrorCode.INVALID_CODE: (
        "Убедитесь в верности введенного кода. Вы также можете запросить повторную отправку кода"
    ),
    ErrorCode.UNKNOWN_ACCOUNT: (
        "Вы ввели неправильный номер лицевого счета. Пожалуйста, введите правильные данные и попробуйте "
        "еще раз"
    ),
    ErrorCode.AMOUNT_MISMATCH: (
        "Введенная сумма не соответствует расчетному периоду. Убедитесь в ее верности и соответствии "
        "указанному периоду и попробуйте еще раз"
    ),
    ErrorCode.INVALID_EMAIL: "Это не похоже на e-mail. Убедитесь, что вы используете символ «@»",
    ErrorCode.WEAK_PASSWORD: (
        "Не все необходимые условия выполнены. Убедитесь, что пароль полностью соответствует "
        "перечисленным ниже условиям"
    ),
    ErrorCode.INVALID_CREDENTIALS: (
        "Ошибка в логине или пароле. Проверьте правильность введенных данных и попробуйте еще раз"
    ),
    ErrorCode.EMAIL_NOT_CONFIRMED: (
        "Подтвердите e-mail, чтобы использовать его как логин: мы отправили повторное письмо вам на "
        "почту. Или используйте телефон для входа"
    ),
    ErrorCode.LOGIN_LOCKED: (
        "Превышено число попыток входа по логину и паролю. Проверьте правильность введенных данных и "
        "попробуйте еще раз через 5 минут"
    ),
}

SPEC_SCREEN_TEXTS = {
    "CODE_SCREEN": "Введите код, который вам отправили по СМС, для подтверждения номера",
    "CODE_SCREEN_HINT": "Вы сможете входить в мобильное приложение и личный кабинет по номеру телефона.",
    "ACCOUNT_ERROR_HINT": (
        "В случае ошибки вы можете оставить заявку на подключение, мы ее обязательно рассмотрим"
    ),
    "ADDRESS_QUESTION": "Это ваш адрес?",
    "CONNECTION_NOT_FOUND": "К сожалению, мы не смогли найти ваш адрес по номеру лицевого счета",
    "CONNECTION_INVITE": (
        "Чтобы зарегистрироваться, отправьте заявку на подключение. Мы добавим ваш адрес в систему и "
        "сообщим вам по указанному вами телефону."
    ),
    "CONNECTION_ACCEPTED_TITLE": "Заявка принята",
    "CONNECTION_ACCEPTED_TEXT": (
        "Как только ваш адрес будет добавлен в систему, мы свяжемся с вами по указанному номеру телефона "
        "или электронной почте."
    ),
    "GOSUSLUGI_LINKED": "Профиль привязан",
    "PRIMARY_ADDRESS": "Основной",
}

CONTRACT_CODES = [
    "REQUIRED",
    "INVALID_PHONE",
    "CONSENT_REQUIRED",
    "INVALID_CODE",
    "CODE_EXPIRED",
    "CODE_ATTEMPTS_EXCEEDED",
    "RESEND_TOO_EARLY",
    "SMS_LIMIT",
    "INVALID_PERIOD",
    "UNKNOWN_ACCOUNT",
    "AMOUNT_MISMATCH",
    "ACCOUNT_ATTEMPTS_EXCEEDED",
    "ACCOUNT_ALREADY_LINKED",
    "INVALID_EMAIL",
    "EMAIL_TAKEN",
    "INVALID_DATE",
    "WEAK_PASSWORD",
    "INVALID_CREDENTIALS",
    "EMAIL_NOT_CONFIRMED",
    "LOGIN_LOCKED",
    "FLOW_NOT_FOUND",
    "FLOW_EXPIRED",
    "WRONG_STEP",
    "NOT_AUTHENTICATED",
    "NOT_FOUND",
    "LAST_ADDRESS",
    "EBILL_NEEDS_CONFIRMED_EMAIL",
    "INVALID_TOKEN",
    "TOO_LONG",
]


def test_contract_codes_exist() -> None:
    assert set(CONTRACT_CODES) <= {code.value for code in ErrorCode}


def test_code_values_equal_names() -> None:
    assert all(code.value == code.name for code in ErrorCode)


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_code_has_a_text(code: ErrorCode) -> None:
    text = ERROR_TEXTS[code]
    assert isinstance(text, str)
    assert text.strip() == text
    assert text
    assert error_text(code)
    assert DomainError(code).message == error_text(code)


def test_no_text_for_unknown_codes() -> None:
    assert set(ERROR_TEXTS) == set(ErrorCode)


@pytest.mark.parametrize(("code", "text"), list(SPEC_TEXTS.items()))
def test_spec_texts_are_exact(code: ErrorCode, text: str) -> None:
    assert ERROR_TEXTS[code] == text
    assert DomainError(code, "field").message == text


@pytest.mark.parametrize(("name", "text"), list(SPEC_SCREEN_TEXTS.items()))
def test_spec_screen_texts_are_exact(name: str, text: str) -> None:
    assert getattr(texts, name) == text


def test_resend_hint_counts_down() -> None:
    assert (
        error_text(ErrorCode.RESEND_TOO_EARLY, seconds=45)
        == "Запросить повторную отправку можно через 45 сек."
    )
    assert (
        error_text(ErrorCode.RESEND_TOO_EARLY, seconds=7) == "Запросить повторную отправку можно через 7 сек."
    )


def test_params_without_placeholders_are_ignored() -> None:
    assert error_text(ErrorCode.REQUIRED, seconds=5) == SPEC_TEXTS[ErrorCode.REQUIRED]
    assert error_text(ErrorCode.TOO_LONG, max_length=100) == ERROR_TEXTS[ErrorCode.TOO_LONG]


def test_domain_error_carries_code_field_and_rules() -> None:
    error = DomainError(ErrorCode.WEAK_PASSWORD, "password", failed_rules=["MIN_LENGTH"])
    assert error.code == ErrorCode.WEAK_PASSWORD
    assert error.field == "password"
    assert error.failed_rules == ["MIN_LENGTH"]
    assert str(error) == f"WEAK_PASSWORD: {SPEC_TEXTS[ErrorCode.WEAK_PASSWORD]}"
    assert DomainError(ErrorCode.NOT_FOUND, message="custom").message == "custom"


def test_domain_errors_group() -> None:
    group = DomainErrors(
        [DomainError(ErrorCode.REQUIRED, "lastName"), DomainError(ErrorCode.REQUIRED, "email")]
    )
    assert [e.field for e in group.errors] == ["lastName", "email"]
