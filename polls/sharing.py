"""How a poll travels: its share card (the og:image of its pages, a 1200 x 630 PNG drawn with
Pillow), and the links readers share it with.

The card shows what the results page shows and nothing more: no figure while the results are
held back until the close or before the first vote, shares without counts. It never shows a
count at all, so that it changes only when a whole percentage does: under a burst of votes it
is drawn once per change of what it shows and worker, not once per vote, and not per request.

Fonts ship in polls/fonts/: Noto Sans (Latin, Greek, Cyrillic), Noto Sans Arabic and Noto
Sans Hebrew. Chinese, Japanese and Korean are drawn with a system font where one is installed
(the Dockerfile installs Debian's fonts-droid-fallback); without one they show as empty boxes.
Each text is split into runs by the font that has its characters, so an Arabic question with a
Latin name in it draws both. With libraqm (Pillow's wheels carry it; it needs FriBiDi, Debian's
libfribidi0) right-to-left text is shaped and ordered; without it, right-to-left runs are
reversed, legible for Hebrew but with Arabic letters unjoined (check: polls.W003).
"""

from __future__ import annotations

import io
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import astuple, dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_safe
from PIL import Image, ImageDraw, ImageFont, features

from polls import contrast, poll_cache
from polls.context_processors import site_origin
from polls.models import Poll, PollResults, Theme
from polls.shared_responses import (
    fingerprint_etag,
    kept_etag,
    poll_description,
    shared_response,
)
from polls.themes import theme_book

CARD_WIDTH, CARD_HEIGHT = 1200, 630
# Raised when the card's drawing changes: every card gets a new ETag, and caches let go.
DRAWING_VERSION = 1
FONTS = Path(__file__).resolve().parent / "fonts"
# CJK fonts of the system, first found wins: Debian's fonts-droid-fallback, fonts-noto-cjk.
CJK_FONT_PATHS = (
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
)
SHAPES_TEXT = features.check("raqm")
LAYOUT = ImageFont.Layout.RAQM if SHAPES_TEXT else ImageFont.Layout.BASIC
# Cards kept per worker (by ETag and site): a few hundred polls' cards in a few tens of MB.
KEPT_CARDS = 256


@dataclass(frozen=True)
class CardColours:
    background: str
    text: str
    muted: str
    accent: str
    track: str
    fill: str
    leading_fill: str
    line: str


# The site's colours, as the widget's (static/embed/widget.css) in its light scheme.
SITE_COLOURS = CardColours(
    background="#ffffff",
    text="#1b1f23",
    muted="#57606a",
    accent="#0b5cad",
    track="#eef2f6",
    fill="#cfe0f2",
    leading_fill="#9fc3ea",
    line="#d0d7de",
)


def card_colours(poll: Poll) -> CardColours:
    """The colours of a poll's card and newsletter block: the default theme's, in its own
    colour scheme (light unless it is dark-first), else the site's. A card is one picture for
    every site that shares it, so no site's own theme applies. Part of the card's ETag."""
    theme = theme_book().default
    if theme is None:
        return SITE_COLOURS
    colours = theme.colours("dark" if theme.color_scheme == Theme.Scheme.DARK else "light")
    background, accent = colours["bg"], colours["accent"]
    return CardColours(
        background=background,
        text=colours["fg"],
        muted=colours["muted"],
        accent=accent,
        track=colours["track"],
        fill=contrast.mix(accent, background, 0.25),
        leading_fill=contrast.mix(accent, background, 0.45),
        line=colours["line"],
    )


# --- fonts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Typeface:
    regular: Path
    bold: Path


def typefaces() -> list[Typeface]:
    """The fonts a text is drawn with, in the order they are tried for each character."""
    faces = [
        Typeface(FONTS / "NotoSans-Regular.ttf", FONTS / "NotoSans-Bold.ttf"),
        Typeface(FONTS / "NotoSansArabic-Regular.ttf", FONTS / "NotoSansArabic-Bold.ttf"),
        Typeface(FONTS / "NotoSansHebrew-Regular.ttf", FONTS / "NotoSansHebrew-Bold.ttf"),
    ]
    cjk = next((path for path in CJK_FONT_PATHS if path.exists()), None)
    if cjk:
        faces.append(Typeface(cjk, cjk))
    return faces


FACES = typefaces()


@lru_cache(maxsize=256)
def font(face: int, size: int, bold: bool) -> ImageFont.FreeTypeFont:
    typeface = FACES[face]
    return ImageFont.truetype(
        typeface.bold if bold else typeface.regular, size, layout_engine=LAYOUT
    )


@lru_cache(maxsize=8192)
def covers(face: int, character: str) -> bool:
    """Whether this font has a glyph for the character: its drawing differs from the font's
    "missing glyph" box (Pillow reads no character map)."""
    probe = probe_font(face)
    return glyph_image(probe, character) != glyph_image(probe, "\U000f0000")


@lru_cache(maxsize=16)
def probe_font(face: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(FACES[face].regular, 24, layout_engine=ImageFont.Layout.BASIC)


def glyph_image(probe: ImageFont.FreeTypeFont, character: str) -> tuple:
    mask = probe.getmask(character)
    return mask.size, bytes(mask)


# Characters without a direction of their own (spaces, digits, punctuation, combining marks):
# they stay in the run around them while its font has them.
WEAK_OR_NEUTRAL = {"WS", "ON", "CS", "ES", "ET", "EN", "AN", "BN", "NSM", "S", "B"}


def face_for(character: str, current: int | None) -> int:
    if (
        current is not None
        and unicodedata.bidirectional(character) in WEAK_OR_NEUTRAL
        and covers(current, character)
    ):
        return current
    return next((face for face in range(len(FACES)) if covers(face, character)), 0)


def font_runs(text: str) -> list[tuple[str, int]]:
    """The text cut where the font that has its characters changes, in reading order."""
    runs: list[tuple[str, int]] = []
    for character in text:
        face = face_for(character, runs[-1][1] if runs else None)
        if runs and runs[-1][1] == face:
            runs[-1] = (runs[-1][0] + character, face)
        else:
            runs.append((character, face))
    return runs


def direction(text: str, default: str = "ltr") -> str:
    """The direction of a text's first strong character (the Unicode rule for a paragraph)."""
    for character in text:
        kind = unicodedata.bidirectional(character)
        if kind == "L":
            return "ltr"
        if kind in ("R", "AL"):
            return "rtl"
    return default


# --- text in boxes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Style:
    size: int
    bold: bool = False


def run_width(run: str, face: int, style: Style, paragraph: str) -> float:
    font_ = font(face, style.size, style.bold)
    if SHAPES_TEXT:
        return font_.getlength(run, direction=direction(run, paragraph))
    return font_.getlength(run)


def text_width(text: str, style: Style) -> float:
    paragraph = direction(text)
    return sum(run_width(run, face, style, paragraph) for run, face in font_runs(text))


def wrapped(text: str, style: Style, width: float, max_lines: int) -> list[str]:
    """The text in lines no wider than width, words kept whole where they fit (a word wider
    than a line, or a sentence without spaces as Chinese is written, is cut between
    characters), at most max_lines: the last one cut short with an ellipsis."""
    lines: list[str] = []
    line = ""
    for word in re.findall(r"\S+\s*", " ".join(text.split())):
        if text_width(line + word.rstrip(), style) <= width:
            line += word
            continue
        if line:
            lines.append(line.rstrip())
            line = ""
        for character in word:
            if line and text_width(line + character, style) > width:
                lines.append(line.rstrip())
                line = ""
            line += character.lstrip() if not line else character
    if line.strip():
        lines.append(line.rstrip())
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], shortened(" ".join(lines[max_lines - 1 :]), style, width)]
    return [shortened(line, style, width) for line in lines]


def shortened(text: str, style: Style, width: float) -> str:
    """The text, cut with an ellipsis where it is wider than width."""
    if text_width(text, style) <= width:
        return text
    while text and text_width(text.rstrip() + "…", style) > width:
        text = text[:-1]
    return text.rstrip() + "…"


# --- the card --------------------------------------------------------------------------------


@dataclass
class Card:
    """A card being drawn. Every text goes through write(), which keeps what it wrote: tests
    read it to prove that no figure was drawn where the page shows none."""

    colours: CardColours
    image: Image.Image = field(init=False)
    draw: ImageDraw.ImageDraw = field(init=False)
    texts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.image = Image.new("RGB", (CARD_WIDTH, CARD_HEIGHT), self.colours.background)
        self.draw = ImageDraw.Draw(self.image)

    def write(
        self, text: str, style: Style, colour: str, *, left: float, right: float, top: float
    ) -> None:
        """One line of text between left and right, at the side its direction starts from.
        A line of several fonts is laid out run by run, in its paragraph's direction."""
        self.texts.append(text)
        paragraph = direction(text)
        runs = font_runs(text)
        widths = [run_width(run, face, style, paragraph) for run, face in runs]
        x = right if paragraph == "rtl" else left
        # One baseline for every run (Latin's): Arabic and Hebrew fonts have other ascents.
        baseline = top + font(0, style.size, style.bold).getmetrics()[0]
        for (run, face), width in zip(runs, widths, strict=True):
            if paragraph == "rtl":
                x -= width
            options = {"direction": direction(run, paragraph)} if SHAPES_TEXT else {}
            shown = run if SHAPES_TEXT or direction(run, paragraph) == "ltr" else run[::-1]
            font_ = font(face, style.size, style.bold)
            self.draw.text((x, baseline), shown, font=font_, fill=colour, anchor="ls", **options)
            if paragraph == "ltr":
                x += width

    def png(self) -> bytes:
        # In 256 colours, undithered: it looks the same (flat colours, antialiased text) at
        # 40 % of the bytes, which every social site, mail client and CDN fetches.
        palette = self.image.quantize(256, Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        buffer = io.BytesIO()
        palette.save(buffer, "PNG")
        return buffer.getvalue()


MARGIN = 64
FOOTER_TOP = CARD_HEIGHT - 58
CHOICES_BOTTOM = FOOTER_TOP - 18


def card_shows_figures(poll: Poll, results: PollResults) -> bool:
    """Whether the card draws bars and percentages: as the results page shows them, and not
    before the first vote (a row of zeros tells nobody anything)."""
    return not poll.results_withheld() and results.total > 0


def card_layout(question: str, choices: int) -> tuple[Style, list[str], float, float]:
    """The question's size and lines, and the room for the choices below it with the gap
    between rows: the largest question that leaves the rows tall enough to read."""
    width = CARD_WIDTH - 2 * MARGIN
    gap = 12 if choices <= 5 else 6
    for size, max_lines, least_row in ((54, 3, 56), (46, 3, 48), (40, 2, 40), (34, 2, MIN_ROW)):
        style = Style(size, bold=True)
        lines = wrapped(question, style, width, max_lines)
        room = CHOICES_BOTTOM - (QUESTION_TOP + len(lines) * line_height(size) + 22)
        if (room - gap * (choices - 1)) / max(choices, 1) >= least_row:
            break
    return style, lines, room, gap


def rows_that_fit(results: PollResults, figures: bool, room: float, gap: float) -> tuple:
    """The rows drawn, their height, and how many answers did not fit. With more answers than
    rows of MIN_ROW fit, the card shows those with the most votes where it shows figures, else
    the first ones, and says how many more there are on a row of its own."""
    rows = results.rows
    height = (room - gap * (len(rows) - 1)) / max(len(rows), 1)
    if height >= MIN_ROW:
        return rows, min(height, 64), 0
    fitting = int((room + gap) // (MIN_ROW + gap)) - 1
    if figures:
        rows = sorted(rows, key=lambda row: row.votes, reverse=True)
    return rows[:fitting], MIN_ROW, len(rows) - fitting


MIN_ROW = 28
QUESTION_TOP = 84


def line_height(size: int) -> int:
    return round(size * 1.28)


def draw_card(poll: Poll, results: PollResults, site: str) -> Card:
    colours = card_colours(poll)
    card = Card(colours)
    rtl = direction(poll.question) == "rtl"
    left, right = MARGIN, CARD_WIDTH - MARGIN
    card.draw.rectangle((0, 0, CARD_WIDTH, 10), fill=colours.accent)
    kicker = _("Reader poll · %(site)s") % {"site": settings.SITE_NAME}
    card.write(kicker.upper(), Style(22, bold=True), colours.accent, left=left, right=right, top=34)

    question_style, lines, room, gap = card_layout(poll.question, len(results.rows))
    top = QUESTION_TOP
    for line in lines:
        card.write(line, question_style, colours.text, left=left, right=right, top=top)
        top += line_height(question_style.size)
    top += 22

    figures = card_shows_figures(poll, results)
    rows, row, left_out = rows_that_fit(results, figures, room, gap)
    text_style = Style(max(16, min(28, round(row * 0.46))))
    percent_style = Style(text_style.size, bold=True)
    percent_room = text_width("100%", percent_style) + 24 if figures else 0
    for result in rows:
        box = (left, top, right, top + row)
        card.draw.rounded_rectangle(box, radius=8, fill=colours.track)
        if figures and result.percent:
            filled = (right - left) * result.percent / 100
            fill = colours.leading_fill if result.leading else colours.fill
            span = (
                (right - filled, top, right, top + row)
                if rtl
                else (left, top, left + filled, top + row)
            )
            card.draw.rounded_rectangle(span, radius=8, fill=fill)
        text_top = top + (row - line_height(text_style.size)) / 2
        inner_left, inner_right = left + 18, right - 18
        text_left = inner_left + (percent_room if rtl else 0)
        text_right = inner_right - (0 if rtl else percent_room)
        choice_style = Style(text_style.size, bold=figures and result.leading)
        text = shortened(result.choice.text, choice_style, text_right - text_left)
        card.write(text, choice_style, colours.text, left=text_left, right=text_right, top=text_top)
        if figures:
            percent = f"{result.percent}%"
            width = text_width(percent, percent_style)
            x = inner_left if rtl else inner_right - width
            card.write(percent, percent_style, colours.text, left=x, right=x + width, top=text_top)
        top += row + gap

    if left_out:
        more = ngettext("and %(count)d more answer", "and %(count)d more answers", left_out)
        card.write(
            more % {"count": left_out},
            text_style,
            colours.muted,
            left=left + 18,
            right=right,
            top=top,
        )

    footer = Style(22)
    card.write(urlsplit(site).netloc, footer, colours.muted, left=left, right=right, top=FOOTER_TOP)
    # The footer is in the reader's language, whichever way the poll's texts run.
    status = card_status(poll, results)
    width = text_width(status, Style(22, bold=True))
    x = right - width
    card.write(
        status, Style(22, bold=True), colours.accent, left=x, right=x + width, top=FOOTER_TOP
    )
    return card


def card_status(poll: Poll, results: PollResults) -> str:
    if poll.results_withheld():
        return _("Results when the poll closes")
    if poll.is_closed():
        return _("Final results")
    if results.total == 0:
        return _("Be the first to vote")
    return _("Vote and see the results")


def card_etag(poll: Poll, results: PollResults, site: str) -> str:
    """Everything the card draws, so that its ETag changes exactly when it does."""
    figures = (
        [(row.percent, row.leading) for row in results.rows]
        if card_shows_figures(poll, results)
        else []
    )
    colours = astuple(card_colours(poll))
    drawn = [DRAWING_VERSION, settings.SITE_NAME, site, colours, figures]
    return fingerprint_etag([*poll_description(poll, results), *drawn])


class KeptCards:
    """The PNGs this worker drew, by their ETag: a vote that changes no percentage leaves the
    card's ETag, and so its PNG, as it was. Kept apart from poll_cache's pages, which go with
    every vote that changes a count; an ETag says all a card shows, so none is ever stale."""

    def __init__(self, size: int = KEPT_CARDS) -> None:
        self._lock = threading.Lock()
        self._cards: OrderedDict[str, bytes] = OrderedDict()
        self.size = size

    def png(self, etag: str, draw: Callable[[], bytes]) -> bytes:
        with self._lock:
            if etag in self._cards:
                self._cards.move_to_end(etag)
                return self._cards[etag]
        png = draw()
        with self._lock:
            self._cards[etag] = png
            while len(self._cards) > self.size:
                self._cards.popitem(last=False)
        return png

    def clear(self) -> None:
        with self._lock:
            self._cards.clear()


kept_cards = KeptCards()


@require_safe
def share_card(request: HttpRequest, slug: str) -> HttpResponse:
    """The poll's card, for social sites and chat previews (og:image) and newsletters: shared
    by every reader, answered with 304 while it is unchanged."""
    poll = poll_cache.shared_poll_or_404(slug)
    site = site_origin(request)
    etag = kept_etag(request, poll, "card", lambda: card_etag(poll, poll.results(), site))

    def build() -> HttpResponse:
        png = kept_cards.png(etag, lambda: draw_card(poll, poll.results(), site).png())
        return HttpResponse(png, content_type="image/png")

    return shared_response(request, etag, build)


# --- share links -----------------------------------------------------------------------------


FACEBOOK = "https://www.facebook.com/sharer/sharer.php?"
LINKEDIN = "https://www.linkedin.com/sharing/share-offsite/?"


@dataclass(frozen=True)
class ShareLink:
    network: str
    label: str
    url: str


def share_links(site: str, poll: Poll) -> list[ShareLink]:
    """Links that share the poll's page on the common networks, by their own share addresses:
    no script or pixel of theirs on our pages."""
    url = site + poll.get_absolute_url()
    question = poll.question
    return [
        ShareLink(
            "x", "X", "https://x.com/intent/tweet?" + urlencode({"text": question, "url": url})
        ),
        ShareLink("facebook", "Facebook", FACEBOOK + urlencode({"u": url})),
        ShareLink("linkedin", "LinkedIn", LINKEDIN + urlencode({"url": url})),
        ShareLink(
            "whatsapp", "WhatsApp", "https://wa.me/?" + urlencode({"text": f"{question} {url}"})
        ),
        ShareLink("email", _("Email"), f"mailto:?subject={quote(question)}&body={quote(url)}"),
    ]


def card_url(site: str, poll: Poll) -> str:
    return site + reverse("polls:share_card", args=[poll.slug])
