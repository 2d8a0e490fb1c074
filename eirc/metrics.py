"""Every Prometheus metric of eirc, in one place (docs/operations.md lists them with their labels).

Two kinds:

- **Counters and the latency histogram** are recorded where things happen — the GraphQL door
  (graphql/observe.py: requests by operation and outcome, their latency; the sign-in, registration and
  connection-request mutations), the delivery worker (SMS and other sends by gateway and verdict). With
  `eirc serve --workers N` each gateway process writes its values to files in `PROMETHEUS_MULTIPROC_DIR`
  (prometheus-client's multiprocess mode; `eirc serve` makes a fresh directory before the processes start),
  and `/metrics` adds them up: the counters are the sum over processes.
- **Gauges that describe the database** — the outbox's pending, dead and oldest pending per channel,
  connection requests by status, sign-in locks and suspensions, the global SMS budget — are read from the
  database when `/metrics` is scraped, once per scrape, by the process that answers it (services/stats.py
  `live_figures`): never per process, never summed.

No label carries personal data: every label value is one of a fixed set (the schema's root fields, the
outcomes below, the channels, the gateways' names), and anything else collapses to a fixed value. Recording
is a few dictionary look-ups and an add to a memory-mapped file: cheap enough for `me` and the sign-in.

services/ import nothing from here: what a use case did is visible to the faces and the worker, which
record it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

if TYPE_CHECKING:
    from eirc.services.stats import LiveFigures

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST
CHANNELS = ("sms", "email", "crm")
OTHER = "other"

disable_created_metrics()  # no `*_created` series beside each counter: dashboards read rates
REGISTRY = CollectorRegistry(auto_describe=True)  # this process's metrics (files in multiprocess mode)

# --- the GraphQL door --------------------------------------------------------------------------------------
GRAPHQL_REQUESTS = Counter(
    "eirc_graphql_requests",
    "GraphQL requests by operation (the root field, `multiple`, `introspection`, `unknown`, `invalid`) and "
    "outcome (ok, user_error: a payload carried errors, invalid: refused before execution, error: a field "
    "error, internal_error: an unexpected exception)",
    ["operation", "outcome"],
    registry=REGISTRY,
)
GRAPHQL_SECONDS = Histogram(
    "eirc_graphql_request_seconds",
    "Time to answer a GraphQL request (parse, validation, execution), by operation",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
GRAPHQL_OUTCOMES = frozenset({"ok", "user_error", "invalid", "error", "internal_error"})

# --- journeys ------------------------------------------------------------------------------------------------
LOGINS = Counter(
    "eirc_logins",
    "Sign-in attempts (`login`) by outcome",
    ["outcome"],
    registry=REGISTRY,
)
LOGIN_OUTCOMES = {
    "INVALID_CREDENTIALS": "invalid_credentials",
    "LOGIN_LOCKED": "locked",
    "RATE_LIMITED": "rate_limited",
    "EMAIL_NOT_CONFIRMED": "email_not_confirmed",
    "REQUIRED": "invalid_input",
    "TOO_LONG": "invalid_input",
    "INVALID_INPUT": "invalid_input",
}
REGISTRATIONS = Counter(
    "eirc_registrations", "Registrations completed (a resident created by `setPassword`)", registry=REGISTRY
)
PASSWORD_RESETS = Counter(
    "eirc_password_resets", "Password resets completed (`setPassword` of a reset)", registry=REGISTRY
)
CONNECTION_REQUESTS = Counter(
    "eirc_connection_requests", "Connection requests filed (`submitConnectionRequest`)", registry=REGISTRY
)
FLOWS_STARTED = Counter(
    "eirc_flows_started",
    "Flows started on the phone screen (`startPhone`) by kind",
    ["kind"],
    registry=REGISTRY,
)
FLOW_KINDS = frozenset({"REGISTRATION", "LOGIN", "PASSWORD_RESET"})

# --- deliveries ----------------------------------------------------------------------------------------------
SMS_SENT = Counter(
    "eirc_sms_sent",
    "SMS send attempts by gateway and verdict (sent, retry: to be tried again, failed: refused for good)",
    ["gateway", "verdict"],
    registry=REGISTRY,
)
DELIVERY_ATTEMPTS = Counter(
    "eirc_delivery_attempts",
    "Send attempts of every channel (sms, email, crm) by gateway and verdict (sent, retry, failed)",
    ["channel", "gateway", "verdict"],
    registry=REGISTRY,
)
VERDICTS = {"sent": "sent", "retried": "retry", "dead": "failed"}
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,19}")

# Every outcome a dashboard plots is there from the start, at 0.
for _outcome in ("success", *sorted(set(LOGIN_OUTCOMES.values())), OTHER):
    LOGINS.labels(outcome=_outcome)
for _kind in sorted(FLOW_KINDS):
    FLOWS_STARTED.labels(kind=_kind)


# --- recording (called by the faces and the worker) ----------------------------------------------------------
def graphql_request(operation: str, outcome: str, seconds: float) -> None:
    GRAPHQL_REQUESTS.labels(operation, outcome if outcome in GRAPHQL_OUTCOMES else OTHER).inc()
    GRAPHQL_SECONDS.labels(operation).observe(seconds)


def _code(value: Any) -> str:
    return str(getattr(value, "value", value))


def login_attempt(error_codes: Iterable[Any]) -> None:
    """One `login` field's answer: success without errors, else the outcome of its first error."""
    first = next(iter(error_codes), None)
    outcome = "success" if first is None else LOGIN_OUTCOMES.get(_code(first), OTHER)
    LOGINS.labels(outcome).inc()


def registration_completed() -> None:
    REGISTRATIONS.inc()


def password_reset_completed() -> None:
    PASSWORD_RESETS.inc()


def connection_request_filed() -> None:
    CONNECTION_REQUESTS.inc()


def flow_started(kind: Any) -> None:
    kind = _code(kind)
    FLOWS_STARTED.labels(kind if kind in FLOW_KINDS else OTHER).inc()


def delivery_attempt(*, channel: str, gateway: str | None, result: str) -> None:
    """One send's outcome as the worker records it (`result`: sent | retried | dead)."""
    verdict = VERDICTS.get(result, OTHER)
    name = gateway if gateway and _NAME.fullmatch(gateway) else OTHER
    channel = channel if channel in CHANNELS else OTHER
    DELIVERY_ATTEMPTS.labels(channel, name, verdict).inc()
    if channel == "sms":
        SMS_SENT.labels(name, verdict).inc()


# --- the exposition ---------------------------------------------------------------------------------------------
def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROCESS_ENV) or None


def exposition(live: LiveFigures | None) -> bytes:
    """The text of `/metrics`: the counters (summed over the gateway processes in multiprocess mode), then
    the gauges read from the database for this scrape (`live`; None when the database did not answer)."""
    directory = multiprocess_dir()
    if directory:
        counted = CollectorRegistry()
        MultiProcessCollector(counted, path=directory)
    else:
        counted = REGISTRY
    figures = CollectorRegistry()
    figures.register(_LiveCollector(live))
    return generate_latest(counted) + generate_latest(figures)


class _LiveCollector:
    def __init__(self, live: LiveFigures | None) -> None:
        self.live = live

    def collect(self) -> Iterable[GaugeMetricFamily]:
        live = self.live
        yield GaugeMetricFamily(
            "eirc_database_up",
            "1 when the database answered this scrape's reads, else 0",
            value=int(bool(live)),
        )
        if live is None:
            return
        pending = GaugeMetricFamily(
            "eirc_deliveries_pending", "Messages waiting in the outbox, by channel", labels=["channel"]
        )
        dead = GaugeMetricFamily(
            "eirc_deliveries_dead",
            "Messages failed for good or expired, kept until retention prunes them, by channel",
            labels=["channel"],
        )
        oldest = GaugeMetricFamily(
            "eirc_deliveries_oldest_pending_seconds",
            "Age of the oldest message waiting in the outbox (0 when none), by channel",
            labels=["channel"],
        )
        for channel in CHANNELS:
            figures = live.outbox.get(channel)
            pending.add_metric([channel], figures.pending if figures else 0)
            dead.add_metric([channel], figures.dead if figures else 0)
            oldest.add_metric([channel], figures.oldest_pending_seconds if figures else 0)
        yield pending
        yield dead
        yield oldest
        requests = GaugeMetricFamily(
            "eirc_connection_requests_by_status", "Connection requests by status", labels=["status"]
        )
        for status, count in sorted(live.requests_by_status.items()):
            requests.add_metric([status], count)
        yield requests
        locks = GaugeMetricFamily(
            "eirc_login_locks",
            "Sign-in subjects locked now: `lock` (for EIRC_LOGIN_LOCKOUT_SECONDS) or `suspension` (after 100 "
            "consecutive failures, until a reset by SMS or `eirc users unlock`)",
            labels=["kind"],
        )
        locks.add_metric(["lock"], live.locked - live.suspended)
        locks.add_metric(["suspension"], live.suspended)
        yield locks
        yield GaugeMetricFamily(
            "eirc_sms_budget_used",
            "SMS counted against the global hourly budget in its current window (refused ones included)",
            value=live.sms_budget_used,
        )
        yield GaugeMetricFamily(
            "eirc_sms_budget_limit",
            "The global hourly SMS budget (EIRC_SMS_GLOBAL_PER_HOUR)",
            value=live.sms_budget_limit,
        )
