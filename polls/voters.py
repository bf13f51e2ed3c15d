"""Who a reader is, without an account.

Each reader gets a random voter id in a signed, long-lived cookie. The database only ever sees a
keyed hash of it (HMAC with the server's secret), and a unique constraint on (poll, voter hash)
makes one ballot per reader per poll.
"""

import secrets

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import salted_hmac

COOKIE_SALT = "polls.voter-cookie"


def voter_id_from(request: HttpRequest) -> str | None:
    try:
        return request.get_signed_cookie(settings.VOTER_COOKIE_NAME, salt=COOKIE_SALT)
    except (KeyError, signing.BadSignature):
        return None


def new_voter_id() -> str:
    return secrets.token_urlsafe(18)


def voter_hash(voter_id: str) -> str:
    return salted_hmac("polls.voter-hash", voter_id, algorithm="sha256").hexdigest()


def remember_voter(response: HttpResponse, voter_id: str) -> None:
    response.set_signed_cookie(
        settings.VOTER_COOKIE_NAME,
        voter_id,
        salt=COOKIE_SALT,
        max_age=settings.VOTER_COOKIE_MAX_AGE,
        secure=settings.SECURE_COOKIES,
        httponly=True,
        samesite="Lax",
    )


def give_voter_id(request: HttpRequest, response: HttpResponse) -> None:
    """Give a reader their voter id before they vote, unless they have one (views.voter_id).

    Should the vote's answer be lost after its ballot committed (a worker killed mid-response),
    the reader's retry then carries the same id and is refused as a repeat, not counted twice.
    """
    if voter_id_from(request) is None:
        remember_voter(response, new_voter_id())
