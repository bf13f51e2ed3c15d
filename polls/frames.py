"""Our pages inside other sites' pages: which of them may be framed, the widget's own message
when it cannot show its poll, and the one cross-origin caller we answer (the widget's script in
a sandboxed frame). See docs/embedding.md."""

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.csp import CSP
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csp import csp_override

# The policy of the pages that the allowed origins may frame: one dict, which Django's
# csp_override holds for every frameable view (decorated once, not per request), kept current
# when a test changes the settings it is made of.
FRAMEABLE_POLICY: dict = {}


@receiver(setting_changed)
def frameable_policy_update(*, setting: str = "", **kwargs) -> None:
    if setting in ("", "SECURE_CSP", "EMBED_ALLOWED_ORIGINS"):
        FRAMEABLE_POLICY.clear()
        FRAMEABLE_POLICY.update(settings.SECURE_CSP)
        origins = settings.EMBED_ALLOWED_ORIGINS
        # And our own pages: the admin previews the widget in each theme.
        FRAMEABLE_POLICY["frame-ancestors"] = origins if "*" in origins else [*origins, CSP.SELF]


frameable_policy_update()


def frameable(view):
    """Let the allowed origins frame this view's pages; every other page refuses framing."""
    return csp_override(FRAMEABLE_POLICY)(xframe_options_exempt(view))


def widget_message(message: str, *, status: int) -> HttpResponse:
    """A widget that cannot show its poll (unknown, not published, the database down) says so
    in the widget's own style inside the publisher's article, not with the browser's error
    box. Rendered without the database or a request: the middleware answers with it too, from
    outside any view, so the framing decorators wrap a page of its own here."""

    @frameable
    def message_page(_request: HttpRequest | None) -> HttpResponse:
        context = {"message": message, "SITE_NAME": settings.SITE_NAME}
        body = render_to_string("polls/embed_message.html", context)
        response = HttpResponse(body, status=status)
        response["Cache-Control"] = "no-store"
        return response

    return message_page(None)


def poll_unavailable_message() -> str:
    return _("This poll is not available. It may have been removed, or not published yet.")


def is_sandboxed_fetch(request: HttpRequest) -> bool:
    """True for a script's fetch from a document without an origin of its own: our widget in a
    frame its host sandboxed without allow-same-origin (WordPress's oEmbed iframe).

    The browser sets all three headers itself; no page can forge them from a reader's browser.
    A form posted from such a frame is a navigation (Sec-Fetch-Mode: navigate), never matches.
    """
    # META, not request.headers, on every vote's path: building that mapping of every header
    # cost more than the few read here.
    meta = request.META
    return (
        meta.get("HTTP_ORIGIN") == "null"
        and meta.get("HTTP_SEC_FETCH_MODE") == "cors"
        and meta.get("HTTP_SEC_FETCH_DEST") == "empty"
    )


def wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.META.get("HTTP_ACCEPT", "")


def allow_sandboxed_widget(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """CORS for exactly one caller: the widget's script in a sandboxed frame (Origin: null),
    with credentials, so its partitioned voter cookie travels. Nothing else gets CORS here."""
    response["Vary"] = "Origin"
    # Also while sandboxed votes are off: the widget must be able to read why it was refused.
    if is_sandboxed_fetch(request):
        response["Access-Control-Allow-Origin"] = "null"
        response["Access-Control-Allow-Credentials"] = "true"
    return response
