"""oEmbed (https://oembed.com): a publisher's CMS turns a poll's URL into the widget's iframe."""

import re
from urllib.parse import parse_qs, urlencode, urlsplit

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.http import require_safe

from polls.context_processors import site_origin
from polls.models import Poll
from polls.snippets import oembed_html, oembed_size
from polls.themes import SCHEMES, SLUG


class OEmbedError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def positive_dimension(request: HttpRequest, name: str) -> int | None:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return None
    # ASCII digits only: str.isdigit() also accepts "²" and "٣", which int() then refuses or
    # reads as another number.
    if not re.fullmatch(r"[0-9]{1,6}", raw) or int(raw) <= 0:
        raise OEmbedError(400, f"{name} must be a positive whole number of pixels.")
    return int(raw)


def poll_from_url(request: HttpRequest, url: str) -> Poll:
    if not url:
        raise OEmbedError(400, "The url parameter is required.")
    try:
        parts = urlsplit(url)
        hostname, netloc, _port = parts.hostname, parts.netloc, parts.port
    except ValueError:  # "http://[::1/polls/x/" (an unclosed IPv6 address), a port over 65535
        raise OEmbedError(400, "The url parameter is not a valid URL.") from None
    if parts.scheme not in ("http", "https") or hostname is None:
        raise OEmbedError(404, "That URL is not a poll on this site.")
    ours = {request.get_host(), urlsplit(site_origin(request)).netloc}
    if not (hostname in settings.ALLOWED_HOSTS or netloc in ours):
        raise OEmbedError(404, "That URL is not a poll on this site.")
    try:
        match = resolve(parts.path)
    except Resolver404:
        raise OEmbedError(404, "That URL is not a poll on this site.") from None
    if match.url_name not in ("detail", "results", "embed") or match.namespace != "polls":
        raise OEmbedError(404, "That URL is not a poll on this site.")
    # A scheduled poll too: a partner embeds it ahead, and its widget says when it opens.
    slug = match.kwargs["slug"]
    poll = (Poll.objects.visible() | Poll.objects.scheduled()).filter(slug=slug).first()
    if poll is None:
        raise OEmbedError(404, "That URL is not a poll on this site.")
    return poll


def look_query(request: HttpRequest, url: str) -> str:
    """The theme and colour scheme for the frame's address: the consumer's theme and scheme
    parameters, or those of the poll's URL as pasted (https://…/polls/x/?theme=dusk). A theme
    that does not exist is passed on (the widget falls back to the site's or the default
    theme); a malformed value is refused."""
    pasted = parse_qs(urlsplit(url).query)
    asked = {}
    for name, is_valid in (("theme", SLUG.fullmatch), ("scheme", SCHEMES.__contains__)):
        value = request.GET.get(name) or pasted.get(name, [""])[0]
        if value and not is_valid(value):
            if name == "theme":
                raise OEmbedError(400, "theme must be a theme's short name (letters, digits, -).")
            raise OEmbedError(400, "scheme must be light, dark or auto.")
        if value:
            asked[name] = value
    return "?" + urlencode(asked) if asked else ""


@require_safe
def oembed(request: HttpRequest) -> JsonResponse:
    """oEmbed provider (https://oembed.com), type "rich": the widget in an iframe, sized for
    its tallest state at the width asked for."""
    try:
        if request.GET.get("format", "json") != "json":
            raise OEmbedError(501, "Only the json format is supported.")
        maxwidth = positive_dimension(request, "maxwidth")
        maxheight = positive_dimension(request, "maxheight")
        poll = poll_from_url(request, request.GET.get("url", ""))
        look = look_query(request, request.GET.get("url", ""))
    except OEmbedError as error:
        return JsonResponse({"error": str(error)}, status=error.status)
    width, height = oembed_size(poll, maxwidth, maxheight)
    site = site_origin(request)
    response = JsonResponse(
        {
            "version": "1.0",
            "type": "rich",
            "title": poll.question,
            "provider_name": settings.SITE_NAME,
            "provider_url": site + "/",
            "cache_age": 3600,
            "width": width,
            "height": height,
            "html": oembed_html(site, poll, height=height, look_query=look),
        }
    )
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "public, max-age=3600"
    return response
