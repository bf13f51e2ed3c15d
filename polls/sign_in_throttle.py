"""What django-axes, the admin's sign-in throttle, is told about a client and what it keeps.

Axes counts failed sign-ins per username and client network, like the vote rate limit, and keeps
neither the client's address nor the form it posted (README, "Sign-in throttling").
"""

import functools
import ipaddress

from axes.helpers import get_lockout_response
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models.signals import pre_save
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from polls.rate_limit import address_hash, client_address

# Axes keeps the address in an inet column (GenericIPAddressField), where the 64 characters of
# a keyed hash do not fit. It is given a stand-in instead: the first 64 bits of the network's
# keyed hash (the vote rate limit's), under the IPv6 prefix reserved for discarding traffic,
# which no client can have: nobody mistakes it for a reader's address, and without SECRET_KEY
# it says nothing about one. Two networks that shared a stand-in would share their failures;
# with 64 bits, that takes billions of networks.
STAND_IN_PREFIX = ipaddress.IPv6Network("100::/64")


def address_stand_in(address: str) -> str:
    return str(STAND_IN_PREFIX[int(address_hash(address)[:16], 16)])


def sign_in_address(request: HttpRequest) -> str:
    """The address axes records and counts a sign-in under (AXES_CLIENT_IP_CALLABLE)."""
    return address_stand_in(client_address(request))


@receiver(pre_save, sender=AccessAttempt)
def access_attempt_forget_the_form(instance: AccessAttempt, **kwargs) -> None:
    """Axes would keep the query and the form of each failed sign-in, all but the password:
    the CSRF token (from which the CSRF cookie can be worked out) and whatever fields an
    attacker adds. The throttle needs neither, and axes has no setting to leave them out."""
    instance.get_data = ""
    instance.post_data = ""


def expired_attempts_forget() -> int:
    """Delete the failed sign-ins whose cool-off has passed; returns how many.

    Axes deletes them itself only at the next sign-in, sign-out or failure, which may never
    come: the username someone typed would stay for good. Each worker's upkeep runs this."""
    threshold = timezone.now() - settings.AXES_COOLOFF_TIME
    deleted, _ = AccessAttempt.objects.filter(attempt_time__lte=threshold).delete()
    return deleted


def lockout_page(view):
    """The sign-in view, with axes's lockout page (429) for a locked-out sign-in.

    What axes's middleware does, on the one view where anyone signs in instead of on every
    request: the throttle itself is axes's authentication backend, which refuses a locked-out
    pair wherever authenticate() is called, and marks the request for this page."""

    @functools.wraps(view)
    def sign_in(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if settings.AXES_ENABLED and getattr(request, "axes_locked_out", False):
            credentials = getattr(request, "axes_credentials", None)
            response = get_lockout_response(request, response, credentials)
        return response

    return sign_in
