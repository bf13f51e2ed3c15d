import logging
import re

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
WIDGET_PATH = re.compile(r"^/polls/[^/]+/embed/(vote/)?$")


class DatabaseUnavailableMiddleware:
    """While PostgreSQL is unreachable, answer 503 with a clear message instead of a 500 trace.

    Nothing is half-done: a vote's ballot and count commit together or not at all. Persistent
    connections are health-checked before reuse, so requests succeed again as soon as the
    database is back, without restarting the app.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.warning(
            "Database unavailable for %s %s: %s", request.method, request.path, exception
        )
        # Imported here: the embed views need the app registry, which middleware must not.
        from polls import embed_views

        wants_json = (
            request.path.startswith("/api/")
            or request.path in ("/oembed", "/oembed/")
            or request.path.endswith("/embed/token/")
            or embed_views.wants_json(request)
        )
        # Imported here too: services imports the models.
        from polls.services import VoteUnconfirmed

        unconfirmed = isinstance(exception, VoteUnconfirmed)
        if unconfirmed:
            message = gettext(
                "We could not confirm your vote: it may have been counted. Reload the poll in a "
                "few seconds to see whether it was."
            )
        else:
            message = gettext("The poll is briefly unavailable. Please try again in a few seconds.")
        if wants_json:
            # "message" is what the widget shows its reader.
            response = JsonResponse({"error": message, "message": message}, status=503)
            embed_views.allow_sandboxed_widget(request, response)
        elif WIDGET_PATH.search(request.path):
            # Inside a publisher's article: a message in the widget's style, not a refusal to
            # be framed.
            response = embed_views.widget_message(message, status=503)
        else:
            response = HttpResponse(
                render_to_string("503.html", {"unconfirmed": unconfirmed}), status=503
            )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        response["Cache-Control"] = "no-store"
        return response


class PrivateUnlessSharedMiddleware:
    """A response is private to its reader unless its view says every reader gets the same.

    Most of our pages read the reader's cookies: "Your vote" on the results and article pages,
    the thank-you message, the CSRF token in a form. Without Cache-Control, a shared cache
    (a CDN, a corporate proxy) may keep such a page and hand it to the next reader. Views whose
    responses are the same for everyone (the widget, its JSON, oEmbed, the loader script) say
    so with their own public Cache-Control, which is left alone, as is WhiteNoise's on static
    files (it answers before this middleware).
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            patch_cache_control(response, private=True)
        return response
