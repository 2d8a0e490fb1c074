"""The adapter registry: which adapter sends each channel, from the settings (CONTRACT §2)."""

from __future__ import annotations

from eirc.delivery.base import Adapter
from eirc.delivery.crm_http import CrmHttpAdapter
from eirc.delivery.dev_outbox import DevOutboxAdapter
from eirc.delivery.sms import build_sms_adapter
from eirc.delivery.smtp_mail import SmtpMailAdapter
from eirc.settings import Settings


def build_adapters(settings: Settings) -> dict[str, Adapter]:
    """channel → adapter; a channel whose provider is not configured goes to the development outbox."""
    timeout = settings.delivery_timeout_seconds
    dev = {"show_secrets": settings.is_development}
    adapters: dict[str, Adapter] = {}
    adapters["sms"] = build_sms_adapter(settings) or DevOutboxAdapter("sms", **dev)
    adapters["email"] = SmtpMailAdapter(settings) if settings.smtp_host else DevOutboxAdapter("email", **dev)
    adapters["crm"] = (
        CrmHttpAdapter(settings.crm_url, settings.crm_token, timeout=timeout)
        if settings.crm_url
        else DevOutboxAdapter("crm", **dev)
    )
    return adapters


def describe(adapters: dict[str, Adapter]) -> str:
    """One line for start-up logs: `crm=crm-http email=dev-outbox sms=smsc`."""
    return " ".join(f"{channel}={adapter.name}" for channel, adapter in sorted(adapters.items()))


async def close_adapters(adapters: dict[str, Adapter]) -> None:
    for adapter in adapters.values():
        await adapter.aclose()
