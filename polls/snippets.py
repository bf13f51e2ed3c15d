"""What publishers paste into their CMS to show a poll on their own pages, and how tall it is.

Many hosts never resize the frame they are given: Drupal's media oEmbed frame, Ghost's embed
card and the plain iframe keep the height we declare. So the height is worked out from the
poll's own texts, for its tallest state (the form, or the results after a vote), by the same
box model as static/embed/widget.css. Where a host makes the frame narrower or shorter than
declared, the widget compacts itself to fit (widget.js).
"""

import math
from datetime import datetime
from urllib.parse import urlencode

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from polls.models import Ballot, Poll
from polls.sharing import card_colours, card_url

DEFAULT_WIDTH = 600
# The plain iframe fills its column: sized for a phone-to-column width in between, where the
# widget's compact layout covers narrower frames and wider ones simply have room to spare.
SNIPPET_SIZING_WIDTH = 500
MIN_WIDTH, MIN_HEIGHT = 280, 200
# Average advance of a character, in em, of the widget's fonts (system-ui for choices,
# Georgia for the question), measured in Chromium over English and German poll texts.
SANS_EM, SERIF_EM = 0.52, 0.55
# The integrity line under the results, with room for its longest translation.
INTEGRITY_CHARACTERS = 150


def opening_notice(poll: Poll, now: datetime | None = None) -> str:
    """What a scheduled poll's widget says until the poll opens, in the site's time zone, named:
    "This poll opens tomorrow at 07:00 CET." """
    now = timezone.localtime(now or timezone.now())
    opens = timezone.localtime(poll.opens_at)
    clock = date_format(opens, "H:i T")
    days = (opens.date() - now.date()).days
    if days == 0:
        return _("This poll opens today at %(time)s.") % {"time": clock}
    if days == 1:
        return _("This poll opens tomorrow at %(time)s.") % {"time": clock}
    day = date_format(opens, "l, F j, Y")
    return _("This poll opens on %(day)s at %(time)s.") % {"day": day, "time": clock}


def text_lines(text: str, width: float, font_px: float, em: float) -> int:
    """Lines a text wraps to: words are kept whole, so a line is filled to about 90 %."""
    per_line = max(1, int(width * 0.9 / (font_px * em)))
    return max(1, math.ceil(len(text) / per_line))


def widget_height(poll: Poll, width: int) -> int:
    """The widget's height at this width, in its tallest state."""
    width = max(MIN_WIDTH, width)
    content = width - 32  # .widget's padding
    frame = 4 + 16 + 25  # accent border, top padding, kicker
    question_px = min(21, max(17, 0.045 * width))
    question = text_lines(poll.question, content, question_px, SERIF_EM) * question_px * 1.3 + 12
    choices = poll.ordered_choices()
    texts = [choice.text for choice in choices]
    # A choice: 10 px padding and 1 px border around, a 20 px radio and a 10 px gap beside.
    form = sum(22 + text_lines(text, content - 56, 16, SANS_EM) * 23.2 + 8 for text in texts)
    form += 56  # the Vote button and its margin
    if poll.allows_several_answers:
        form += 25  # "Pick up to N answers."
    if any(choice.is_write_in for choice in choices):
        form += 110  # the write-in box under "Other": its label, field and hint
    # A result: its text beside the figures ("100% 1,234 votes"), then the bar.
    results = sum(text_lines(text, content - 130, 16, SANS_EM) * 23.2 + 28 for text in texts)
    results += (
        12
        + 31 * (2 if poll.allows_several_answers else 1)
        + text_lines("x" * INTEGRITY_CHARACTERS, content, 13, SANS_EM) * 19
        + 27
    )
    if poll.shows_results_before_voting:
        # Until the reader votes, the results stand under the form, 16 px below it.
        form += 16 + results
    results += 51  # the thank-you notice above, after a vote
    tallest = max(form, results) + question + frame + 16
    return math.ceil(tallest * 1.04)


def oembed_size(poll: Poll, maxwidth: int | None, maxheight: int | None) -> tuple[int, int]:
    """oEmbed's width and height: never larger than the consumer's maximums (the spec)."""
    width = min(DEFAULT_WIDTH, maxwidth or DEFAULT_WIDTH)
    height = widget_height(poll, width)
    if maxheight:
        height = min(height, maxheight)
    return width, height


def frame_title(poll: Poll) -> str:
    return _("Reader poll: %(question)s") % {"question": poll.question}


def iframe_snippet(site: str, poll: Poll, *, height: int | None = None) -> SafeString:
    """The plain iframe, for CMSs that strip scripts; it works with JavaScript off too."""
    if height is None:
        height = widget_height(poll, SNIPPET_SIZING_WIDTH)
    return format_html(
        '<iframe src="{}" title="{}" width="100%" height="{}" loading="lazy" '
        'style="border:0;max-width:100%"></iframe>',
        site + reverse("polls:embed", args=[poll.slug]),
        frame_title(poll),
        height,
    )


def oembed_html(site: str, poll: Poll, *, height: int, look_query: str = "") -> SafeString:
    """oEmbed's html: a link to the poll, the iframe, and the loader.

    The link in a <blockquote> comes first: WordPress keeps it, shows it until the widget has
    spoken, and loads its resizing script only when it is there. Hosts that paste the html as
    it is (Ghost) run the loader, which hides the link and sizes the frame; hosts that strip
    scripts still have a frame of the declared height.

    The frame is as wide as the host's column, never a fixed width: WordPress strips the style
    attribute (wp_filter_oembed_result keeps only src, width, height, title, frameborder,
    marginwidth, marginheight and scrolling), so a max-width there would not keep a fixed
    width from overflowing a phone. For the same reason frameborder="0" is what takes the
    browser's inset border off there.

    look_query: the theme and colour scheme the consumer asked for (?theme=…&scheme=…), which
    the frame's address carries.
    """
    return format_html(
        '<blockquote class="pollsite-fallback"><a href="{}">{}</a></blockquote>'
        '<iframe src="{}" title="{}" width="100%" height="{}" frameborder="0" loading="lazy" '
        'style="border:0;max-width:100%"></iframe><script src="{}" async></script>',
        site + poll.get_absolute_url(),
        poll.question,
        site + reverse("polls:embed", args=[poll.slug]) + look_query,
        frame_title(poll),
        height,
        site + reverse("embed_js"),
    )


def loader_snippet(site: str, poll: Poll) -> SafeString:
    """The script loader: sizes the widget to its content, several polls per page. The link
    inside the div is what readers get where the script does not run."""
    return format_html(
        '<div data-poll="{}"><a href="{}">{}</a></div>\n<script src="{}" async></script>',
        poll.slug,
        site + poll.get_absolute_url(),
        poll.question,
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


def newsletter_choice_url(site: str, poll: Poll, choice_id: int) -> str:
    """Our poll page with this answer picked, its vote to be tagged as the newsletter's."""
    query = urlencode({"choice": choice_id, "source": Ballot.Source.NEWSLETTER})
    return f"{site}{poll.get_absolute_url()}?{query}"


def newsletter_block(site: str, poll: Poll, *, with_results: bool) -> SafeString:
    """The poll for a newsletter: email clients run no script and no frame, so each answer is a
    link that opens our poll page with it picked, where the reader's Vote counts it. A link
    alone never votes: mail scanners and link previews open every link. with_results adds the
    share card ("results so far"), drawn when the mail is opened."""
    context = {
        "poll": poll,
        "site_name": settings.SITE_NAME,
        "colours": card_colours(poll),
        "choices": [
            (choice.text, newsletter_choice_url(site, poll, choice.pk))
            for choice in poll.form_choices()
        ],
        "results_url": site + poll.get_results_url(),
        "card_url": card_url(site, poll) if with_results else "",
    }
    return mark_safe(render_to_string("polls/newsletter_block.html", context).strip())
