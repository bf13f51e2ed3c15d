import codecs
import functools
import logging
from collections.abc import Callable

from django.conf import settings
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages import middleware as messages_middleware
from django.contrib.messages.storage import default_storage
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.exceptions import BadRequest, ImproperlyConfigured
from django.core.signals import request_started
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.middleware import csp
from django.template.loader import render_to_string
from django.urls import Resolver404, resolve
from django.utils import translation
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.csp import CSP
from django.utils.functional import SimpleLazyObject, empty
from django.utils.http import parse_header_parameters
from django.utils.translation import gettext

from polls import frames

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
# Views whose callers read an error in a form of their own (error_answer), by URL name.
WIDGET_VIEWS = {"polls:embed", "polls:embed_vote"}
JSON_VIEWS = {"polls:api_results", "polls:embed_token", "oembed"}


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
        # Imported here: services imports the models, which middleware must not.
        from polls.services import VoteUnconfirmed

        unconfirmed = isinstance(exception, VoteUnconfirmed)
        if unconfirmed:
            message = gettext(
                "We could not confirm your vote: it may have been counted. Reload the poll in a "
                "few seconds to see whether it was."
            )
        else:
            message = gettext("The poll is briefly unavailable. Please try again in a few seconds.")
        response = error_answer(
            request,
            message,
            503,
            lambda: HttpResponse(
                render_to_string("503.html", {"unconfirmed": unconfirmed}), status=503
            ),
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


def error_answer(
    request: HttpRequest, message: str, status: int, page: Callable[[], HttpResponse]
) -> HttpResponse:
    """An error in the form its caller reads, never kept: JSON for scripts (the widget's shows
    "message"; the sandboxed widget gets the CORS it needs to read it), the widget's own message
    inside a publisher's article rather than a refusal to be framed, else our page."""
    if answers_in_json(request):
        response = JsonResponse({"ok": False, "error": message, "message": message}, status=status)
        frames.allow_sandboxed_widget(request, response)
    elif view_name(request) in WIDGET_VIEWS:
        response = frames.widget_message(message, status=status)
    else:
        response = page()
    response["Cache-Control"] = "no-store"
    return response


def answers_in_json(request: HttpRequest) -> bool:
    """Whether the caller of this request reads its answer as JSON: our JSON endpoints, and
    the scripts (ours on our pages, the widget's in a publisher's) that ask for it."""
    return view_name(request) in JSON_VIEWS or frames.wants_json(request)


def view_name(request: HttpRequest) -> str | None:
    """The URL name of the view this request is for: the resolver's match once Django has
    resolved it, else resolved here (only an error answered before any view asks)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return None
    return match.view_name


# Where a Content-Type that no view could read is kept, out of Django's way (see below).
UNREADABLE_CONTENT_TYPE = "pollsite.unreadable_content_type"


class UnusableInputMiddleware:
    """A 400 for a request no view can use, before anything reads its body or parameters.

    - A Content-Type (of any request) whose charset is not a text encoding, or unknown:
      Django decodes the query string and a multipart form's fields in that charset, and for
      rot13, zlib or base64 Python refuses ("is not a text encoding"), a 500. Also one that
      Django cannot parse (too long, an RFC 2231 value in an unknown encoding).
    - NUL in a query parameter: PostgreSQL text cannot hold it, so a search or filter on it
      fails (the admin's searches, its autocomplete); no reader or editor ever sends one.

    The answer is in the form its caller reads: JSON with the widget's CORS for scripts, the
    widget's own message inside a publisher's page, else our 400 page. Placed after the
    middleware that set security headers, so that the 400 carries them like any answer.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        # Django builds the request before any middleware runs, and already decodes the query
        # string in the Content-Type's charset while doing so (Django 6.1: the setter of
        # HttpRequest.encoding); a header it cannot parse raises there too. Both escape
        # Django's error handling: the WSGI server answers a bare 500. So the header is set
        # aside when the request starts, and refused here.
        request_started.connect(set_aside_unreadable_content_type, dispatch_uid=__name__)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if UNREADABLE_CONTENT_TYPE in request.META or (
            request.META.get("QUERY_STRING") and has_nul(request.GET)
        ):
            return refusal(request)
        return self.get_response(request)


def set_aside_unreadable_content_type(sender, environ: dict, **kwargs) -> None:
    """Moves a Content-Type that no view could read out of the request's way: without it, the
    body is no form, and nothing decodes anything in its charset."""
    content_type = environ.get("CONTENT_TYPE", "")  # none in an ASGI scope
    if content_type and not readable_content_type(content_type):
        environ[UNREADABLE_CONTENT_TYPE] = environ.pop("CONTENT_TYPE")


# Cached: browsers send a handful of spellings ("…;charset=UTF-8" with every beacon and vote),
# and parsing one costs more than the beacon's own work; least recently used ones go.
@functools.lru_cache(maxsize=1024)
def readable_content_type(header: str) -> bool:
    try:
        _, parameters = parse_header_parameters(header)
    except (ValueError, LookupError):  # too long; an RFC 2231 value in no known text encoding
        return False
    charset = parameters.get("charset")
    if charset is None:  # nearly every request
        return True
    try:
        codec = codecs.lookup(charset)
    except (LookupError, ValueError):  # ValueError: a name with NUL in it
        return False
    return decodes_any_bytes(codec.name)


# Every byte value but the backslash, which the escape codecs (unicode_escape) would read as
# the start of an escape and warn about.
ANY_BYTES = bytes(range(256)).replace(b"\\", b"")


# Keyed by the codec's own name, so the cache holds at most one entry per installed codec
# however many spellings callers send.
@functools.cache
def decodes_any_bytes(codec_name: str) -> bool:
    """Whether Python decodes any bytes in this codec, bad ones replaced, as Django does with
    a multipart form's fields. Not so for the codecs that are not text encodings (rot13,
    zlib, base64, hex, bz2, uu, quopri), nor for idna, punycode and "undefined", which
    raise rather than replace."""
    try:
        ANY_BYTES.decode(codec_name, "replace")
    except (LookupError, UnicodeError):
        return False
    return True


def has_nul(parameters: QueryDict) -> bool:
    return any(
        "\x00" in name or any("\x00" in value for value in values)
        for name, values in parameters.lists()
    )


def refusal(request: HttpRequest) -> HttpResponse:
    # Imported here: the views need the app registry, which middleware must not.
    from polls import views

    message = gettext("We could not understand that request")
    return error_answer(
        request, message, 400, lambda: views.bad_request(request, BadRequest(message))
    )


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


def in_admin(request: HttpRequest) -> bool:
    return request.path_info.startswith(ADMIN_PATH)


ADMIN_PATH = "/" + settings.ADMIN_URL


class AdminSessionMiddleware(SessionMiddleware):
    """Django's sessions, for the admin alone: readers have no session (their vote, their
    thank-you and their CSRF token are cookies of their own), so their requests skip it."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not in_admin(request):
            return self.get_response(request)
        return super().__call__(request)


class AdminAuthenticationMiddleware(AuthenticationMiddleware):
    """Django's signed-in user, for the admin alone: no reader's page reads request.user (the
    templates' "user" is then the anonymous one)."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not in_admin(request):
            return self.get_response(request)
        return super().__call__(request)


class LocaleMiddleware:
    """Django's LocaleMiddleware for a site whose URLs carry no language prefix: the reader's
    language from their cookie or Accept-Language, else LANGUAGE_CODE; Vary and
    Content-Language on the answer.

    Django's (6.1) also looks for a language code in every path, with i18n_patterns or without:
    "/polls/..." reads as the code "polls", which is looked up and refused, twice per request,
    and a refusal is never cached. That was a fifth of a bare request's instructions
    (bench/middleware_cost.py).
    """

    def __init__(self, get_response) -> None:
        if is_language_prefix_patterns_used(settings.ROOT_URLCONF)[0]:
            raise ImproperlyConfigured(
                "URLs with a language prefix (i18n_patterns) need Django's LocaleMiddleware."
            )
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        translation.activate(translation.get_language_from_request(request))
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        patch_vary_headers(response, ("Accept-Language",))
        response.headers.setdefault("Content-Language", translation.get_language())
        return response


class ContentSecurityPolicyMiddleware(csp.ContentSecurityPolicyMiddleware):
    """Django's, with the policy built once per process for the responses nearly all of ours
    are: the setting's policy, and no nonce used. Any other (a view's own policy, a nonce a
    template used) is built per response by Django's code, as before.

    A seam into Django's internals, mirroring 6.1: csp_override and csp_report_only_override
    mark a response with _csp_config and _csp_ro_config, which Django's middleware reads. Should
    an upgrade rename them, the widget would get the site's frame-ancestors 'none', and
    tests/test_embed.py (the widget's own policy) fails first."""

    def __init__(self, get_response) -> None:
        super().__init__(get_response)
        self.policy = csp.build_policy(settings.SECURE_CSP) if settings.SECURE_CSP else ""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if (
            self.policy
            and not settings.SECURE_CSP_REPORT_ONLY
            and not hasattr(response, "_csp_config")
            and not hasattr(response, "_csp_ro_config")
            and not csp.get_nonce(request)
        ):
            response.headers.setdefault(str(CSP.HEADER_ENFORCE), self.policy)
            return response
        return super().process_response(request, response)


class MessageMiddleware(messages_middleware.MessageMiddleware):
    """Django's messages (the thank-you after a vote, the admin's notes), with their cookie
    store set up only when a view or template first uses it: most requests carry no message
    and add none, and the store's signer costs every request that sets it up.

    A seam into Django's internals, mirroring 6.1: the store lives in request._messages, where
    django.contrib.messages' add_message and get_messages look for it. The thank-you after a
    vote (tests/test_views.py, tests/test_accessibility.py) goes through it."""

    def process_request(self, request: HttpRequest) -> None:
        request._messages = SimpleLazyObject(lambda: default_storage(request))

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if getattr(request, "_messages", None) is None or request._messages._wrapped is empty:
            return response  # never used: nothing read, nothing to store
        return super().process_response(request, response)
