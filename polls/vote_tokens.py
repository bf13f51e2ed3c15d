"""Signed, poll-bound, time-limited, single-use vote tokens for the embedded widget.

Inside a cross-site iframe the browser withholds our first-party cookies, so Django's CSRF
cookie is unavailable. The widget's form carries one of these tokens instead: the signature
proves we issued it, the payload binds it to one poll, the timestamp bounds its life, and its
random nonce is stored on the ballot it casts, where a unique constraint refuses a second use.
"""

import secrets

from django.core import signing
from django.utils.translation import gettext as _

from polls.models import Poll

SALT = "polls.embed-vote-token"
MAX_AGE_SECONDS = 2 * 60 * 60


class BadVoteToken(Exception):
    """The token is missing, forged, for another poll, or expired; the message is for readers."""


def vote_token_issue(poll: Poll) -> str:
    return signing.dumps({"poll": poll.pk, "nonce": secrets.token_urlsafe(16)}, salt=SALT)


def vote_token_check(token: str, poll: Poll) -> str:
    """Return the token's nonce if it was issued by us for this poll and has not expired."""
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
    nonce = payload.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        raise BadVoteToken(_("This voting form is not valid. Reload the poll and try again."))
    return nonce
