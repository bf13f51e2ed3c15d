"""Vote attempts per client network, counted in PostgreSQL (no other service needed).

VOTE_RATE_LIMIT is N/W: each network (an IPv4 address, an IPv6 /64) may make at most N attempts
in any W seconds, counted with a sliding log of its admitted attempts, counted per second, one
upsert per attempt. The admin's sign-in throttle counts the same networks
(polls/sign_in_throttle.py).
"""

import functools
import ipaddress
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.http import HttpRequest
from django.utils.crypto import salted_hmac
from django.utils.timezone import now

from polls import statements
from polls.models import RecentVoteAttempts


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
    # META, not request.headers: the beacon's view reads no other header that would pay for
    # building that mapping.
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
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


# Cached: every request asks for its address, and a reader (or a proxy) sends many.
@functools.lru_cache(maxsize=4096)
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


@functools.lru_cache(maxsize=4096)
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
    return network_hash(client_network(address), settings.SECRET_KEY)


# Cached: a reader's every vote hashes the same network. The secret is part of the key, so a
# new one is never answered with a hash made under the old.
@functools.lru_cache(maxsize=4096)
def network_hash(network: str, secret: str) -> str:
    return salted_hmac("polls.client-address", network, secret, algorithm="sha256").hexdigest()


@dataclass(frozen=True)
class Attempt:
    """One attempt from a network, ready to be counted by statements.ATTEMPT."""

    params: dict
    seconds: int
    now: datetime

    def decision(self, admitted: bool, oldest: datetime) -> RateDecision:
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
    params = {
        "address_hash": address_hash(address),
        "second": second,
        "now": at,
        "window": seconds,
        "limit": limit,
    }
    return Attempt(params, seconds, at)


def vote_attempt_register(address: str) -> RateDecision:
    attempt = attempt_params(address)
    with statements.prepared_cursor() as cursor:
        cursor.execute(statements.ATTEMPT, attempt.params)
        admitted, oldest = cursor.fetchone()
    return attempt.decision(admitted, oldest)


def quiet_networks_trim() -> int:
    """Drop the networks quiet for a whole window: they have nothing left to count. Run by each
    worker's upkeep thread (polls/upkeep.py), off the vote's path; returns how many went."""
    too_old = now() - timedelta(seconds=settings.VOTE_RATE_LIMIT[1])
    deleted, _ = RecentVoteAttempts.objects.filter(last_attempt_at__lt=too_old).delete()
    return deleted
