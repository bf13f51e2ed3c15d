"""Which theme and colour scheme a widget is shown in: its look.

The embed names them in the widget's address (?theme=slug&scheme=light|dark|auto), which the
loader, the iframe snippet and oEmbed write; otherwise the theme is the one of the site that
embeds it (the host page's origin, from the Referer browsers send for a frame), else the
default theme, else the widget's own look. The look is part of the kept page's key and of the
ETag, never a cookie, so every reader of one address on one site gets the same page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from django.http import HttpRequest
from django.urls import reverse

from polls import poll_cache
from polls.models import Theme

SCHEMES = ("light", "dark", "auto")
SLUG = re.compile(r"[-a-zA-Z0-9_]{1,60}")


@dataclass(frozen=True)
class ThemeBook:
    """Every theme, found by slug and by the site that uses it."""

    by_slug: dict[str, Theme] = field(default_factory=dict)
    by_origin: dict[str, Theme] = field(default_factory=dict)
    default: Theme | None = None

    @classmethod
    def load(cls) -> ThemeBook:
        themes = list(Theme.objects.all())
        return cls(
            by_slug={theme.slug: theme for theme in themes},
            by_origin={origin: theme for theme in themes for origin in theme.host_origins},
            default=next((theme for theme in themes if theme.is_default), None),
        )


def theme_book() -> ThemeBook:
    return poll_cache.polls.kept_themes(ThemeBook.load)


@dataclass(frozen=True)
class Look:
    theme: Theme | None  # None: the widget's own look
    scheme: str  # "light", "dark" or "auto" (the reader's setting)
    # The theme was chosen by the site that embeds the widget: the page varies by Referer.
    by_site: bool = False

    @property
    def key(self) -> tuple:
        return (self.theme.slug if self.theme else "", self.scheme)

    @property
    def fingerprint(self) -> list:
        """What the ETag adds for this look: nothing for the widget's own look, so that its
        ETags stay as they were."""
        if self.theme is None and self.scheme == "auto":
            return []
        if self.theme is None:
            return [self.scheme]
        return [self.theme.slug, self.theme.version, self.scheme]

    @property
    def stylesheet_url(self) -> str:
        if self.theme is None:
            return ""
        url = reverse("polls:theme_css", args=[self.theme.slug])
        return f"{url}?v={self.theme.version}"

    @property
    def color_scheme(self) -> str:
        """The page's color-scheme: both, unless the look picks one."""
        return "light dark" if self.scheme == "auto" else self.scheme

    @property
    def query(self) -> str:
        """The look as the widget's form carries it, so that a vote without JavaScript is
        answered in the same look (that request's Referer is the widget, not its host)."""
        asked = {}
        if self.theme is not None:
            asked["theme"] = self.theme.slug
        if self.scheme != (self.theme.color_scheme if self.theme else "auto"):
            asked["scheme"] = self.scheme
        return "?" + urlencode(asked) if asked else ""


def host_origin(request: HttpRequest) -> str:
    """The origin of the page that framed the widget: browsers send it as the Referer of a
    frame from another site (all of it, or its origin only, as the host's policy says)."""
    try:
        parts = urlsplit(request.headers.get("Referer", ""))
        if parts.scheme in ("http", "https") and parts.hostname:
            port = f":{parts.port}" if parts.port else ""
            return f"{parts.scheme}://{parts.hostname}{port}"
    except ValueError:  # a malformed port or address: no origin
        pass
    return ""


def widget_look(request: HttpRequest) -> Look:
    """The look the request asks for; a theme or scheme it names that does not exist (or is
    malformed) is passed over for the site's or the default one."""
    book = theme_book()
    asked = request.GET.get("theme", "")
    theme = book.by_slug.get(asked) if SLUG.fullmatch(asked) else None
    by_site = False
    if theme is None:
        site_theme = book.by_origin.get(host_origin(request))
        # Whenever some site has a theme of its own, a page that names none depends on its host.
        by_site = bool(book.by_origin)
        theme = site_theme or book.default
    scheme = request.GET.get("scheme", "")
    if scheme not in SCHEMES:
        scheme = theme.color_scheme if theme else "auto"
    return Look(theme, scheme, by_site)
