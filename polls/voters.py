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


# The widget's reader: a cookie of its own, partitioned per host site (see docs/embedding.md).
EMBED_VOTER_COOKIE = "pollsite_embed_voter"
EMBED_VOTER_SALT = "polls.embed-voter-cookie"


def embed_voter_signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=EMBED_VOTER_SALT)


def embed_voter_id(request: HttpRequest) -> str | None:
    try:
        return embed_voter_signer().unsign(request.COOKIES[EMBED_VOTER_COOKIE])
    except (KeyError, signing.BadSignature):
        return None


def remember_embed_voter(response: HttpResponse, voter_id: str) -> None:
    """A partitioned (CHIPS) cookie: kept by browsers that block third-party cookies, but only
    for this widget on this host site, so it cannot track a reader across sites.

    Django's set_cookie has no Partitioned attribute yet, so the header is written (and the
    value signed) here; the widget's vote responses set no other cookie.
    """
    value = embed_voter_signer().sign(voter_id)
    response["Set-Cookie"] = (
        f"{EMBED_VOTER_COOKIE}={value}; Max-Age={settings.VOTER_COOKIE_MAX_AGE}; "
        "Path=/polls/; Secure; HttpOnly; SameSite=None; Partitioned"
    )
