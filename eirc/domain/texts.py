"""Every user-facing Russian text. SPEC's texts are copied exactly; the others are ours, in the same voice.

Code refers to these names; a text is never spelled twice.
"""

from __future__ import annotations

from eirc.domain.codes import ErrorCode

# --- texts of SPEC (exact) ---------------------------------------------------------------------------
REQUIRED_FIELD = "Пожалуйста, заполните обязательное поле"
INVALID_PHONE = "Введен некорректный номер. Исправьте номер и попробуйте еще раз"
INVALID_CODE = "Убедитесь в верности введенного кода. Вы также можете запросить повторную отправку кода"
UNKNOWN_ACCOUNT = (
    "Вы ввели неправильный номер лицевого счета. Пожалуйста, введите правильные данные и попробуйте еще раз"
)
AMOUNT_MISMATCH = (
    "Введенная сумма не соответствует расчетному периоду. Убедитесь в ее верности и соответствии "
    "указанному периоду и попробуйте еще раз"
)
INVALID_EMAIL = "Это не похоже на e-mail. Убедитесь, что вы используете символ «@»"
WEAK_PASSWORD = (
    "Не все необходимые условия выполнены. Убедитесь, что пароль полностью соответствует "
    "перечисленным ниже условиям"
)
INVALID_CREDENTIALS = (
    "Ошибка в логине или пароле. Проверьте правильность введенных данных и попробуйте еще раз"
)
EMAIL_NOT_CONFIRMED = (
    "Подтвердите e-mail, чтобы использовать его как логин: мы отправили повторное письмо вам на почту. "
    "Или используйте телефон для входа"
)
LOGIN_LOCKED = (
    "Превышено число попыток входа по логину и паролю. Проверьте правильность введенных данных "
    "и попробуйте еще раз через 5 минут"
)

# Screen texts of SPEC (exact), for APIs that return them and for docs.
CODE_SCREEN = "Введите код, который вам отправили по СМС, для подтверждения номера"
CODE_SCREEN_HINT = "Вы сможете входить в мобильное приложение и личный кабинет по номеру телефона."
RESEND_HINT = "Запросить повторную отправку можно через {seconds} сек."
ACCOUNT_ERROR_HINT = "В случае ошибки вы можете оставить заявку на подключение, мы ее обязательно рассмотрим"
ADDRESS_QUESTION = "Это ваш адрес?"
CONNECTION_NOT_FOUND = "К сожалению, мы не смогли найти ваш адрес по номеру лицевого счета"
CONNECTION_INVITE = (
    "Чтобы зарегистрироваться, отправьте заявку на подключение. Мы добавим ваш адрес в систему "
    "и сообщим вам по указанному вами телефону."
)
CONNECTION_ACCEPTED_TITLE = "Заявка принята"
CONNECTION_ACCEPTED_TEXT = (
    "Как только ваш адрес будет добавлен в систему, мы свяжемся с вами по указанному номеру "
    "телефона или электронной почте."
)
GOSUSLUGI_LINKED = "Профиль привязан"
PRIMARY_ADDRESS = "Основной"
ADDRESS_LABEL = "Адрес {number}"

PASSWORD_RULE_TEXTS = {
    "MIN_LENGTH": "Минимум 6 символов",
    "LETTERS_AND_DIGITS_ONLY": "Только буквы и цифры",
    "NO_REPEATED_ADJACENT_DIGITS": "Нет двух одинаковых цифр рядом",
}

# --- registration: e-mail confirmation (ours) ---------------------------------------------------------
EMAIL_CONFIRMATION_SUBJECT = "МосОблЕИРЦ Онлайн: подтвердите электронную почту"
EMAIL_CONFIRMATION_LETTER = (
    "Здравствуйте, {name}!\n\n"
    "Чтобы подтвердить адрес электронной почты в личном кабинете «МосОблЕИРЦ Онлайн», перейдите по ссылке:\n"
    "{link}\n\n"
    "Ссылка действует {hours} ч. и может быть использована один раз. "
    "Подтвержденный e-mail можно использовать как логин; на него приходят фискальные чеки.\n\n"
    "Если вы не регистрировались в личном кабинете, просто не отвечайте на это письмо."
)
EMAIL_CONFIRMED_TITLE = "E-mail подтвержден"
EMAIL_CONFIRMED_TEXT = "Теперь вы можете входить в личный кабинет по этому адресу электронной почты."
EMAIL_LINK_INVALID_TITLE = "Ссылка устарела или уже использована"
EMAIL_LINK_INVALID_TEXT = (
    "Войдите в личный кабинет по номеру телефона: оттуда можно запросить новое письмо для подтверждения."
)
PAGE_UNAVAILABLE_TEXT = "Сервис временно недоступен. Попробуйте открыть ссылку позже."

# --- sign-in (ours) ------------------------------------------------------------------------------------
# LOGIN_LOCKED after NIST's ceiling of consecutive failures: only an SMS reset or support lifts it.
LOGIN_SUSPENDED = (
    "Вход по паролю заблокирован из-за большого числа неудачных попыток. Восстановите пароль "
    "по СМС («Я забыл пароль») или обратитесь в службу поддержки"
)

# --- connection requests: what the resident is told (ours) ---------------------------------------------
# SMS texts name no number: nothing in them looks like a code.
REQUEST_RESOLVED_SMS = (
    "МосОблЕИРЦ: ваш адрес добавлен. Зарегистрируйтесь в личном кабинете по номеру телефона."
)
REQUEST_REJECTED_SMS = "МосОблЕИРЦ: заявка на подключение отклонена. Причина: {reason}"
REQUEST_TAKEN_SUBJECT = "МосОблЕИРЦ Онлайн: заявка на подключение принята в работу"
REQUEST_TAKEN_LETTER = (
    "Здравствуйте, {name}!\n\n"
    "Ваша заявка на подключение адреса «{address}» принята в работу. Как только адрес будет добавлен "
    "в систему, мы сообщим вам по СМС и по электронной почте."
)
REQUEST_RESOLVED_SUBJECT = "МосОблЕИРЦ Онлайн: ваш адрес добавлен"
REQUEST_RESOLVED_LETTER = (
    "Здравствуйте, {name}!\n\n"
    "Ваш адрес «{address}» добавлен в систему. Зарегистрируйтесь в личном кабинете «МосОблЕИРЦ Онлайн» "
    "по номеру телефона {phone}:\n{link}"
)
REQUEST_REJECTED_SUBJECT = "МосОблЕИРЦ Онлайн: заявка на подключение отклонена"
REQUEST_REJECTED_LETTER = (
    "Здравствуйте, {name}!\n\n"
    "К сожалению, мы не смогли добавить ваш адрес «{address}» в систему.\n"
    "Причина: {reason}\n\n"
    "Если данные можно уточнить, отправьте новую заявку на подключение в личном кабинете "
    "«МосОблЕИРЦ Онлайн»:\n{link}"
)

# --- profile (ours) -------------------------------------------------------------------------------------
# NOT_FOUND for an address id that is not one of the caller's (another resident's, unknown, malformed).
ADDRESS_NOT_FOUND = "Адрес не найден в вашем профиле"

# --- Госуслуги (ours; docs/gosuslugi.md) -----------------------------------------------------------------
# INVALID_TOKEN (field state): the sign-in came back with a state that is unknown, used or expired.
GOSUSLUGI_STATE_INVALID = "Сеанс входа через портал Госуслуги устарел или уже завершен. Начните вход заново"
# INVALID_TOKEN (field code): the provider refused the code, or its answer failed a check.
GOSUSLUGI_LOGIN_FAILED = "Не удалось подтвердить вход через портал Госуслуги. Начните вход заново"
GOSUSLUGI_PHONE_REQUIRED = (
    "В учетной записи Госуслуг нет подтвержденного номера мобильного телефона. Подтвердите номер "
    "на портале Госуслуг или зарегистрируйтесь по номеру телефона"
)
# PHONE_TAKEN: the provider's phone belongs to a resident whose profile is not linked yet.
GOSUSLUGI_PHONE_TAKEN = (
    "Этот номер телефона уже зарегистрирован. Войдите по номеру телефона и паролю, "
    "а затем привяжите Госуслуги в профиле"
)
# GOSUSLUGI_ALREADY_LINKED when the signed-in profile is linked to another Госуслуги account.
GOSUSLUGI_OTHER_ACCOUNT_LINKED = "К вашему профилю уже привязана другая учетная запись Госуслуг"
# The browser pages of /auth/gosuslugi/login and /auth/gosuslugi/callback.
GOSUSLUGI_SIGNED_IN_TITLE = "Вход выполнен"
GOSUSLUGI_SIGNED_IN_TEXT = "Вы вошли в личный кабинет через портал Госуслуги."
GOSUSLUGI_LINKED_TEXT = "Учетная запись Госуслуг привязана к вашему профилю."
GOSUSLUGI_CONTINUE_TITLE = "Продолжите регистрацию"
GOSUSLUGI_CONTINUE_TEXT = (
    "Номер телефона подтвержден порталом Госуслуги. Чтобы завершить регистрацию, укажите лицевой счет."
)
GOSUSLUGI_FAILED_TITLE = "Не удалось войти через Госуслуги"
GOSUSLUGI_CANCELLED_TEXT = (
    "Вход через портал Госуслуги не выполнен. Попробуйте еще раз или войдите по номеру телефона"
)

# --- error code → text ------------------------------------------------------------------------------
ERROR_TEXTS: dict[ErrorCode, str] = {
    ErrorCode.REQUIRED: REQUIRED_FIELD,
    ErrorCode.INVALID_PHONE: INVALID_PHONE,
    ErrorCode.CONSENT_REQUIRED: "Чтобы продолжить, дайте согласие на обработку персональных данных",
    ErrorCode.INVALID_CODE: INVALID_CODE,
    ErrorCode.CODE_EXPIRED: "Срок действия кода истек. Запросите повторную отправку кода",
    ErrorCode.CODE_ATTEMPTS_EXCEEDED: (
        "Превышено число попыток ввода кода. Запросите повторную отправку кода"
    ),
    ErrorCode.RESEND_TOO_EARLY: RESEND_HINT,
    ErrorCode.SMS_LIMIT: ("Превышено число отправок СМС на этот номер. Попробуйте еще раз позже"),
    ErrorCode.INVALID_PERIOD: "Выберите расчетный период из предложенных",
    ErrorCode.UNKNOWN_ACCOUNT: UNKNOWN_ACCOUNT,
    ErrorCode.AMOUNT_MISMATCH: AMOUNT_MISMATCH,
    ErrorCode.INVALID_AMOUNT: "Введите сумму в рублях, например 1 234,56",
    ErrorCode.ACCOUNT_ATTEMPTS_EXCEEDED: (
        "Превышено число попыток ввода данных лицевого счета. Попробуйте еще раз через час "
        "или оставьте заявку на подключение"
    ),
    ErrorCode.ACCOUNT_ALREADY_LINKED: "Этот лицевой счет уже добавлен в ваш профиль",
    ErrorCode.INVALID_EMAIL: INVALID_EMAIL,
    ErrorCode.EMAIL_TAKEN: ("Этот e-mail уже используется другим пользователем. Укажите другой e-mail"),
    ErrorCode.PHONE_TAKEN: "Этот номер телефона уже зарегистрирован",
    ErrorCode.INVALID_DATE: "Проверьте дату: она не может быть позже сегодняшней или раньше 1900 года",
    ErrorCode.WEAK_PASSWORD: WEAK_PASSWORD,
    ErrorCode.INVALID_CREDENTIALS: INVALID_CREDENTIALS,
    ErrorCode.EMAIL_NOT_CONFIRMED: EMAIL_NOT_CONFIRMED,
    ErrorCode.LOGIN_LOCKED: LOGIN_LOCKED,
    ErrorCode.FLOW_NOT_FOUND: "Сеанс регистрации не найден. Начните, пожалуйста, заново",
    ErrorCode.FLOW_EXPIRED: "Время сеанса истекло. Начните, пожалуйста, заново",
    ErrorCode.WRONG_STEP: "Этот шаг сейчас недоступен. Продолжите с текущего шага",
    ErrorCode.NOT_AUTHENTICATED: "Войдите в личный кабинет, чтобы продолжить",
    ErrorCode.NOT_FOUND: "Не найдено",
    ErrorCode.LAST_ADDRESS: "Нельзя удалить единственный адрес",
    ErrorCode.EBILL_NEEDS_CONFIRMED_EMAIL: ("Чтобы получать электронную платежку, подтвердите e-mail"),
    ErrorCode.INVALID_TOKEN: "Ссылка недействительна или уже использована",
    ErrorCode.TOO_LONG: "Слишком длинное значение",
    ErrorCode.RATE_LIMITED: "Слишком много запросов. Попробуйте еще раз через несколько минут",
    ErrorCode.INVALID_STATUS_CHANGE: "Такое изменение статуса недопустимо",
    ErrorCode.INVALID_INPUT: "Некорректное значение",
    ErrorCode.GOSUSLUGI_UNAVAILABLE: "Вход через портал Госуслуги сейчас недоступен",
    ErrorCode.GOSUSLUGI_ALREADY_LINKED: ("Эта учетная запись Госуслуг уже привязана к другому профилю"),
    ErrorCode.GOSUSLUGI_PHONE_REQUIRED: GOSUSLUGI_PHONE_REQUIRED,
}


def error_text(code: ErrorCode, **params: object) -> str:
    text = ERROR_TEXTS[code]
    if params:
        try:
            return text.format(**params)
        except (KeyError, IndexError):
            return text
    return text


# Hints a screen shows under an error (UserError.hint): SPEC §2 step 3 shows the connection-request hint
# with either account error.
ERROR_HINTS: dict[ErrorCode, str] = {
    ErrorCode.UNKNOWN_ACCOUNT: ACCOUNT_ERROR_HINT,
    ErrorCode.AMOUNT_MISMATCH: ACCOUNT_ERROR_HINT,
}
