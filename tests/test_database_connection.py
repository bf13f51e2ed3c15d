"""Persistent connections are checked before reuse (pollsite/postgresql/base.py).

Transaction tests: Django keeps and checks connections between requests only outside a test's
transaction, as in production. Django's test client leaves out the check between requests
(close_old_connections), so each request here is preceded by it, as a server's is. The poll
cache is not listening here, so every request reads the poll from PostgreSQL.
"""

import inspect
import os
import signal
import time

import psycopg
import pytest
from django.conf import settings
from django.db import OperationalError, close_old_connections, connection
from django.db.backends.postgresql import base as django_postgresql
from django.test import Client
from django.urls import reverse

from polls import poll_listener, statements
from polls.models import Ballot
from polls.statements import prepared_cursor
from tests.helpers import vote_form

pytestmark = pytest.mark.django_db(transaction=True)


def results_json(client: Client, slug: str) -> int:
    close_old_connections()
    return client.get(reverse("polls:api_results", args=[slug])).status_code


def test_a_connection_the_server_ended_is_replaced_before_the_next_request(poll):
    client = Client()
    assert results_json(client, poll.slug) == 200
    ended = connection.connection.info.backend_pid
    with psycopg.connect(**poll_listener.listener_params(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [ended])
        backend_gone(admin, ended)
    # It answered a moment ago, so nothing is asked of it: the server's goodbye on the socket
    # is enough to replace it.
    assert results_json(client, poll.slug) == 200
    assert connection.connection.info.backend_pid != ended


def backend_gone(admin: psycopg.Connection, pid: int) -> None:
    """pg_terminate_backend only signals the backend: wait until it has ended."""
    for _ in range(100):
        if not admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
            return
        time.sleep(0.05)
    raise AssertionError(f"backend {pid} still there")


def test_a_connection_that_answered_a_moment_ago_is_reused_without_a_select_1(
    poll, monkeypatch, settings
):
    """Under a burst every connection answered a moment ago: its SELECT 1 was a round trip per
    request for nothing. One that has been quiet longer is asked."""
    # Windows that a loaded machine's pauses cannot blur: "a moment ago" is within a minute,
    # then "quiet longer" is past a tenth of a second that the test sleeps through.
    settings.DB_HEALTH_CHECK_AFTER = 60
    client = Client()
    assert results_json(client, poll.slug) == 200
    asked = []
    select_1 = django_postgresql.DatabaseWrapper.is_usable  # Django's: one SELECT 1
    monkeypatch.setattr(
        django_postgresql.DatabaseWrapper,
        "is_usable",
        lambda wrapper: asked.append(wrapper.alias) or select_1(wrapper),
    )
    reused = connection.connection.info.backend_pid
    assert results_json(client, poll.slug) == 200
    assert asked == []
    settings.DB_HEALTH_CHECK_AFTER = 0.1
    time.sleep(0.2)
    assert results_json(client, poll.slug) == 200
    assert asked == ["default"]
    assert connection.connection.info.backend_pid == reused


def test_a_connection_quiet_for_a_second_whose_server_froze_is_left_within_a_second(poll):
    """A server process that stopped (here SIGSTOP on it: it neither answers nor closes) after
    its connection's last answer costs the next request the health check's second, then a new
    connection, not DB_ANSWER_TIMEOUT and a 503. (Within DB_HEALTH_CHECK_AFTER of that answer
    nothing is asked, and such a request waits DB_ANSWER_TIMEOUT: settings.py.)"""
    client = Client()
    assert results_json(client, poll.slug) == 200
    frozen = connection.connection.info.backend_pid
    time.sleep(settings.DB_HEALTH_CHECK_AFTER)
    os.kill(frozen, signal.SIGSTOP)  # the server runs on this machine, in the tests as in CI
    try:
        asked = time.monotonic()
        assert results_json(client, poll.slug) == 200
        waited = time.monotonic() - asked
    finally:
        os.kill(frozen, signal.SIGCONT)
    assert connection.connection.info.backend_pid != frozen
    assert waited < settings.DB_ANSWER_TIMEOUT


def test_a_query_left_unanswered_ends_at_the_answer_timeout_and_closes_its_connection():
    """The seam into psycopg (pollsite/postgresql/base.py): Connection.wait still takes the
    timeout that the backend sets, and still raises the class it catches when that runs out."""
    wait = inspect.signature(psycopg.Connection.wait).parameters
    assert list(wait) == ["self", "gen", "interval", "timeout"]
    connection.ensure_connection()
    connection.answer_timeout = 0.2
    asked = time.monotonic()
    try:
        unanswered = pytest.raises(OperationalError, match=r"did not answer within 0\.2 s")
        with unanswered, connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(20)")
        # Given up long before the statement could have ended; a loaded machine may be slow.
        assert time.monotonic() - asked < 10
        assert connection.connection.closed
    finally:
        connection.close()


class AnswerLost:
    """A cursor whose statement reaches PostgreSQL and commits, and whose answer never comes
    back: what a server frozen or cut off between COMMIT and its reply does to the app."""

    def __init__(self, cursor) -> None:
        self.cursor = cursor

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.cursor.close()

    def execute(self, sql, params=None) -> None:
        self.cursor.execute(sql, params)
        try:
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        except psycopg.OperationalError as lost:
            raise OperationalError(str(lost)) from lost


def test_a_vote_whose_answer_was_lost_is_not_called_uncounted(poll, monkeypatch):
    """The ballot committed; the reader must not be told that nothing was counted, on our page
    or in the widget, and a reload shows them their vote."""
    monkeypatch.setattr(statements, "prepared_cursor", lambda: AnswerLost(prepared_cursor()))
    client = Client()
    client.post(reverse("polls:vote_token", args=[poll.slug]))  # the voter id comes first
    response = client.post(
        reverse("polls:vote", args=[poll.slug]), vote_form(poll, choice=poll.choices.first().pk)
    )
    assert response.status_code == 503
    page = response.content.decode()
    assert "could not confirm your vote" in page and "it was not counted" not in page
    assert Ballot.objects.filter(poll=poll).count() == 1

    widget = Client().post(
        reverse("polls:embed_vote", args=[poll.slug]),
        vote_form(poll, choice=poll.choices.last().pk),
        headers={"accept": "application/json"},
    )
    assert widget.status_code == 503
    assert "could not confirm your vote" in widget.json()["message"]
    assert Ballot.objects.filter(poll=poll).count() == 2

    monkeypatch.undo()
    close_old_connections()
    assert "Your vote" in client.get(reverse("polls:results", args=[poll.slug])).content.decode()


def test_a_vote_that_never_reached_the_database_says_try_again(poll, monkeypatch):
    def unreachable():
        raise OperationalError("connection refused")

    monkeypatch.setattr(statements, "prepared_cursor", unreachable)
    response = Client().post(
        reverse("polls:vote", args=[poll.slug]), vote_form(poll, choice=poll.choices.first().pk)
    )
    assert response.status_code == 503
    assert "Please try again" in response.content.decode()
    assert "could not confirm" not in response.content.decode()
    assert not Ballot.objects.filter(poll=poll).exists()
