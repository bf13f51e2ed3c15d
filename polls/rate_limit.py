"""Vote attempts per client address, counted in PostgreSQL (no other service needed).

VOTE_RATE_LIMIT is N/W: each address may make at most N attempts in any W seconds, counted with
a sliding log of its admitted attempts, counted per second, one upsert per attempt.
"""

import ipaddress
import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.http import HttpRequest
from django.utils.crypto import salted_hmac
from django.utils.timezone import now

from polls.models import RecentVoteAttempts
from polls.statements import prepared_cursor


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after: int


def client_address(request: HttpRequest) -> str:
    """The socket's address, or the one our reverse proxies vouch for.

    Each proxy appends the address it received the request from to X-Forwarded-For. Walking
    that list from the right, an entry is believed only while the hop that wrote it is one of
    TRUSTED_PROXIES, and at most TRUSTED_PROXY_COUNT hops back: a client that reaches gunicorn
    directly, or writes its own X-Forwarded-For, is known by the address it connects from.
    Django-axes keys admin sign-in failures on this address too (AXES_CLIENT_IP_CALLABLE).
    """
    address = request.META.get("REMOTE_ADDR", "")
    forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",")]
    forwarded = [part for part in forwarded if part]
    for _ in range(settings.TRUSTED_PROXY_COUNT):
        if not forwarded or not is_trusted_proxy(address):
            break
        address = forwarded.pop()
    return address


def is_trusted_proxy(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in network for network in settings.TRUSTED_PROXIES)


def address_hash(address: str) -> str:
    return salted_hmac("polls.client-address", address, algorithm="sha256").hexdigest()


# Counts one attempt from an address, atomically whatever worker runs it: the attempt is
# admitted while fewer than the limit were admitted in the window before it, and then counted
# in its second (rounded up: RecentVoteAttempts); the seconds that have left the window are
# dropped on the way. Returns whether it was admitted and the oldest second kept, from which a
# refused attempt's Retry-After follows. Also the first part of the vote's own statement
# (services.ballot_insert_and_count). Parameters: address hash, the attempt's second, now,
# limit, window in seconds.
ATTEMPT = (
    f"INSERT INTO {RecentVoteAttempts._meta.db_table} AS recent"
    " (address_hash, admitted_at, admitted_count, last_attempt_at, last_admitted_at)"
    " VALUES (%s::varchar(64), ARRAY[%s::timestamptz], ARRAY[1], %s::timestamptz,"
    " %s::timestamptz)"
    " ON CONFLICT (address_hash) DO UPDATE SET"
    " (admitted_at, admitted_count, last_admitted_at, last_attempt_at) = ("
    "  WITH kept AS (SELECT at, n FROM unnest(recent.admitted_at, recent.admitted_count)"
    "    AS log (at, n) WHERE at > excluded.last_attempt_at - make_interval(secs => %s::integer)),"
    "   decision AS (SELECT coalesce(sum(n), 0) < %s::integer AS admit FROM kept),"
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


# The share of attempts that also delete the addresses quiet for a whole window: an extra
# query for one attempt in a hundred.
TRIM_CHANCE = 0.01


@dataclass(frozen=True)
class Attempt:
    """One attempt from an address, ready to be counted by ATTEMPT."""

    params: list
    seconds: int
    now: datetime

    def decision(self, admitted: bool, oldest: datetime) -> RateDecision:
        if random.random() < TRIM_CHANCE:
            # Addresses quiet for a whole window have nothing left to count; trimming now and
            # then keeps the table small.
            too_old = self.now - timedelta(seconds=self.seconds)
            RecentVoteAttempts.objects.filter(last_attempt_at__lt=too_old).delete()
        # A refused attempt may try again once the oldest admitted one leaves the window. Its
        # second was rounded up, which may put that a fraction of a second past a whole
        # window from now: the reader is never told to wait longer than the window.
        frees_at = oldest + timedelta(seconds=self.seconds)
        wait = math.ceil((frees_at - self.now).total_seconds())
        retry_after = min(self.seconds, max(1, wait))
        return RateDecision(allowed=admitted, retry_after=retry_after)


def attempt_params(address: str) -> Attempt:
    limit, seconds = settings.VOTE_RATE_LIMIT
    at = now()
    second = at.replace(microsecond=0) + timedelta(seconds=1 if at.microsecond else 0)
    return Attempt([address_hash(address), second, at, at, seconds, limit], seconds, at)


def vote_attempt_register(address: str) -> RateDecision:
    attempt = attempt_params(address)
    with prepared_cursor() as cursor:
        cursor.execute(ATTEMPT, attempt.params)
        admitted, oldest = cursor.fetchone()
    return attempt.decision(admitted, oldest)
