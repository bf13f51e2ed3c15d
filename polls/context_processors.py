from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest


def site_origin(request: HttpRequest) -> str:
    """The site's origin for absolute links: SITE_URL when set. The Host header is the
    client's to choose, and a link built from it may be cached and served to everyone."""
    return settings.SITE_URL or f"{request.scheme}://{request.get_host()}"


def site(request: HttpRequest) -> dict:
    try:
        origin = site_origin(request)
    except DisallowedHost:  # the 400 page for that very host: no absolute links on it
        origin = ""
    return {"SITE_NAME": settings.SITE_NAME, "SITE_ORIGIN": origin}
