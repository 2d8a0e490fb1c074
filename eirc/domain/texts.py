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
    "Войдите в личный кабинет по номеру телефона и в «Моем профиле» нажмите «Отправить письмо ещё раз»: "
    "придет новая ссылка для подтверждения."
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
    ErrorCode.EMAIL_ALREADY_CONFIRMED: "Этот e-mail уже подтвержден",
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
    ErrorCode.ACCOUNT_ATTEMPTS_EXCEEDED: ACCOUNT_ERROR_HINT,
}


# --- texts added for the frontend API (ours, in SPEC's voice; docs/frontend.md) ------------------------------
# EMAIL_NOT_CONFIRMED when no letter went out now (one went out minutes ago: the resend is throttled).
EMAIL_NOT_CONFIRMED_LETTER_PENDING = (
    "Подтвердите e-mail, чтобы использовать его как логин: письмо для подтверждения уже отправлено вам "
    "на почту. Или используйте телефон для входа"
)
# resendConfirmationEmail within minutes of the last letter (RATE_LIMITED).
EMAIL_LETTER_TOO_EARLY = "Письмо уже отправлено. Запросить новое письмо можно через {seconds} сек."
EMAIL_LETTER_SENT = "Мы отправили письмо для подтверждения на {email}"

# --- every text a screen shows that is not a resident's data: the `uiTexts` query --------------------------------
# Keys are stable («screen.element»); `{…}` marks a value the screen fills in. docs/frontend.md lists them.
UI_TEXTS: dict[str, str] = {
    # the header of every screen
    "brand.name": "МОСОБЛЕИРЦ",
    "brand.tagline": "УДОБНО И ПРОЗРАЧНО",
    "brand.product": "ЛКК «МосОблЕИРЦ Онлайн»",
    "common.required_mark": "*",
    "common.next": "Далее",
    "common.back": "Назад",
    "common.cancel": "Отмена",
    "common.yes": "Да",
    "common.close": "Закрыть",
    "common.loading": "Загрузка…",
    "common.unavailable": "Сервис временно недоступен. Попробуйте еще раз через несколько минут",
    # the phone screen (SPEC §1)
    "phone.title": "Введите тел номер",
    "phone.label": "Телефонный номер",
    "phone.placeholder": "+7 916 123 45 67",
    "phone.consent": "Даю согласие на обработку персональных данных",
    "phone.consent_prefix": "Даю согласие на ",
    "phone.consent_link": "обработку персональных данных",
    "phone.next": "Далее",
    "phone.gosuslugi": "Вход через портал Госуслуги",
    "phone.login_link": "Войти по логину и паролю",
    # back on the phone screen after declining at the provider (the callback page's text, for the portal)
    "phone.gosuslugi_cancelled": GOSUSLUGI_CANCELLED_TEXT,
    # the SMS code (SPEC §2 step 2)
    "code.title": CODE_SCREEN,
    "code.hint": CODE_SCREEN_HINT,
    "code.phone_label": "Телефонный номер",
    "code.label": "Код",
    "code.resend": "Отправить код повторно",
    "code.resend_wait": RESEND_HINT,
    "code.phone_verified": "Номер подтвержден",
    "code.confirm": "Подтвердить номер",
    "code.cancel": "Отмена",
    # the progress indicator of the registration steps
    "progress.account": "Лицевой счет",
    "progress.personal": "Имя, e-mail",
    "progress.password": "Пароль",
    "progress.all": "Лицевой счет — Имя, e-mail — Пароль",
    # «Регистрация: лицевой счет» (SPEC §2 step 3)
    "account.title": "Регистрация: лицевой счет",
    "account.text": (
        "Укажите расчетный период, номер лицевого счета и сумму к оплате из одной из квитанций за последние "
        "три месяца."
    ),
    "account.period_label": "Расчетный период",
    "account.number_label": "Лицевой счет",
    "account.amount_label": "Сумма к оплате, ₽",
    "account.next": "Далее",
    "account.back": "Назад",
    "account.request": "Заявка",
    "account.error_hint": ACCOUNT_ERROR_HINT,
    # «Это ваш адрес?» (step 4)
    "address.question": ADDRESS_QUESTION,
    "address.yes": "Да",
    "address.back": "Назад",
    # «Регистрация: личные данные» (step 5)
    "personal.title": "Регистрация: личные данные",
    "personal.text": (
        "Пожалуйста, введите ваше имя, дату рождения (по желанию) и электронную почту (обязательно)."
    ),
    "personal.last_name": "Фамилия",
    "personal.first_name": "Имя",
    "personal.middle_name": "Отчество (обязательно, если есть)",
    "personal.birth_date": "Дата рождения",
    "personal.email": "Электронная почта",
    "personal.email_hint": (
        "На указанную почту Вам будет направлена ссылка для подтверждения электронного адреса. Подтверждение "
        "требуется для направления фискальных чеков при проведении оплат через ЛКК «МосОблЕИРЦ Онлайн» и для "
        "входа в систему"
    ),
    "personal.notifications": "Согласен получать уведомления по E-mail",
    "personal.terms": "Нажимая на кнопку «Далее», вы соглашаетесь с условиями использования",
    "personal.terms_prefix": "Нажимая на кнопку «Далее», вы соглашаетесь с ",
    "personal.terms_link": "условиями использования",
    "personal.next": "Далее",
    "personal.back": "Назад",
    # «Регистрация: установите пароль» (step 6, and the new password of SPEC §5)
    "password.title": "Регистрация: установите пароль",
    "password.text": "Установление пароля для вашего логина обеспечит безопасность данных.",
    "password.label": "Пароль",
    "password.rules_title": "Пароль должен соответствовать условиям:",
    "password.rule.MIN_LENGTH": PASSWORD_RULE_TEXTS["MIN_LENGTH"],
    "password.rule.LETTERS_AND_DIGITS_ONLY": PASSWORD_RULE_TEXTS["LETTERS_AND_DIGITS_ONLY"],
    "password.rule.NO_REPEATED_ADJACENT_DIGITS": PASSWORD_RULE_TEXTS["NO_REPEATED_ADJACENT_DIGITS"],
    "password.show": "Показать пароль",
    "password.hide": "Скрыть пароль",
    "password.rule_met": "выполнено",
    "password.rule_unmet": "не выполнено",
    "password.register": "Сохранить и зарегистрироваться",
    "password.save_and_login": "Сохранить и перейти ко входу",
    "password.back": "Назад",
    # the connection request (SPEC §3)
    "request.not_found": CONNECTION_NOT_FOUND,
    "request.invite": CONNECTION_INVITE,
    "request.send": "Отправить заявку",
    "request.cancel": "Отмена",
    "request.title": "Заявка на подключение",
    "request.text": "Пожалуйста, введите ваше имя, адрес и электронную почту (обязательно).",
    "request.last_name": "Фамилия",
    "request.first_name": "Имя",
    "request.middle_name": "Отчество (обязательно, если есть)",
    "request.address": "Ваш адрес",
    "request.address_placeholder": "Город, улица, корпус, дом",
    "request.flat": "Квартира (обязательно, если есть)",
    "request.email": "Электронная почта",
    "request.email_hint": (
        "На указанную почту Вам будет направлена ссылка для подтверждения электронного адреса. Подтверждение "
        "требуется для направления фискальных чеков при проведении оплат через ЛКК «МосОблЕИРЦ Онлайн» и для "
        "входа в систему"
    ),
    "request.notifications": "Согласен получать уведомления по E-mail",
    "request.terms": "Нажимая на кнопку «Далее», вы соглашаетесь с условиями использования",
    "request.accepted_title": CONNECTION_ACCEPTED_TITLE,
    "request.accepted_text": CONNECTION_ACCEPTED_TEXT,
    "request.back": "Назад",
    "registration.domopult_notice": (
        "Вся введенная информация при регистрации личного кабинета автоматически отправляется сотрудникам "
        "«Домопульт»"
    ),
    # «Вход: логин и пароль» (SPEC §4)
    "login.title": "Вход: логин и пароль",
    "login.text": (
        "Введите, пожалуйста, ваш телефонный номер или e-mail и пароль, чтобы мы убедились, что вы "
        "зарегистрированы."
    ),
    "login.login_label": "Телефонный номер или e-mail (логин)",
    "login.password_label": "Пароль",
    "login.login_label_required": "Телефонный номер или e-mail (логин)*",
    "login.password_label_required": "Пароль*",
    "login.forgot": "Я забыл пароль",
    "login.submit": "Вход в личный кабинет",
    "login.cancel": "Отмена",
    # «Мой профиль» (SPEC §8)
    "profile.title": "Мой профиль",
    "profile.phone": "Телефон",
    "profile.email": "Электронная почта",
    "profile.email_unconfirmed": "E-mail не подтвержден",
    "profile.email_confirmed": "E-mail подтвержден",
    "profile.resend_email": "Отправить письмо ещё раз",
    "profile.resend_email_wait": EMAIL_LETTER_TOO_EARLY,
    "profile.email_sent": EMAIL_LETTER_SENT,
    "profile.notifications": "Получать на почту уведомления о статусе заявок, платежные документы",
    "profile.gosuslugi": "Госуслуги",
    "profile.gosuslugi_linked": GOSUSLUGI_LINKED,
    "profile.gosuslugi_link": "Привязать профиль Госуслуг",
    "profile.gosuslugi_not_linked": "Профиль не привязан",
    "profile.addresses": "Адреса",
    "profile.address_n": ADDRESS_LABEL,
    "profile.primary": PRIMARY_ADDRESS,
    "profile.make_primary": "Сделать основным",
    "profile.remove_address": "Удалить адрес",
    "profile.remove_confirm": "Удалить этот адрес из профиля?",
    "profile.add_address": "+",
    "profile.add_address_label": "Добавить адрес",
    "profile.ebill": "Электронная платежка",
    "profile.ebill_paused": "Электронная платежка начнет приходить, когда вы подтвердите e-mail",
    "profile.logout": "Выйти",
    "profile.logout_everywhere": "Выйти на всех устройствах",
    # «Регистрация нового адреса» (SPEC §8)
    "add_address.title": "Регистрация нового адреса",
    "add_address.text": "Укажите расчетный период, номер лицевого счета и сумму к оплате из квитанции ЖКУ.",
    "add_address.period_label": "Расчетный период",
    "add_address.number_label": "Номер лицевого счета",
    "add_address.amount_label": "Сумма к оплате, ₽",
    "add_address.submit": "Добавить",
    # the e-mail confirmation pages (SPEC §6)
    "email_confirmed.title": EMAIL_CONFIRMED_TITLE,
    "email_confirmed.text": EMAIL_CONFIRMED_TEXT,
    "email_link_invalid.title": EMAIL_LINK_INVALID_TITLE,
    "email_link_invalid.text": EMAIL_LINK_INVALID_TEXT,
}
# Every error's text, and the texts that go with errors, are screen texts too.
UI_TEXTS.update({f"error.{code.value}": text for code, text in ERROR_TEXTS.items()})
UI_TEXTS.update(
    {
        "error.LOGIN_LOCKED.suspended": LOGIN_SUSPENDED,
        "error.EMAIL_NOT_CONFIRMED.letter_pending": EMAIL_NOT_CONFIRMED_LETTER_PENDING,
        "error.RATE_LIMITED.email_letter": EMAIL_LETTER_TOO_EARLY,
        "error.NOT_FOUND.address": ADDRESS_NOT_FOUND,
        "error.INVALID_TOKEN.gosuslugi_state": GOSUSLUGI_STATE_INVALID,
        "error.INVALID_TOKEN.gosuslugi_login": GOSUSLUGI_LOGIN_FAILED,
        "error.PHONE_TAKEN.gosuslugi": GOSUSLUGI_PHONE_TAKEN,
        "error.GOSUSLUGI_ALREADY_LINKED.other": GOSUSLUGI_OTHER_ACCOUNT_LINKED,
    }
)
