"""The thread that hears PostgreSQL announce a change and tells this worker's page store.

Triggers on polls, choices and articles (migrations 0007 and 0020) send NOTIFY poll_changed
with the poll's id when an edit commits; a thread per worker LISTENs for it. Votes are
announced by the workers instead: one NOTIFY per vote made every worker's listener handle every
vote, and serialised the votes' commits on PostgreSQL's notification queue. So this thread also
sends "<poll id> votes" for the polls this worker's votes changed, at most every
ANNOUNCE_SECONDS, however many votes it took.

Until the listener is connected, and whenever it loses its connection, the store keeps nothing
(polls/poll_cache.py), so every read goes to the database, as it would without either module.
"""

import logging
import threading
import time

import psycopg
from django.db import connection

from polls.poll_cache import PollCache, polls

CHANNEL = "poll_changed"
APPLICATION_NAME = "pollsite poll cache"
# How long the listener waits for a notification before it checks that its connection lives.
KEEPALIVE_SECONDS = 5
# How often a worker tells the others that its readers voted: one notification per poll.
ANNOUNCE_SECONDS = 0.05
RECONNECT_SECONDS = 1

logger = logging.getLogger(__name__)


def notified(store: PollCache, payload: str) -> None:
    """Follow one notification: votes in another worker, one poll's edit, or (no id) an edit
    that may show on any poll's pages."""
    poll_id, _, what = payload.partition(" ")
    if what == "votes" and poll_id.isdigit():
        store.votes_announced(int(poll_id))
    else:
        store.forget(int(payload) if payload.isdigit() else None)


def announce(store: PollCache, conn: psycopg.Connection) -> None:
    """Tell the other workers which polls this one's votes changed: one notification per poll,
    however many votes it took."""
    poll_ids = store.announcements_take()
    if not poll_ids:
        return
    try:
        conn.execute(
            "SELECT pg_notify(%s, poll_id || ' votes') FROM unnest(%s::bigint[]) AS poll_id",
            [CHANNEL, poll_ids],
        )
    except Exception:
        store.announcements_return(poll_ids)  # sent once the listener is connected again
        raise


def listen(store: PollCache, stop: threading.Event) -> None:
    """Follow the notifications until stop is set, and announce this worker's votes,
    reconnecting after a failure."""
    while not stop.is_set():
        try:
            with psycopg.Connection.connect(**listener_params(), autocommit=True) as conn:
                conn.execute(f"LISTEN {CHANNEL}")
                own_pid = conn.info.backend_pid
                store.connected()  # whatever changed while nobody listened is forgotten
                answered = time.monotonic()
                while not stop.is_set():
                    for notice in conn.notifies(timeout=ANNOUNCE_SECONDS):
                        if notice.pid != own_pid:  # this worker's votes are in already
                            notified(store, notice.payload)
                    announce(store, conn)
                    if time.monotonic() - answered > KEEPALIVE_SECONDS:
                        conn.execute("SELECT 1")  # raises if the server went away quietly
                        answered = time.monotonic()
        except Exception as error:  # the thread must live on to reconnect
            if store.listening:
                logger.warning("Poll cache off until PostgreSQL is back: %s", error)
        finally:
            store.disconnected()
        stop.wait(RECONNECT_SECONDS)


def listener_params() -> dict:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    # So that pg_stat_activity tells the listeners apart from the request connections.
    params["application_name"] = APPLICATION_NAME
    return params


def start_listening() -> threading.Event:
    """Start this process's listener (gunicorn starts one per worker); set the event to stop."""
    stop = threading.Event()
    threading.Thread(target=listen, args=(polls, stop), name="poll-cache", daemon=True).start()
    return stop
