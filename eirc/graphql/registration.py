"""Registration mutations and the `flow` query (CONTRACT §3) — thin: every rule is in services.registration.

An expected failure of a step answers the payload's `errors` and, when the flow is known, the flow as it
now stands (its step, `resendAvailableInSeconds`, …), so a screen can resynchronise.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import strawberry

from eirc import metrics
from eirc.domain.errors import DomainError, DomainErrors
from eirc.graphql import auth
from eirc.graphql.context import selects, user_agent_of
from eirc.graphql.errors import guarded
from eirc.graphql.me import to_profile
from eirc.graphql.types import (
    AuthPayload,
    Flow,
    FlowData,
    FlowKind,
    FlowPayload,
    FlowStep,
    ProfilePayload,
    Session,
)
from eirc.services import registration
from eirc.services.email_confirmation import confirm_email as confirm_email_service
from eirc.services.flows import FlowView
from eirc.services.profile import profile_of


def to_flow(view: FlowView) -> Flow:
    entered = dict(view.entered)
    birth = entered.get("birth_date")
    return Flow(
        id=strawberry.ID(view.id),
        kind=FlowKind(view.kind.value),
        step=FlowStep(view.step.value),
        phone=view.phone,
        expires_at=view.expires_at,
        resend_available_in_seconds=view.resend_available_in_seconds,
        address=view.address,
        phone_verified=view.phone_verified,
        data=FlowData(
            period=entered.get("period"),
            account_number=entered.get("account_number"),
            amount_due=entered.get("amount_due"),
            last_name=entered.get("last_name"),
            first_name=entered.get("first_name"),
            middle_name=entered.get("middle_name"),
            birth_date=dt.date.fromisoformat(birth) if birth else None,
            email=entered.get("email"),
            email_notifications=entered.get("email_notifications"),
        ),
    )


async def flow_payload(call: Callable[[], Awaitable[FlowView | None]]) -> FlowPayload:
    """A payload with the flow `call` answers; an expected failure carries the flow as it now stands."""

    async def run() -> dict[str, Any]:
        try:
            view = await call()
        except (DomainError, DomainErrors) as exc:
            attach_flow(exc)
            raise
        return {"flow": to_flow(view) if view else None}

    return await guarded(FlowPayload, run)


def attach_flow(exc: Exception) -> None:
    """Give a failure's payload the flow it carries (`exc.flow`, set by the services), if any."""
    view = getattr(exc, "flow", None)
    if view is not None:
        exc.payload = {"flow": to_flow(view)}  # type: ignore[attr-defined]


def _ctx(info: strawberry.Info) -> Any:
    return info.context


@strawberry.type
class RegistrationQuery:
    @strawberry.field(
        description="A flow by the id `startPhone` gave; null when unknown, cancelled or expired"
    )
    async def flow(self, info: strawberry.Info, id: strawberry.ID) -> Flow | None:
        view = await registration.get_flow(_ctx(info).container, flow_id=str(id))
        return to_flow(view) if view else None


@strawberry.type
class RegistrationMutation:
    @strawberry.mutation(
        description="The phone screen's «Далее»: REGISTRATION / PASSWORD_RESET (SMS sent) or LOGIN"
    )
    async def start_phone(self, info: strawberry.Info, phone: str, consent: bool) -> FlowPayload:
        ctx = _ctx(info)

        async def start() -> FlowView:
            view = await registration.start_phone(
                ctx.container, phone=phone, consent=consent, client_ip=ctx.client_ip
            )
            metrics.flow_started(view.kind)
            return view

        return await flow_payload(start)

    @strawberry.mutation(description="«Отправить код повторно» (after `resendAvailableInSeconds`)")
    async def resend_code(self, info: strawberry.Info, flow_id: strawberry.ID) -> FlowPayload:
        ctx = _ctx(info)
        return await flow_payload(
            lambda: registration.resend_code(ctx.container, flow_id=str(flow_id), client_ip=ctx.client_ip)
        )

    @strawberry.mutation(description="«Подтвердить номер» → ACCOUNT (registration) or PASSWORD (reset)")
    async def confirm_code(self, info: strawberry.Info, flow_id: strawberry.ID, code: str) -> FlowPayload:
        container = _ctx(info).container
        return await flow_payload(
            lambda: registration.confirm_code(container, flow_id=str(flow_id), code=code)
        )

    @strawberry.mutation(description="The billing account proof → ADDRESS, `flow.address` set")
    async def prove_account(
        self, info: strawberry.Info, flow_id: strawberry.ID, period: str, account_number: str, amount_due: str
    ) -> FlowPayload:
        ctx = _ctx(info)
        return await flow_payload(
            lambda: registration.prove_account(
                ctx.container,
                flow_id=str(flow_id),
                period=period,
                account_number=account_number,
                amount_due=amount_due,
                client_ip=ctx.client_ip,
            )
        )

    @strawberry.mutation(description="«Это ваш адрес?» — «Да» → PERSONAL")
    async def confirm_address(self, info: strawberry.Info, flow_id: strawberry.ID) -> FlowPayload:
        container = _ctx(info).container
        return await flow_payload(lambda: registration.confirm_address(container, flow_id=str(flow_id)))

    @strawberry.mutation(description="«Регистрация: личные данные» → PASSWORD (the terms of use accepted)")
    async def set_personal_data(
        self,
        info: strawberry.Info,
        flow_id: strawberry.ID,
        last_name: str,
        first_name: str,
        middle_name: str | None = None,
        birth_date: dt.date | None = None,
        *,
        email: str,
        email_notifications: bool,
    ) -> FlowPayload:
        ctx = _ctx(info)
        return await flow_payload(
            lambda: registration.set_personal_data(
                ctx.container,
                flow_id=str(flow_id),
                last_name=last_name,
                first_name=first_name,
                middle_name=middle_name,
                birth_date=birth_date,
                email=email,
                email_notifications=email_notifications,
                client_ip=ctx.client_ip,
            )
        )

    @strawberry.mutation(
        description="Registration: the user is created and signed in. Reset: the password is set, flow at LOGIN"
    )
    async def set_password(self, info: strawberry.Info, flow_id: strawberry.ID, password: str) -> AuthPayload:
        ctx = _ctx(info)

        async def run() -> dict[str, Any]:
            try:
                done = await registration.set_password(
                    ctx.container,
                    flow_id=str(flow_id),
                    password=password,
                    client_ip=ctx.client_ip,
                    user_agent=user_agent_of(ctx.request),
                    with_profile=selects(info, "profile"),
                )
            except (DomainError, DomainErrors) as exc:
                attach_flow(exc)
                raise
            if done.session is not None:
                metrics.registration_completed()
            else:
                metrics.password_reset_completed()
            return {
                "flow": to_flow(done.flow),
                "session": Session(token=done.session.token, expires_at=done.session.expires_at)
                if done.session
                else None,
                "profile": to_profile(done.profile) if done.profile else None,
            }

        return await guarded(AuthPayload, run)

    @strawberry.mutation(description="«Назад»: the previous step, what was entered kept (`flow.data`)")
    async def go_back(self, info: strawberry.Info, flow_id: strawberry.ID) -> FlowPayload:
        container = _ctx(info).container
        return await flow_payload(lambda: registration.go_back(container, flow_id=str(flow_id)))

    @strawberry.mutation(description="«Отмена»: the flow ends (`flow` is null on success)")
    async def cancel_flow(self, info: strawberry.Info, flow_id: strawberry.ID) -> FlowPayload:
        container = _ctx(info).container
        return await flow_payload(lambda: registration.cancel_flow(container, flow_id=str(flow_id)))

    @strawberry.mutation(description="Confirms the e-mail of a confirmation link's token (single use)")
    async def confirm_email(self, info: strawberry.Info, token: str) -> ProfilePayload:
        container = _ctx(info).container

        async def run() -> dict[str, Any]:
            user = await confirm_email_service(container, token=token)
            # The profile only to that resident's own session: a link opened on another device (a shared
            # computer, a mail preview) shows nobody's phone, name or addresses.
            signed_in = await auth.current(info)
            if signed_in is None or signed_in[1].id != user.id:
                return {"profile": None}
            view = await profile_of(container.uow, user.id)
            return {"profile": to_profile(view) if view else None}

        return await guarded(ProfilePayload, run)
