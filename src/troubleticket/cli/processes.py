"""``serve`` and ``worker``: the server processes (one, or ``--workers N`` on one port and store,
their metrics summed) and the delivery worker."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from troubleticket.config import Settings

logger = logging.getLogger(__name__)


def worker(settings: Settings) -> int:
    import signal
    import threading

    from troubleticket import metrics_scrape
    from troubleticket.bootstrap import background, runtime
    from troubleticket.bootstrap.stores import metered, open_store

    if settings.tracing != "off":
        from troubleticket import tracing

        tracing.enable(settings)  # its deliveries and partner calls
    store = metered(settings, open_store(settings))
    run = runtime(settings, store)
    stopped = threading.Event()

    def halt(_signum: int, _frame: object) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, halt)
    signal.signal(signal.SIGINT, halt)
    stop_metrics = None
    if settings.metrics and settings.metrics_port is not None:
        stop_metrics = metrics_scrape.serve(
            settings.metrics_host or settings.host,
            settings.metrics_port,
            metrics_scrape.registry(store),
            settings.metrics_token,
        )
    stop = background(run, shared=True)  # workers share the delivery lanes
    logger.info("delivering notifications and watching SLAs, store %s", settings.store_shown)
    try:
        stopped.wait()
    finally:
        stop()
        if stop_metrics is not None:
            stop_metrics()
        store.close()
    logger.info("stopped")
    return 0


@contextmanager
def shared_metrics(settings: Settings) -> Iterator[None]:
    """For the processes of ``serve --workers``: the directory they keep their figures in
    (``TT_METRICS_DIR``, or a temporary one removed at exit), emptied of an earlier run's, and
    with ``TT_METRICS_PORT`` this supervising process answering scrapes for all of them."""
    if not settings.metrics:
        yield
        return
    from troubleticket import metrics, metrics_scrape
    from troubleticket.bootstrap.stores import open_store

    directory = Path(settings.metrics_dir or tempfile.mkdtemp(prefix="troubleticket-metrics-"))
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):  # figures of processes gone: not this run's
        stale.unlink()
    os.environ[metrics.MULTIPROCESS_DIR] = str(directory)
    store = stop = None
    try:
        if settings.metrics_port is not None:
            store = open_store(settings)
            stop = metrics_scrape.serve(
                settings.metrics_host or settings.host,
                settings.metrics_port,
                metrics_scrape.registry(store),
                settings.metrics_token,
            )
        yield
    finally:
        if stop is not None:
            stop()
        if store is not None:
            store.close()
        if settings.metrics_dir is None:
            shutil.rmtree(directory, ignore_errors=True)


def shared_console_secret(settings: Settings) -> Settings:
    """``settings`` with a console key every process of ``serve --workers N`` shares: the
    console's form tokens and session cookies made by one process are checked by another. Unset
    (``TT_CONSOLE_SECRET``), one is drawn here, for this run; with one process, or no console,
    the settings are returned as they are."""
    if settings.workers > 1 and settings.console and settings.console_secret is None:
        return replace(settings, console_secret=secrets.token_urlsafe(32))
    return settings


def serve(settings: Settings) -> int:
    import uvicorn

    from troubleticket import server
    from troubleticket.app import create_app
    from troubleticket.bootstrap.stores import open_store

    settings.check_exposure()
    settings = shared_console_secret(settings)
    if settings.workers > 1:
        # every problem with the settings, the policy or the partners stops it here, once
        store = open_store(settings)
        try:
            create_app(settings, store=store)
        finally:
            store.close()
    else:
        app = create_app(settings)
    if settings.auth == "none":
        logger.warning(
            "TT_AUTH=none: every request is trusted, whoever sends it; set TT_AUTH=jwt before "
            "anything but this host can reach the server"
        )
    logger.info(
        "serving %s/tmf-api/troubleTicket/v5%s from store %s",
        settings.public_base_url,
        " (and v4)" if settings.v4 else "",
        settings.store_shown,
    )
    options = server.uvicorn_options(settings)
    if settings.workers > 1:
        # uvicorn starts each worker from an import string; they read their settings back
        # from the environment (the connection limits travel with uvicorn's own configuration)
        os.environ.update(settings.environment())
        with shared_metrics(settings):
            uvicorn.run(
                "troubleticket.workers:app", factory=True, workers=settings.workers, **options
            )
        return 0
    uvicorn.run(app, **options)
    return 0
