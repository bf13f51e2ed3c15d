"""Vote attempts per client address, counted in PostgreSQL (no other service needed).

Fixed windows: each address may make VOTE_RATE_LIMIT attempts per window; one upsert per
attempt counts it and returns the running total atomically, whatever worker handles it.
"""

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
    """The socket's address, unless TRUSTED_PROXY_COUNT proxies sit in front of us.

    Each trusted proxy appends the address it received the request from to X-Forwarded-For,
    so the client is the entry that many places from the right. Anything further left was
    written by the client itself and buys nothing.
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")


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
