"""Django's PostgreSQL backend, with a limit on how long the app waits for an answer.

PostgreSQL's statement_timeout (settings.py) ends a slow query, but a server that does not answer
at all (stopped, overloaded to a standstill, or behind a network that drops packets) can only be
noticed by the client, and psycopg waits for as long as it takes: every request, and the
connection health check that starts each one, would hang for the whole outage.
"""

import select
import time

import psycopg
from django.conf import settings
from django.db import OperationalError
from django.db.backends.postgresql import base

from pollsite import embedded_postgres


class DatabaseWrapper(base.DatabaseWrapper):
    answer_timeout: float = 0
    answered_at: float = float("-inf")  # time.monotonic() of the server's last answer

    def get_connection_params(self) -> dict:
        if self.settings_dict.get("EMBEDDED_DATA_DIR") and not self.settings_dict["PORT"]:
            # No DATABASE_URL: the embedded server starts with this process's first connection.
            try:
                embedded_postgres.started(self.settings_dict)
            except Exception as error:  # pgserver's own errors: as any failure to connect
                raise OperationalError(f"could not start: {error}") from error
        return super().get_connection_params()

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        self.answer_timeout = settings.DB_ANSWER_TIMEOUT
        bound_waits(connection, lambda: self.answer_timeout, self.answered)
        return connection

    def answered(self) -> None:
        self.answered_at = time.monotonic()

    def server_binding_cursor(self):
        """cursor(), but PostgreSQL binds the parameters, so that psycopg prepares the statement
        once per connection (OPTIONS["prepare_threshold"]): what OPTIONS["server_side_binding"]
        does for every query, for the one statement that needs it (the vote). Django's own
        cursor, otherwise: same connection, transaction, error translation and query logging.

        The seam is psycopg's cursor_factory, which Django 6.1's create_cursor() uses for
        unnamed cursors (django/db/backends/postgresql/base.py); tests/test_voting.py checks
        that the vote's statement is prepared and Django's queries are not.
        """
        # Any reconnection happens first, so the factory is set on the connection that is used.
        self.close_if_health_check_failed()
        self.ensure_connection()
        client_binding = self.connection.cursor_factory
        self.connection.cursor_factory = base.ServerBindingCursor
        try:
            return self.cursor()
        finally:
            self.connection.cursor_factory = client_binding

    def is_usable(self) -> bool:
        # The health check before a persistent connection is reused (CONN_HEALTH_CHECKS).
        # A connection that answered within DB_HEALTH_CHECK_AFTER, as every one does under a
        # burst, is asked nothing: a server that closed it (restarted, crashed, ended the
        # backend) has left its last message or end of file on the socket, and an idle
        # connection has nothing else to read. Otherwise one SELECT 1: a server that froze
        # would hold each request, and every thread of the worker with it, for
        # DB_ANSWER_TIMEOUT instead of a second (tests/test_faults.py). If that SELECT 1 takes
        # more than a second, the request should not wait any longer to learn that it needs a
        # new connection (which fails after DB_CONNECT_TIMEOUT).
        recent = time.monotonic() - self.answered_at < settings.DB_HEALTH_CHECK_AFTER
        if recent and not has_input(self.connection):
            return True
        self.answer_timeout = settings.DB_HEALTH_TIMEOUT
        try:
            return super().is_usable()
        finally:
            self.answer_timeout = settings.DB_ANSWER_TIMEOUT


# The one seam into psycopg's internals, mirroring psycopg 3.3 (3.3.9 when written): every wait
# for the server passes through Connection.wait(gen, interval, timeout), which raises
# errors._WaitTimeout, an OperationalError meant to stay inside psycopg, when timeout runs out.
# psycopg has no public limit on waiting for an answer (statement_timeout is the server's, and a
# stopped server never applies it). tests/test_database_connection.py checks both names, and a
# query cut short through them, so an upgrade that moves either fails there first.
WAIT_TIMEOUT = psycopg.errors._WaitTimeout


def has_input(connection: psycopg.Connection) -> bool:
    """Whether the server sent something that nobody has read: on an idle connection, the
    error it sends when it ends the backend, or the end of file of a closed socket."""
    try:
        socket = connection.fileno()
    except psycopg.Error:  # closed already
        return True
    poll = select.poll()
    poll.register(socket, select.POLLIN)
    return bool(poll.poll(0))


def bound_waits(connection: psycopg.Connection, seconds, answered) -> None:
    """End every wait for the server on this connection after seconds() at most, and close it;
    call answered() after each wait that the server ended.

    psycopg leaves Connection.wait's timeout unset; this sets it. A wait cut short leaves the
    connection in the middle of the protocol, so it is closed: the error reaches Django as an
    OperationalError (a 503, see polls/middleware.py), and the next request reconnects.
    """
    wait = connection.wait

    def bounded_wait(gen, interval=0.1, timeout=None):
        limit = timeout if timeout is not None else seconds()
        try:
            result = wait(gen, interval, limit or None)
        except WAIT_TIMEOUT:
            connection.close()
            raise psycopg.OperationalError(
                f"PostgreSQL did not answer within {limit:g} s; connection closed"
            ) from None
        answered()
        return result

    connection.wait = bounded_wait
