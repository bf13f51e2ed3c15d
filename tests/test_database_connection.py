"""Persistent connections are checked before reuse (pollsite/postgresql/base.py).

Transaction tests: Django keeps and checks connections between requests only outside a test's
transaction, as in production. Django's test client leaves out the check between requests
(close_old_connections), so each request here is preceded by it, as a server's is. The poll
cache is not listening here, so every request reads the poll from PostgreSQL.
"""

import os
import signal
import time

import psycopg
import pytest
from django.conf import settings
from django.db import close_old_connections, connection
from django.test import Client
from django.urls import reverse

from polls import poll_cache

pytestmark = pytest.mark.django_db(transaction=True)


def results_json(client: Client, slug: str) -> int:
    close_old_connections()
    return client.get(reverse("polls:api_results", args=[slug])).status_code


def test_a_connection_the_server_ended_is_replaced_before_the_next_request(poll):
    client = Client()
    assert results_json(client, poll.slug) == 200
    ended = connection.connection.info.backend_pid
    with psycopg.connect(**poll_cache.listener_params(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [ended])
    assert results_json(client, poll.slug) == 200
    assert connection.connection.info.backend_pid != ended


def test_a_connection_used_a_moment_ago_whose_server_froze_is_left_within_a_second(poll):
    """Under a burst every connection was used a moment ago. Its server process stopping (here
    SIGSTOP on it: it neither answers nor closes) costs the next request the health check's
    second, then a new connection, not DB_ANSWER_TIMEOUT and a 503."""
    client = Client()
    assert results_json(client, poll.slug) == 200
    frozen = connection.connection.info.backend_pid
    os.kill(frozen, signal.SIGSTOP)  # the server runs on this machine, in the tests as in CI
    try:
        asked = time.monotonic()
        assert results_json(client, poll.slug) == 200
        waited = time.monotonic() - asked
    finally:
        os.kill(frozen, signal.SIGCONT)
    assert connection.connection.info.backend_pid != frozen
    assert waited < settings.DB_ANSWER_TIMEOUT
