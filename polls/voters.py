"""Who votes, without an account: the reader's voter id, and the single-use vote tokens that
carry it to the vote.

Each reader gets a random voter id in a signed, long-lived cookie (in a frame, a partitioned one
of the widget's own). The database only ever sees a keyed hash of it (HMAC with the server's
secret), and a unique constraint on (poll, voter hash) makes one ballot per reader per poll.

Every vote form carries a signed, poll-bound, time-limited, single-use token, the widget's and
our own pages' alike, instead of Django's CSRF cookie: inside a cross-site iframe the browser
withholds our cookies, and on our own pages a cookie would make every page personal, so that no
cache could share it. The signature proves we issued the token, the payload binds it to one poll
(and, from the token endpoints, to the reader they gave a voter id), the timestamp bounds its
life, and its random nonce is stored on the ballot it casts, where a unique constraint refuses a
second use.

A kept page holds a slot where the token goes, filled with a fresh one per response; the
scripts fetch another just before they vote, as a page a shared cache served may be a copy.
"""

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from polls.models import Poll

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


@dataclass(frozen=True)
class Voter:
    """The reader a request comes from: the one our cookie names (in a frame, the widget's
    partitioned cookie), or a new voter id where it names none. The token endpoints give a new
    id with the token, before the vote, so that a retried vote is the same reader's."""

    voter_id: str
    voter_hash: str
    known: bool  # our cookie named them
    framed: bool  # the widget's reader

    @classmethod
    def of(cls, request: HttpRequest, *, framed: bool) -> "Voter":
        cookie_voter = embed_voter_id(request) if framed else voter_id_from(request)
        voter_id = cookie_voter or new_voter_id()
        return cls(voter_id, voter_hash(voter_id), cookie_voter is not None, framed)

    def remember(self, response: HttpResponse) -> None:
        """Set (or refresh) the reader's cookie in this answer."""
        if self.framed:
            remember_embed_voter(response, self.voter_id)
        else:
            remember_voter(response, self.voter_id)


# The vote token.

TOKEN_SALT = "polls.embed-vote-token"
TOKEN_MAX_AGE_SECONDS = 2 * 60 * 60
# Stands in for the token in a kept page; every response gets a fresh token in its place.
SLOT = "pollsite-vote-token-slot"


class BadVoteToken(Exception):
    """The token is missing, forged, for another poll, or expired; the message is for readers."""


def vote_token_issue(poll: Poll, voter_hash: str | None = None) -> str:
    """A token for this poll; the token endpoints also bind it to the reader they gave it to
    (their voter id's hash), so that it votes for that reader only."""
    payload = {"poll": poll.pk, "nonce": secrets.token_urlsafe(16)}
    if voter_hash:
        payload["voter"] = voter_hash
    return signing.dumps(payload, salt=TOKEN_SALT)


def vote_token_check(token: str, poll: Poll) -> tuple[str, str | None]:
    """Return the token's nonce and the voter it was given to (None for a token in a page), if
    it was issued by us for this poll and has not expired."""
    if not token:
        raise BadVoteToken(_("The voting form is incomplete. Reload the poll and try again."))
    try:
        payload = signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE_SECONDS)
    except signing.SignatureExpired:
        raise BadVoteToken(_("This voting form has expired. Please vote again.")) from None
    except signing.BadSignature:
        raise BadVoteToken(
            _("This voting form is not valid. Reload the poll and try again.")
        ) from None
    if not isinstance(payload, dict) or payload.get("poll") != poll.pk:
        raise BadVoteToken(_("This voting form belongs to another poll."))
    nonce, voter = payload.get("nonce"), payload.get("voter")
    if not isinstance(nonce, str) or not nonce or not isinstance(voter, str | None):
        raise BadVoteToken(_("This voting form is not valid. Reload the poll and try again."))
    return nonce, voter


@dataclass(frozen=True)
class TokenCheck:
    """What a vote's token decides: its nonce (stored with the ballot, so that it votes once)
    and who votes, or why it cannot vote, as a message for the reader."""

    nonce: str | None = None
    voter_hash: str | None = None
    refusal: str = ""


def vote_token_nonce(
    token: str, poll: Poll, *, cookie_voter_hash: str | None, cookie_required: bool = False
) -> TokenCheck:
    """The check every vote makes, and who the voter is, decided once, before the vote.

    The reader's cookie names them; a token bound to another reader is refused, so that one
    reader cannot vote with tokens fetched as many. Without the cookie, the voter is the one the
    token was given to, except where cookie_required: a sandboxed page's script chooses whether
    to send cookies, and would otherwise be a new reader at every token it fetched.
    """
    try:
        nonce, token_voter = vote_token_check(token, poll)
    except BadVoteToken as refusal:
        return TokenCheck(refusal=str(refusal))
    if cookie_voter_hash is None and cookie_required:
        return TokenCheck(
            refusal=_(
                "Your browser did not send this poll's cookie, so your vote cannot be "
                "counted here. Open the poll on our site to vote."
            )
        )
    if token_voter and cookie_voter_hash and token_voter != cookie_voter_hash:
        return TokenCheck(
            refusal=_("This voting form is not valid. Reload the poll and try again.")
        )
    return TokenCheck(nonce=nonce, voter_hash=cookie_voter_hash or token_voter)


def with_fresh_vote_token(page: bytes, poll: Poll) -> bytes:
    """The kept page with a fresh token in its slot (a page without a form has none)."""
    if SLOT.encode() not in page:
        return page
    return page.replace(SLOT.encode(), vote_token_issue(poll).encode())


def is_cross_site_post(request: HttpRequest) -> bool:
    """True for a form posted by another site: only our own documents may vote.

    Browsers send Origin and Sec-Fetch-Site with every POST; clients that send neither get no
    ambient credentials to abuse, and still need a valid single-use token.
    """
    fetch_site = request.META.get("HTTP_SEC_FETCH_SITE")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return True
    origin = request.META.get("HTTP_ORIGIN")
    if origin is not None:
        return origin != f"{request.scheme}://{request.get_host()}"
    return False
