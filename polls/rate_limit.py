"""Vote attempts per client network, counted in PostgreSQL (no other service needed).

VOTE_RATE_LIMIT is N/W: each network (an IPv4 address, an IPv6 /64) may make at most N attempts
in any W seconds, counted with a sliding log of its admitted attempts, counted per second, one
upsert per attempt. The admin's sign-in throttle counts the same networks
(polls/sign_in_throttle.py).
"""

import ipaddress
import math
import random
import re
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
    """The socket's address, or the one our reverse proxies vouch for, in canonical form.

    Each proxy appends the address it received the request from to X-Forwarded-For. Walking
    that list from the right, an entry is believed only while the hop that wrote it is one of
    TRUSTED_PROXIES, and at most TRUSTED_PROXY_COUNT hops back: a client that reaches gunicorn
    directly, or writes its own X-Forwarded-For, is known by the address it connects from.
    An entry that is not an address at all ("unknown", garbage) is not believed either: the
    request is known by the hop that wrote it, so that no string buys a budget of its own.
    """
    remote_addr = request.META.get("REMOTE_ADDR", "")
    address = address_parse(remote_addr)
    if address is None:
        # Not a client's doing: gunicorn on a Unix socket, say. All such requests are one.
        return remote_addr
    forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",")]
    forwarded = [part for part in forwarded if part]
    for _ in range(settings.TRUSTED_PROXY_COUNT):
        if not forwarded or not is_trusted_proxy(address):
            break
        named = address_parse(forwarded.pop())
        if named is None:
            break
        address = named
    return str(address)


# "[2001:db8::1]:443" and "192.0.2.1:4711": an address with a port, as some proxies write it.
WITH_PORT = re.compile(r"\[(?P<bracketed>[^]]+)\](?::\d{1,5})?|(?P<ipv4>[\d.]+):\d{1,5}")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def address_parse(text: str) -> Address | None:
    """The address that text names, however it is written, or None if it names none.

    A port and an IPv6 zone ("%eth0") are dropped, and an IPv4-mapped IPv6 address
    (::ffff:192.0.2.1, as a dual-stack socket reports IPv4 clients) is the IPv4 address.
    """
    text = text.strip()
    if match := WITH_PORT.fullmatch(text):
        text = match["bracketed"] or match["ipv4"]
    try:
        address = ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def is_trusted_proxy(address: Address) -> bool:
    return any(address in network for network in settings.TRUSTED_PROXIES)


def client_network(address: str) -> str:
    """What the rate limit and the sign-in throttle count as one client: an IPv4 address, or
    the /64 an IPv6 address is in (every IPv6 host is given a /64 and may use any address in it,
    a new one per request if it likes)."""
    parsed = address_parse(address)
    if parsed is None:
        return address  # client_address() gives only addresses; a caller's own label stays
    if parsed.version == 6:
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def address_hash(address: str) -> str:
    """The keyed hash of the address's network: all that is stored about it."""
    return salted_hmac(
        "polls.client-address", client_network(address), algorithm="sha256"
    ).hexdigest()


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
