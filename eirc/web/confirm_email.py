"""Browser pages of the journeys: `GET /confirm-email?token=…` (SPEC §6), the link in the confirmation letter.

A small HTML page in Russian: «E-mail подтвержден» (200) or «Ссылка устарела или уже использована» (400) —
the same page for an unknown, expired or used token, and never a 500 (a failure to reach the database is
logged and answered 503). HEAD only checks that the page exists, without using the token up (link
previewers send it). The token sits in the URL, so the page is never cached and sends no Referer.
"""

from __future__ import annotations

import html
import logging

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from eirc.bootstrap import Container
from eirc.domain import texts
from eirc.domain.errors import DomainError
from eirc.services.email_confirmation import confirm_email

log = logging.getLogger("eirc.web.confirm_email")

_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
}

_PAGE = """<!doctype html>
<html lang="ru">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — МосОблЕИРЦ Онлайн</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0; background: #f4f6f8; color: #1d2733; }}
main {{ max-width: 32rem; margin: 12vh auto; background: #fff; padding: 2rem 2.5rem; border-radius: 12px;
        box-shadow: 0 2px 12px rgba(0,0,0,.08); }}
h1 {{ font-size: 1.5rem; margin: 0 0 1rem; color: {color}; }}
p {{ line-height: 1.5; margin: 0; }}
</style>
</head>
<body><main><h1>{title}</h1><p>{text}</p></main></body>
</html>
"""


def page(title: str, text: str, *, status: int, ok: bool) -> HTMLResponse:
    body = _PAGE.format(
        title=html.escape(title), text=html.escape(text), color="#1a7f37" if ok else "#b42318"
    )
    return HTMLResponse(body, status_code=status, headers=_HEADERS)


def confirm_email_routes(container: Container) -> list[Route]:
    async def confirm(request: Request) -> HTMLResponse:
        if request.method == "HEAD":
            return page(texts.EMAIL_CONFIRMED_TITLE, "", status=200, ok=True)
        token = request.query_params.get("token", "")
        try:
            await confirm_email(container, token=token)
        except DomainError:
            return page(texts.EMAIL_LINK_INVALID_TITLE, texts.EMAIL_LINK_INVALID_TEXT, status=400, ok=False)
        except Exception:  # the page answers, it does not crash
            log.exception("e-mail confirmation page failed")
            return page(texts.EMAIL_LINK_INVALID_TITLE, texts.PAGE_UNAVAILABLE_TEXT, status=503, ok=False)
        return page(texts.EMAIL_CONFIRMED_TITLE, texts.EMAIL_CONFIRMED_TEXT, status=200, ok=True)

    return [Route("/confirm-email", confirm, methods=["GET", "HEAD"])]
