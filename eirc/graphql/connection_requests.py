"""Connection-request mutations (CONTRACT §3, SPEC §3) — thin: every rule is in services.connection_requests."""

from __future__ import annotations

from typing import Any

import strawberry

from eirc import metrics
from eirc.domain import texts
from eirc.domain.errors import DomainError, DomainErrors
from eirc.graphql.errors import UserError, guarded
from eirc.graphql.registration import attach_flow, flow_payload, to_flow
from eirc.graphql.types import Flow, FlowPayload
from eirc.services import connection_requests


@strawberry.type(description="The answer to «Отправить заявку»")
class ConnectionRequestPayload:
    request_id: strawberry.ID | None = strawberry.field(
        default=None, description="The request filed by this flow (the same id for a repeated submission)"
    )
    title: str | None = strawberry.field(default=None, description="«Заявка принята» once filed")
    message: str | None = strawberry.field(
        default=None, description="The text under the title: how the resident will be told"
    )
    flow: Flow | None = strawberry.field(
        default=None, description="The flow as it now stands (DONE once filed)"
    )
    errors: list[UserError] = strawberry.field(default_factory=list, description="Empty on success")


@strawberry.type
class ConnectionRequestMutation:
    @strawberry.mutation(
        description="«Заявка» at the account step → CONNECTION_REQUEST (a registration with a verified phone)"
    )
    async def open_connection_request(self, info: strawberry.Info, flow_id: strawberry.ID) -> FlowPayload:
        container = info.context.container
        return await flow_payload(
            lambda: connection_requests.open_connection_request(container, flow_id=str(flow_id))
        )

    @strawberry.mutation(
        description="«Отправить заявку»: the request is stored and sent to «Домопульт»; the flow is DONE. "
        "A repeated submission of the flow answers the same requestId and files nothing new"
    )
    async def submit_connection_request(
        self,
        info: strawberry.Info,
        flow_id: strawberry.ID,
        last_name: str,
        first_name: str,
        middle_name: str | None = None,
        *,
        address: str,
        flat: str | None = None,
        email: str,
        email_notifications: bool,
    ) -> ConnectionRequestPayload:
        container = info.context.container

        async def run() -> dict[str, Any]:
            try:
                done = await connection_requests.submit_connection_request(
                    container,
                    flow_id=str(flow_id),
                    last_name=last_name,
                    first_name=first_name,
                    middle_name=middle_name,
                    address=address,
                    flat=flat,
                    email=email,
                    email_notifications=email_notifications,
                )
            except (DomainError, DomainErrors) as exc:
                attach_flow(exc)
                raise
            if done.created:
                metrics.connection_request_filed()
            return {
                "request_id": strawberry.ID(done.request_id),
                "title": texts.CONNECTION_ACCEPTED_TITLE,
                "message": texts.CONNECTION_ACCEPTED_TEXT,
                "flow": to_flow(done.flow),
            }

        return await guarded(ConnectionRequestPayload, run)
