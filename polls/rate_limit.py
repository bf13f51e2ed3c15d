"""Vote attempts per client address, counted in PostgreSQL (no other service needed).

Fixed windows: each address may make VOTE_RATE_LIMIT attempts per window; one upsert per
attempt counts it and returns the running total atomically, whatever worker handles it.
"""

import ipaddress
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac

from polls.models import VoteRateWindow
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


def window_start(now: datetime, seconds: int) -> datetime:
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=now.tzinfo)


# Counts one attempt and returns the running total atomically, whatever worker runs it. Also the
# first part of the vote's own statement (services.ballot_insert_and_count).
ATTEMPT = (
    f"INSERT INTO {VoteRateWindow._meta.db_table} (address_hash, window_start, attempts)"
    " VALUES (%s::varchar(64), %s::timestamptz, 1)"
    " ON CONFLICT (address_hash, window_start)"
    f" DO UPDATE SET attempts = {VoteRateWindow._meta.db_table}.attempts + 1"
    " RETURNING attempts"
)


@dataclass(frozen=True)
class Attempt:
    """One attempt from an address, ready to be counted by ATTEMPT."""

    params: list
    limit: int
    seconds: int
    now: datetime
    window_ends: datetime

    def decision(self, attempts: int) -> RateDecision:
        if random.random() < 0.01:
            # Past windows are useless; trimming now and then keeps the table small.
            too_old = self.now - timedelta(seconds=self.seconds)
            VoteRateWindow.objects.filter(window_start__lt=too_old).delete()
        retry_after = max(1, int((self.window_ends - self.now).total_seconds()))
        return RateDecision(allowed=attempts <= self.limit, retry_after=retry_after)


def attempt_params(address: str) -> Attempt:
    limit, seconds = settings.VOTE_RATE_LIMIT
    now = timezone.now()
    start = window_start(now, seconds)
    ends = start + timedelta(seconds=seconds)
    return Attempt([address_hash(address), start], limit, seconds, now, ends)


def vote_attempt_register(address: str) -> RateDecision:
    attempt = attempt_params(address)
    with prepared_cursor() as cursor:
        cursor.execute(ATTEMPT, attempt.params)
        (attempts,) = cursor.fetchone()
    return attempt.decision(attempts)
