"""E-mail addresses: syntax check and the normalized form used as a login.

E-mail logins are case-insensitive in eirc: ``Ivan.Petrov@Mail.RU`` and ``ivan.petrov@mail.ru``
are one login. RFC 5321 lets a mail server treat the local part case-sensitively, but no mailbox
provider residents use does, and two accounts differing only by case would be a support trap and an
impersonation risk. So the *whole* address is stored lower-cased, and ``EMAIL_TAKEN`` and
sign-in compare that form.

Syntax is checked by ``email_validator`` (no DNS lookups: deliverability is proven by the
confirmation letter of SPEC §6), in strict mode so that RFC 5321's 64-octet limit on the local
part holds too (mail servers refuse longer ones). Internationalized addresses
(``user@кириллица.рф``) are accepted; the domain is kept in its Unicode form (``email_validator``'s
``ascii_email`` gives the punycode form for SMTP). Reserved names that can never receive mail
(``.test``, ``.local``, ``localhost``) are refused — test fixtures should use e.g. ``example.com``.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from eirc.domain import limits
from eirc.domain.errors import DomainError, ErrorCode

MAX_EMAIL_LENGTH = limits.EMAIL
"""RFC 5321's limit on a forward path."""


def parse_email(raw: str | None, field: str = "email") -> str:
    """Return the normalized, lower-cased address, or raise ``DomainError``.

    Empty or spaces only → ``REQUIRED``; malformed (no «@», bad domain, …) or longer than
    ``MAX_EMAIL_LENGTH`` → ``INVALID_EMAIL``. Surrounding spaces are ignored.
    """
    if raw is None:
        raise DomainError(ErrorCode.REQUIRED, field)
    text = raw.strip()
    if not text:
        raise DomainError(ErrorCode.REQUIRED, field)
    if len(text) > MAX_EMAIL_LENGTH:
        raise DomainError(ErrorCode.INVALID_EMAIL, field)
    try:
        result = validate_email(text, check_deliverability=False, strict=True)
    except EmailNotValidError as exc:
        raise DomainError(ErrorCode.INVALID_EMAIL, field) from exc
    return f"{result.local_part.lower()}@{result.domain.lower()}"
