"""`eirc worker`: the delivery worker alone (CONTRACT §4), stopped gracefully by Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Annotated

import typer


def worker(
    once: Annotated[
        bool, typer.Option("--once", help="Send what is due now, print the counts as JSON, and exit")
    ] = False,
    poll_interval: Annotated[
        float, typer.Option(min=0.05, help="Seconds between looks for due messages")
    ] = 1.0,
) -> None:
    """Run the delivery worker (SMS, e-mail, «Домопульт») until stopped."""
    from eirc.logs import configure_logging
    from eirc.settings import get_settings

    settings = get_settings()
    configure_logging(settings)
    asyncio.run(_main(once=once, poll_interval=poll_interval))


async def _main(*, once: bool, poll_interval: float) -> None:
    from eirc.bootstrap import build_container
    from eirc.cli.output import print_json
    from eirc.delivery.adapters import build_adapters, close_adapters
    from eirc.delivery.worker import DeliveryWorker, warn_dev_outbox
    from eirc.services.retention import run_periodically

    container = build_container()
    container.delivery_wakeup = asyncio.Event()
    adapters = build_adapters(container.settings)
    warn_dev_outbox(container, adapters)
    worker = DeliveryWorker(container, adapters, poll_interval=poll_interval)
    pruning: asyncio.Task | None = None
    try:
        if once:
            print_json((await worker.run_once()).as_dict())
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        pruning = asyncio.create_task(run_periodically(container, stop))  # retention, as `eirc serve` does
        await worker.run_forever(stop)
    finally:
        await close_adapters(adapters)
        if pruning is not None:
            await stopped(pruning)
        await container.dispose()


async def stopped(task: asyncio.Task) -> None:
    """Wait for the retention task, which watches the same `stop` (cancelled if it does not end in time)."""
    try:
        await asyncio.wait_for(task, timeout=10)
    except (TimeoutError, asyncio.CancelledError):
        task.cancel()
    except Exception as exc:  # it logs its own failures; whatever is left must not hide the worker's end
        logging.getLogger("eirc.retention").error("retention task ended with %s: %s", type(exc).__name__, exc)
