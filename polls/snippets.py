"""What publishers paste into their CMS to show a poll on their own pages."""

from urllib.parse import urlencode

from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from polls.models import Poll


def iframe_snippet(site: str, poll: Poll, *, width: int | str = "100%", height: int = 440):
    """The plain iframe, for CMSs that strip scripts; it works with JavaScript off too."""
    return format_html(
        '<iframe src="{}" title="{}" width="{}" height="{}" loading="lazy" '
        'style="border:0;max-width:100%"></iframe>',
        site + reverse("polls:embed", args=[poll.slug]),
        f"Reader poll: {poll.question}",
        width,
        height,
    )


def loader_snippet(site: str, poll: Poll) -> SafeString:
    """The script loader: sizes the widget to its content, several polls per page."""
    return format_html(
        '<div data-poll="{}"></div>\n<script src="{}" async></script>',
        poll.slug,
        site + reverse("embed_js"),
    )


def embed_snippets(site: str, poll: Poll) -> dict[str, str]:
    """The snippets are HTML; templates that show them as text must escape them (force_escape)."""
    return {
        "loader": loader_snippet(site, poll),
        "iframe": iframe_snippet(site, poll),
        "url": site + poll.get_absolute_url(),
        "oembed": site
        + reverse("oembed")
        + "?"
        + urlencode({"url": site + poll.get_absolute_url(), "format": "json"}),
    }
