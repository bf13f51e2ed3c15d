"""Signed, poll-bound, time-limited, single-use vote tokens: what proves a vote form is ours.

Every vote form carries one, the widget's and our own pages' alike, instead of Django's CSRF
cookie: inside a cross-site iframe the browser withholds our cookies, and on our own pages a
cookie would make every page personal, so that no cache could share it. The signature proves we
issued the token, the payload binds it to one poll, the timestamp bounds its life, and its
random nonce is stored on the ballot it casts, where a unique constraint refuses a second use.

A kept page holds a slot where the token goes, filled with a fresh one per response; the
scripts fetch another just before they vote, as a page a shared cache served may be a copy.
"""

import secrets
from dataclasses import dataclass

from django.core import signing
from django.http import HttpRequest
from django.utils.translation import gettext as _

from polls.models import Poll

SALT = "polls.embed-vote-token"
MAX_AGE_SECONDS = 2 * 60 * 60
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
    return signing.dumps(payload, salt=SALT)


def vote_token_check(token: str, poll: Poll) -> tuple[str, str | None]:
    """Return the token's nonce and the voter it was given to (None for a token in a page), if
    it was issued by us for this poll and has not expired."""
    if not token:
        raise BadVoteToken(_("The voting form is incomplete. Reload the poll and try again."))
    try:
        payload = signing.loads(token, salt=SALT, max_age=MAX_AGE_SECONDS)
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
