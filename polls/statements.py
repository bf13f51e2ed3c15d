"""The vote's SQL, in one place: the rate limit's attempt, and the ballot that counts itself.

Both run as PostgreSQL prepared statements. Django binds parameters on the client, so
PostgreSQL parses and plans every query it is sent; for the statement every vote runs, that
planning was a third of the database's work (measured with pgbench: docs/performance.md).
prepared_cursor() binds on the server instead, and psycopg prepares each statement once per
connection (OPTIONS["prepare_threshold"] in settings). They are still Django cursors: the same
connection and transaction, health checks, error translation (IntegrityError) and query
logging (django_assert_num_queries counts them).

Parameters are named (%(name)s): the attempt's and the ballot's, joined in one statement.
"""

from functools import cache

from django.db import connection, models
from django.db.backends.utils import CursorWrapper
from django.db.models import Field

from polls.models import Ballot, BallotChoice, Choice, RecentVoteAttempts


def prepared_cursor() -> CursorWrapper:
    return connection.server_binding_cursor()


# Counts one attempt from a network, atomically whatever worker runs it: the attempt is admitted
# while fewer than the limit were admitted in the window before it, and then counted in its
# second (rounded up: RecentVoteAttempts). The seconds that have left the window are dropped on
# the way. Returns whether it was admitted and the oldest second kept, from which a refused
# attempt's Retry-After follows. Parameters: address_hash, second (the attempt's, rounded up),
# now, window (seconds), limit (rate_limit.Attempt.params).
ATTEMPT = (
    f"INSERT INTO {RecentVoteAttempts._meta.db_table} AS recent"
    " (address_hash, admitted_at, admitted_count, last_attempt_at, last_admitted_at)"
    " VALUES (%(address_hash)s::varchar(64), ARRAY[%(second)s::timestamptz], ARRAY[1],"
    " %(now)s::timestamptz, %(now)s::timestamptz)"
    " ON CONFLICT (address_hash) DO UPDATE SET"
    " (admitted_at, admitted_count, last_admitted_at, last_attempt_at) = ("
    "  WITH kept AS (SELECT at, n FROM unnest(recent.admitted_at, recent.admitted_count)"
    "    AS log (at, n)"
    "    WHERE at > excluded.last_attempt_at - make_interval(secs => %(window)s::integer)),"
    "   decision AS (SELECT coalesce(sum(n), 0) < %(limit)s::integer AS admit FROM kept),"
    "   counted AS (SELECT at, sum(n)::integer AS n FROM (SELECT at, n FROM kept"
    "    UNION ALL SELECT excluded.admitted_at[1], 1 FROM decision WHERE admit) AS log"
    "    GROUP BY at)"
    "  SELECT coalesce((SELECT array_agg(at ORDER BY at) FROM counted), '{}'),"
    "   coalesce((SELECT array_agg(n ORDER BY at) FROM counted), '{}'),"
    "   CASE WHEN admit THEN excluded.last_attempt_at ELSE recent.last_admitted_at END,"
    "   excluded.last_attempt_at"
    "  FROM decision)"
    " RETURNING last_admitted_at = last_attempt_at AS admitted, admitted_at[1] AS oldest"
)


@cache
def ballot_fields() -> list[Field]:
    """The ballot's columns as the statement inserts them; each is a parameter of its name."""
    return [field for field in Ballot._meta.concrete_fields if not field.primary_key]


def held_as_is(field: Field) -> bool:
    """Whether psycopg takes the field's value as the model holds it: for these, Django's
    conversion (pre_save and get_db_prep_save, 6.1) hands it on unchanged on PostgreSQL, and
    cost a widget vote 109,000 instructions of 3,256,000 (bench/inprocess.py under callgrind).
    Any other field goes through Django's (tests/test_voting.py reads every column back)."""
    if type(field) is models.DateTimeField:
        return not (field.auto_now or field.auto_now_add)
    return type(field) in (models.CharField, models.ForeignKey)


@cache
def ballot_columns() -> list[tuple[str, str, Field | None]]:
    """(column, attribute, the field where Django converts the value) per ballot column."""
    return [
        (field.column, field.attname, None if held_as_is(field) else field)
        for field in ballot_fields()
    ]


def ballot_params(ballot: Ballot) -> dict:
    params = {}
    for column, attribute, converted in ballot_columns():
        if converted is None:
            params[column] = getattr(ballot, attribute)
        else:
            params[column] = converted.get_db_prep_save(
                converted.pre_save(ballot, True), connection
            )
    return params


@cache
def ballot_statement(*, rate_limited: bool, several: bool = False, announced: bool = False) -> str:
    """Insert a ballot and count its choices in one statement, one transaction on its own.

    Parameters: one per ballot column (ballot_params); with several, picked (the choices' ids,
    sorted); with rate_limited, the attempt's (ATTEMPT), which is counted first and lets the
    ballot in only within the limit. Returns one row per counted choice: (ballot id, choice id,
    its new count), after (admitted, oldest) when rate limited.

    announced: the worker announces the new counts itself (polls/poll_cache.py), so the
    statement tells the choices' trigger to send nothing (migration 0020).
    """
    quote = connection.ops.quote_name
    ballots, choices = quote(Ballot._meta.db_table), quote(Choice._meta.db_table)
    columns = ", ".join(quote(field.column) for field in ballot_fields())
    # Typed, because the server binds the parameters and must know them.
    placeholders = ", ".join(
        f"%({field.column})s::{field.db_type(connection)}" for field in ballot_fields()
    )
    if not several:
        counted = (
            f"UPDATE {choices} SET votes = votes + 1 FROM ballot"
            f" WHERE {choices}.id = ballot.choice_id"
            f" RETURNING ballot.id, {choices}.id AS choice_id, {choices}.votes"
        )
        chosen = ""
    else:
        # Each pick is stored with the ballot, and its choice counted. The choices' rows are
        # locked in the order of their ids before they are counted: two readers picking the
        # same choices in any order then queue up instead of deadlocking.
        picks = quote(BallotChoice._meta.db_table)
        chosen = (
            f", picked AS (INSERT INTO {picks} (ballot_id, choice_id)"
            " SELECT ballot.id, chosen FROM ballot, unnest(%(picked)s::bigint[]) AS chosen"
            " RETURNING ballot_id, choice_id),"
            f" locked AS (SELECT id FROM {choices} WHERE id IN (SELECT choice_id FROM picked)"
            f" ORDER BY id FOR NO KEY UPDATE)"
        )
        counted = (
            f"UPDATE {choices} SET votes = votes + 1 FROM locked, ballot"
            f" WHERE {choices}.id = locked.id"
            f" RETURNING ballot.id, {choices}.id AS choice_id, {choices}.votes"
        )
    # Set for this transaction alone, before the statement's triggers fire at its end; the
    # ballot's insert reads it, so that it is evaluated.
    announcing = "set_config('pollsite.votes_announced', 'on', true)" if announced else "''"
    flag = f"flag AS (SELECT {announcing} AS announced)"
    if not rate_limited:
        return (
            f"WITH {flag}, ballot AS (INSERT INTO {ballots} ({columns}) SELECT {placeholders}"
            f" FROM flag RETURNING id, choice_id){chosen} {counted}"
        )
    return (
        f"WITH {flag}, attempt AS ({ATTEMPT}),"
        f" ballot AS (INSERT INTO {ballots} ({columns}) SELECT {placeholders}"
        f" FROM attempt, flag WHERE admitted RETURNING id, choice_id){chosen},"
        f" counted AS ({counted})"
        " SELECT attempt.admitted, attempt.oldest, counted.id, counted.choice_id, counted.votes"
        " FROM attempt LEFT JOIN counted ON true"
    )
