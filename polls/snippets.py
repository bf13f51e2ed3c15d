"""The HTML an editor pastes into another site to embed a poll."""

from django.utils.html import escape

from polls.models import Poll


def embed_snippets(poll: Poll, site_origin: str) -> dict[str, str]:
    """The script loader, the plain iframe and the poll URL for oEmbed, for `site_origin`
    (scheme and host, e.g. "https://polls.example", no trailing slash)."""
    site = escape(site_origin.rstrip("/"))
    slug = escape(poll.slug)
    question = escape(poll.question)
    return {
        "script": (
            f'<div data-poll="{slug}" data-poll-src="{site}"></div>'
            f'<script src="{site}/embed.js" async></script>'
        ),
        "iframe": (
            f'<iframe src="{site}/polls/{slug}/embed/" title="Reader poll: {question}" '
            f'width="100%" height="420" style="border:0;max-width:640px" loading="lazy"></iframe>'
        ),
        "oembed_url": f"{site}/polls/{poll.slug}/",
    }
