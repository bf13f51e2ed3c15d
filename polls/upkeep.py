"""Each worker's periodic jobs, off the readers' path, each in a thread of its own.

- The rate limit's log: networks quiet for a whole window are dropped once a minute. Every
  worker runs it; a trim finds little when another worker trimmed just before.
- The admin's failed sign-ins whose cool-off has passed, deleted once a minute
  (polls/sign_in_throttle.py).
- The seen counts (polls/engagement.py): what the worker's readers saw, written every
  SEEN_FLUSH_SECONDS.

A job that fails (PostgreSQL down) is logged and tried again at its next round; between rounds
no connection is held.
"""

import logging
import threading
from collections.abc import Callable

from django.conf import settings
from django.db import connection

from polls import engagement, rate_limit, sign_in_throttle

UPKEEP_SECONDS = 60

logger = logging.getLogger(__name__)


def run_every(seconds: float, job: Callable[[], object], name: str) -> threading.Event:
    """Run job every seconds in a daemon thread of this process; set the event to stop it."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(seconds):
            try:
                job()
            except Exception:  # the thread must live on for the next round
                logger.exception("%s failed; tried again in %s s", name, seconds)
            finally:
                connection.close()  # a connection for a moment, not one more per worker

    threading.Thread(target=run, name=name, daemon=True).start()
    return stop


def start_upkeep() -> None:
    """This worker's periodic jobs (gunicorn starts them in each worker)."""
    run_every(UPKEEP_SECONDS, rate_limit.quiet_networks_trim, "rate-limit-trim")
    run_every(UPKEEP_SECONDS, sign_in_throttle.expired_attempts_forget, "sign-in-attempts-trim")
    run_every(settings.SEEN_FLUSH_SECONDS, engagement.tally.flush, "seen-flush")
