"""The vote's hot statements, run as PostgreSQL prepared statements.

Django binds parameters on the client, so PostgreSQL parses and plans every query it is sent.
For the statement every vote runs, that planning was a third of the database's work (measured
with pgbench: docs/performance.md). These cursors bind on the server instead, and psycopg
prepares each statement once per connection (OPTIONS["prepare_threshold"] in settings).

They are still Django cursors: the same connection and transaction, health checks, error
translation (IntegrityError) and query logging (django_assert_num_queries counts them).
"""

from django.db import connection
from django.db.backends.utils import CursorWrapper


def prepared_cursor() -> CursorWrapper:
    return connection.server_binding_cursor()
