"""Browser endpoints of «Вход через портал Госуслуги» (CONTRACT §3; docs/gosuslugi.md, «The browser endpoints»).

- `GET /auth/gosuslugi/login` starts a sign-in (never a linking: a browser request carries no session) and
  answers 302 to the provider, with the state in a cookie (HttpOnly, SameSite=Lax, path /auth/gosuslugi,
  living as long as the state) that binds the callback to this browser.
- `GET /auth/gosuslugi/callback?code&state` — the redirect URI registered at the provider — goes on only when
  the state is the one in this browser's cookie (a sign-in started elsewhere — by the mutation, or by someone
  who sends a victim their own callback link — is refused: login CSRF). It completes the sign-in and shows a
  small Russian page: signed in, or continue the registration. The session token is never put in a URL;
  outside production (EIRC_ENV development/test) the page shows the session token or the flow id, so a
  developer can go on in GraphiQL.
- **The portal's handoff.** `GET /auth/gosuslugi/login?portal=<tab>` (the reference portal at `/`: `tab` is a
  random value of 16–64 base64url characters that the portal's tab keeps in sessionStorage; anything else →
  a 400 page, nothing started) also sets the cookie `eirc_gosuslugi_portal` holding `tab` (the same
  attributes). The callback of a state bound to this browser that carries that cookie completes nothing: it
  answers 303 to `/#gosuslugi?code=…&state=…&tab=…` (a declined sign-in: the state spent,
  `/#gosuslugi?error=cancelled&tab=…`; no usable code: the state spent, `error=failed`), clears both cookies,
  and the portal's tab — only when `tab` is the value it kept — completes it with `gosuslugiComplete`, which
  claims the state as for any frontend. The code travels on in the fragment, which browsers never send to a
  server or put in a Referer (docs/portal.md, «Госуслуги»). A plain login clears a stale portal cookie.

Every failure is a page — 400 for a refused or cancelled sign-in, 429 when throttled, 503 when the provider
(or the database) cannot be reached — never a 500. `HEAD` of the callback does nothing (link previewers).
"""

from __future__ import annotations

import hmac
import logging
import re
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from eirc.bootstrap import Container
from eirc.domain import texts
from eirc.domain.errors import DomainError, ErrorCode
from eirc.graphql.context import client_ip_of, user_agent_of
from eirc.services import gosuslugi
from eirc.web.confirm_email import page

log = logging.getLogger("eirc.web.gosuslugi")

COOKIE = "eirc_gosuslugi_state"
PORTAL_COOKIE = "eirc_gosuslugi_portal"  # the tab value of a sign-in started by the portal (`?portal=`)
COOKIE_PATH = "/auth/gosuslugi"
PORTAL_PARAM = "portal"
PORTAL_HANDOFF = "/#gosuslugi?"  # where the portal takes over: the code travels in the fragment
_TAB = re.compile(r"[A-Za-z0-9_-]{16,64}")
_REDIRECT_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def valid_tab(value: str | None) -> bool:
    """A portal tab value: 16–64 characters of base64url (the portal sends 32)."""
    return value is not None and _TAB.fullmatch(value) is not None


def portal_handoff(**params: str) -> str:
    """`/#gosuslugi?…`, each value percent-encoded (a space as %20, `+` as %2B: URLSearchParams reads it)."""
    return PORTAL_HANDOFF + urlencode(params, quote_via=quote, safe="")


def _failure(exc: DomainError) -> HTMLResponse:
    status = {ErrorCode.GOSUSLUGI_UNAVAILABLE: 503, ErrorCode.RATE_LIMITED: 429}.get(exc.code, 400)
    # A callback without a usable code (the provider's, no screen field): the form-field texts of REQUIRED /
    # TOO_LONG mean nothing on a page.
    unusable_code = exc.code in (ErrorCode.REQUIRED, ErrorCode.TOO_LONG)
    text = texts.GOSUSLUGI_LOGIN_FAILED if unusable_code else exc.message
    return page(texts.GOSUSLUGI_FAILED_TITLE, text, status=status, ok=False)


def _unexpected() -> HTMLResponse:
    return page(texts.GOSUSLUGI_FAILED_TITLE, texts.PAGE_UNAVAILABLE_TEXT, status=503, ok=False)


def gosuslugi_routes(container: Container) -> list[Route]:
    settings = container.settings
    secure_cookie = settings.public_url.startswith("https://")

    def set_cookie(response: Response, name: str, value: str) -> None:
        response.set_cookie(
            name,
            value,
            max_age=settings.oidc_state_ttl_seconds,
            path=COOKIE_PATH,
            secure=secure_cookie,
            httponly=True,
            samesite="lax",  # sent on the provider's top-level redirect back to us, not on cross-site posts
        )

    def delete_cookie(response: Response, name: str) -> None:
        response.delete_cookie(name, path=COOKIE_PATH, secure=secure_cookie, httponly=True, samesite="lax")

    async def login(request: Request) -> Response:
        tab = request.query_params.get(PORTAL_PARAM)
        if tab is not None and not valid_tab(tab):  # not the portal's: nothing is started
            return page(texts.GOSUSLUGI_FAILED_TITLE, texts.GOSUSLUGI_STATE_INVALID, status=400, ok=False)
        try:
            started = await gosuslugi.start(container, user_id=None, client_ip=client_ip_of(request))
        except DomainError as exc:
            return _failure(exc)
        except Exception:  # the page answers, it does not crash
            log.exception("Госуслуги login page failed")
            return _unexpected()
        response = RedirectResponse(started.url, status_code=302, headers=_REDIRECT_HEADERS)
        set_cookie(response, COOKIE, started.state)
        if tab is not None:
            set_cookie(response, PORTAL_COOKIE, tab)
        elif PORTAL_COOKIE in request.cookies:
            # A portal sign-in left unfinished: this one is not the portal's, it must not be handed over.
            delete_cookie(response, PORTAL_COOKIE)
        return response

    async def callback(request: Request) -> Response:
        if request.method == "HEAD":
            return page(texts.GOSUSLUGI_SIGNED_IN_TITLE, "", status=200, ok=True)
        params = request.query_params
        state = params.get("state", "")
        bound = request.cookies.get(COOKIE, "")
        tab = request.cookies.get(PORTAL_COOKIE)
        response: Response
        if not state or not bound or not hmac.compare_digest(bound.encode(), state.encode()):
            response = page(texts.GOSUSLUGI_FAILED_TITLE, texts.GOSUSLUGI_STATE_INVALID, status=400, ok=False)
        elif params.get("error"):  # the resident declined at the provider (or it failed): the state is spent
            await _abandon(state)
            if valid_tab(tab):
                response = _to_portal(error="cancelled", tab=tab)
            else:
                response = page(
                    texts.GOSUSLUGI_FAILED_TITLE, texts.GOSUSLUGI_CANCELLED_TEXT, status=400, ok=False
                )
        elif valid_tab(tab):
            response = await _hand_to_portal(state, params.get("code"), tab)
        else:
            response = await _complete(request, state)
        delete_cookie(response, COOKIE)
        if tab is not None:
            delete_cookie(response, PORTAL_COOKIE)
        return response

    async def _abandon(state: str) -> None:
        try:
            await gosuslugi.abandon(container, state=state)
        except Exception:  # it would expire anyway
            log.exception("Госуслуги callback: could not spend an abandoned state")

    def _to_portal(**params: str) -> Response:
        return RedirectResponse(portal_handoff(**params), status_code=303, headers=_REDIRECT_HEADERS)

    async def _hand_to_portal(state: str, code: str | None, tab: str) -> Response:
        """The portal's tab completes it with `gosuslugiComplete`: the state stays unclaimed, the code goes
        in the fragment (never sent to a server, never in a Referer) with the tab value it started with."""
        if not code or len(code) > gosuslugi.MAX_CODE_LENGTH:  # no usable code: the sign-in is over
            await _abandon(state)
            return _to_portal(error="failed", tab=tab)
        return _to_portal(code=code, state=state, tab=tab)

    async def _complete(request: Request, state: str) -> HTMLResponse:
        try:
            done = await gosuslugi.complete(
                container,
                code=request.query_params.get("code"),
                state=state,
                session_user_id=None,
                client_ip=client_ip_of(request),
                user_agent=user_agent_of(request),
            )
        except DomainError as exc:
            return _failure(exc)
        except Exception:
            log.exception("Госуслуги callback page failed")
            return _unexpected()
        development = settings.is_development
        if done.outcome == gosuslugi.Outcome.REGISTRATION and done.flow is not None:
            text = texts.GOSUSLUGI_CONTINUE_TEXT
            if development:
                text += f" [разработка] flowId: {done.flow.id}"
            return page(texts.GOSUSLUGI_CONTINUE_TITLE, text, status=200, ok=True)
        if done.outcome == gosuslugi.Outcome.LINKED:
            return page(texts.GOSUSLUGI_LINKED, texts.GOSUSLUGI_LINKED_TEXT, status=200, ok=True)
        text = texts.GOSUSLUGI_SIGNED_IN_TEXT
        if development and done.session is not None:
            text += f" [разработка] Authorization: Bearer {done.session.token}"
        return page(texts.GOSUSLUGI_SIGNED_IN_TITLE, text, status=200, ok=True)

    return [
        Route("/auth/gosuslugi/login", login, methods=["GET"]),
        Route(gosuslugi.CALLBACK_PATH, callback, methods=["GET", "HEAD"]),
    ]
