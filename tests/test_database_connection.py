"""Persistent connections are checked before reuse (pollsite/postgresql/base.py), cheaply.

Transaction tests: Django keeps and checks connections between requests only outside a test's
transaction, as in production. Django's test client leaves out the check between requests
(close_old_connections), so each request here is preceded by it, as a server's is.
"""

import psycopg
import pytest
from django.db import close_old_connections, connection
from django.db.backends.postgresql import base as django_postgresql
from django.test import Client
from django.urls import reverse

from polls import poll_cache
from tests.helpers import eventually

pytestmark = pytest.mark.django_db(transaction=True)


def results_json(client: Client, slug: str) -> int:
    close_old_connections()
    return client.get(reverse("polls:api_results", args=[slug])).status_code


def test_a_connection_in_use_a_moment_ago_is_reused_without_a_round_trip(poll, monkeypatch):
    round_trips = []

    def select_1(self) -> bool:
        round_trips.append(self.connection.info.backend_pid)
        return True

    monkeypatch.setattr(django_postgresql.DatabaseWrapper, "is_usable", select_1)
    client = Client()
    assert results_json(client, poll.slug) == 200
    assert results_json(client, poll.slug) == 200
    assert round_trips == []
    # Idle for longer than RECENT_ANSWER_SECONDS: the server is asked.
    connection.answered_at -= 2
    assert results_json(client, poll.slug) == 200
    assert round_trips == [connection.connection.info.backend_pid]


def test_a_connection_the_server_ended_is_replaced_before_the_next_request(poll):
    client = Client()
    assert results_json(client, poll.slug) == 200
    ended = connection.connection.info.backend_pid
    with psycopg.connect(**poll_cache.listener_params(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [ended])
    # The server says goodbye on the socket; the request after it gets a new connection.
    assert eventually(lambda: not connection.is_quiet())
    assert results_json(client, poll.slug) == 200
    assert connection.connection.info.backend_pid != ended
