"""The in-house SMS relay adapter now lives in `eirc.delivery.sms.relay`; this name stays for importers."""

from __future__ import annotations

from eirc.delivery.sms.relay import RelayAdapter as SmsHttpAdapter

__all__ = ["SmsHttpAdapter"]
