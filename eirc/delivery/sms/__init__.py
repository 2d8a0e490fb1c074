"""SMS adapters, one small module per gateway (docs/deliveries.md, «SMS gateways»).

`relay` speaks eirc's own protocol (CONTRACT §5); `smsc`, `smsru`, `smsaero` and `exolve` speak the gateways'
documented HTTP APIs and read the verdict from the answer's body, where those gateways put it (most of them
answer HTTP 200 when they refuse a message).
"""

from __future__ import annotations

from eirc.delivery.base import Adapter
from eirc.settings import Settings


def build_sms_adapter(settings: Settings) -> Adapter | None:
    """The adapter of EIRC_SMS_PROVIDER (settings have checked what it needs), or None: the dev outbox."""
    gateway = settings.sms_gateway
    timeout = settings.delivery_timeout_seconds
    if gateway is None:
        return None
    if gateway == "relay":
        from eirc.delivery.sms.relay import RelayAdapter

        assert settings.sms_url is not None
        return RelayAdapter(settings.sms_url, settings.sms_token, timeout=timeout)
    base_url = settings.sms_base_url
    assert base_url is not None and settings.sms_token is not None
    if gateway == "smsc":
        from eirc.delivery.sms.smsc import SmscAdapter

        return SmscAdapter(
            base_url, login=settings.sms_login, password=settings.sms_token, sender=settings.sms_sender,
            timeout=timeout,
        )  # fmt: skip
    if gateway == "smsru":
        from eirc.delivery.sms.smsru import SmsRuAdapter

        return SmsRuAdapter(base_url, api_id=settings.sms_token, sender=settings.sms_sender, timeout=timeout)
    if gateway == "smsaero":
        from eirc.delivery.sms.smsaero import SmsAeroAdapter

        assert settings.sms_login is not None and settings.sms_sender is not None
        return SmsAeroAdapter(
            base_url, email=settings.sms_login, api_key=settings.sms_token, sign=settings.sms_sender,
            timeout=timeout,
        )  # fmt: skip
    if gateway == "exolve":
        from eirc.delivery.sms.exolve import ExolveAdapter

        assert settings.sms_sender is not None
        return ExolveAdapter(
            base_url, api_key=settings.sms_token, sender=settings.sms_sender, timeout=timeout
        )
    raise ValueError(f"unknown SMS gateway {gateway!r}")  # settings refuse it first
