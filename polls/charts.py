"""What the admin shows about a poll's votes: over time, and where they were cast.

Queries aggregate in PostgreSQL; the charts are drawn here as plain SVG (no JavaScript, no
charting library) so they work in any browser and print as they look.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Count
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from polls.models import Ballot, Poll, whole_percentages

HOURLY_PERIOD = timedelta(days=2)


@dataclass(frozen=True)
class Bucket:
    start: datetime
    end: datetime
    votes: int


@dataclass(frozen=True)
class VotesOverTime:
    hourly: list[Bucket]
    daily: list[Bucket]

    @property
    def total(self) -> int:
        return sum(b.votes for b in self.hourly) + sum(b.votes for b in self.daily)


def votes_over_time(poll: Poll, now: datetime | None = None) -> VotesOverTime:
    """Votes per hour for the first two days after the poll opened, then per day.

    Empty hours and days are included (with 0 votes) up to now, or up to the close of the poll,
    so the charts' time axis has no gaps. Days are days in the site's time zone.
    """
    now = now or timezone.now()
    tz = timezone.get_current_timezone()
    # Hours are counted in UTC (an hour is an hour across a DST change), days in the site's zone.
    first_hour = poll.opens_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    hourly_until = first_hour + HOURLY_PERIOD
    ballots = Ballot.objects.filter(poll=poll)
    last_vote = ballots.order_by("-cast_at").values_list("cast_at", flat=True).first()
    end = min(now, poll.closes_at) if poll.closes_at else now
    end = max(end, last_vote) if last_vote else end
    if end <= poll.opens_at:
        return VotesOverTime(hourly=[], daily=[])

    per_hour = dict(
        ballots.filter(cast_at__lt=hourly_until)
        .annotate(bucket=TruncHour("cast_at", tzinfo=UTC))
        .values_list("bucket")
        .annotate(votes=Count("id"))
    )
    hourly = []
    start = first_hour
    while start < min(end, hourly_until):
        hourly.append(Bucket(start, start + timedelta(hours=1), per_hour.get(start, 0)))
        start += timedelta(hours=1)

    daily = []
    if end > hourly_until:
        per_day = dict(
            ballots.filter(cast_at__gte=hourly_until)
            .annotate(bucket=TruncDay("cast_at", tzinfo=tz))
            .values_list("bucket")
            .annotate(votes=Count("id"))
        )
        day = hourly_until.astimezone(tz).replace(hour=0, minute=0)
        while day < end:
            next_day = day + timedelta(days=1)  # wall-clock arithmetic: the next midnight
            daily.append(Bucket(max(day, hourly_until), next_day, per_day.get(day, 0)))
            day = next_day
    return VotesOverTime(hourly=hourly, daily=daily)


@dataclass(frozen=True)
class SourceRow:
    label: str
    detail: str
    votes: int
    percent: int


def votes_by_source(poll: Poll) -> list[SourceRow]:
    """Where the votes were cast: our poll page, each article, each site embedding the widget,
    newsletters."""
    groups = (
        Ballot.objects.filter(poll=poll)
        .values_list("source", "article__title", "host_origin")
        .annotate(votes=Count("id"))
        .order_by("-votes", "source", "article__title", "host_origin")
    )
    labelled = []
    for source, article_title, host_origin, votes in groups:
        if source == Ballot.Source.ARTICLE:
            label, detail = "Article", article_title or "(article removed)"
        elif source == Ballot.Source.EMBED:
            label, detail = "Embedded widget", host_origin or "(host site unknown)"
        elif source == Ballot.Source.EMBED_SANDBOXED:
            # The browser could not vouch for the host: this is what the widget read.
            label = "Embedded widget, sandboxed host"
            detail = f"{host_origin} (as the widget read it)" if host_origin else "(host unknown)"
        elif source == Ballot.Source.NEWSLETTER:
            # A newsletter's link opened our poll page with the answer picked; the reader voted.
            label, detail = "Newsletter", "Our poll page, from a newsletter link"
        else:
            label, detail = Ballot.Source(source).label, "Our poll page"
        labelled.append((label, detail, votes))
    percents = whole_percentages([votes for _, _, votes in labelled])
    return [
        SourceRow(label, detail, votes, percent)
        for (label, detail, votes), percent in zip(labelled, percents, strict=True)
    ]


def readable_days(days: list[Bucket], most: int = 92) -> tuple[list[Bucket], str]:
    """The daily buckets worth drawing, and their unit ("day" or "week"): the quiet days before
    the first vote and after the last are left out (a poll that ran for three years with a
    week of votes is a week of bars, not a 1-pixel line), and a longer span is drawn by week."""
    voted = [i for i, bucket in enumerate(days) if bucket.votes]
    if not voted:
        return days[-most:], "day"
    days = days[max(voted[0] - 1, 0) : voted[-1] + 2]
    if len(days) <= most:
        return days, "day"
    weeks = [days[i : i + 7] for i in range(0, len(days), 7)]
    return [Bucket(w[0].start, w[-1].end, sum(b.votes for b in w)) for w in weeks], "week"


def votes_from_hidden_frames(poll: Poll) -> list[tuple[str, int]]:
    """Host sites whose widget was hidden, transparent or covered when a reader clicked Vote,
    with the votes readers then confirmed: where a page may be clickjacking the poll."""
    return list(
        Ballot.objects.filter(poll=poll, frame_visibility=Ballot.FrameVisibility.CONFIRMED)
        .values_list("host_origin")
        .annotate(votes=Count("id"))
        .order_by("-votes", "host_origin")
    )


# Drawing. Coordinates are in the SVG's own units; the SVG scales to its container's width.
WIDTH, HEIGHT = 720, 180
LEFT, BOTTOM, TOP = 36, 22, 8
# A bar is never wider than this share of the plot: one bucket is not a full-width block.
FEWEST_SLOTS = 12
LABEL_WIDTH = 100


def bar_chart_svg(buckets: list[Bucket], *, by: str, title: str, unit: str = "vote") -> SafeString:
    """A bar per bucket; `by` is "hour", "day" or "week" and decides the labels. `unit` names
    what a bucket counts: "vote", or "voter" where a ballot holds several answers."""
    plot_width, plot_height = WIDTH - LEFT, HEIGHT - BOTTOM - TOP
    top_votes = max((b.votes for b in buckets), default=0)
    scale_max = max(top_votes, 1)
    slot = plot_width / max(len(buckets), FEWEST_SLOTS)
    # About six labels, each with room for its text ("Nov 29, 2026" is about 80 units wide).
    label_every = max(6 if by == "hour" else round(len(buckets) / 6), math.ceil(LABEL_WIDTH / slot))

    def when(bucket: Bucket) -> str:
        local = timezone.localtime(bucket.start)
        # The zone too: a bar's tooltip is read on its own.
        if by == "hour":
            end = date_format(timezone.localtime(bucket.end), "H:i T")
            return f"{date_format(local, 'M j Y, H:i')} to {end}"
        if by == "week":
            return f"Week of {date_format(local, 'D, M j Y')} ({local.tzinfo})"
        return f"{date_format(local, 'D, M j Y')} ({local.tzinfo})"

    def label(index: int, bucket: Bucket) -> str:
        # The year on every day's label, and on the first of the hours' (two days, one year).
        if by == "hour":
            return date_format(
                timezone.localtime(bucket.start), "M j Y H:i" if index == 0 else "M j H:i"
            )
        return date_format(timezone.localtime(bucket.start), "M j, Y")

    bars = format_html_join(
        "",
        '<rect class="votes-chart__bar" x="{}" y="{}" width="{}" height="{}">'
        "<title>{}: {} {}{}</title></rect>",
        (
            (
                f"{LEFT + i * slot + slot * 0.1:.2f}",
                f"{TOP + plot_height - plot_height * b.votes / scale_max:.2f}",
                f"{slot * 0.8:.2f}",
                f"{plot_height * b.votes / scale_max:.2f}",
                when(b),
                b.votes,
                unit,
                "" if b.votes == 1 else "s",
            )
            for i, b in enumerate(buckets)
        ),
    )
    labels = format_html_join(
        "",
        '<text class="votes-chart__label" x="{}" y="{}">{}</text>',
        (
            (
                f"{LEFT + i * slot:.2f}",
                HEIGHT - 6,
                label(i, b),
            )
            for i, b in enumerate(buckets)
            if i % label_every == 0
        ),
    )
    total = sum(b.votes for b in buckets)
    baseline = format_html(
        '<line class="votes-chart__axis" x1="{}" y1="{}" x2="{}" y2="{}"/>',
        LEFT,
        TOP + plot_height,
        WIDTH,
        TOP + plot_height,
    )
    if total:
        axis = format_html(
            '<text class="votes-chart__label" x="{}" y="{}" text-anchor="end">{}</text>'
            '<text class="votes-chart__label" x="{}" y="{}" text-anchor="end">0</text>{}',
            LEFT - 6,
            TOP + 10,
            top_votes,
            LEFT - 6,
            TOP + plot_height,
            baseline,
        )
    else:
        axis = format_html(
            '<text class="votes-chart__label" x="{}" y="{}" text-anchor="middle">'
            "No votes in this period</text>{}",
            LEFT + plot_width / 2,
            TOP + plot_height / 2,
            baseline,
        )
    return format_html(
        '<svg class="votes-chart" viewBox="0 0 {} {}" role="img" '
        'aria-label="{}: {} {}{} in {} {}{}">{}{}{}</svg>',
        WIDTH,
        HEIGHT,
        title,
        total,
        unit,
        "" if total == 1 else "s",
        len(buckets),
        by,
        "" if len(buckets) == 1 else "s",
        axis,
        bars,
        labels,
    )


def seen_and_votes_svg(hours: list[Bucket], seen: list[int], *, unit: str) -> SafeString:
    """Two lines over the hourly chart's hours: readers who saw the poll, and their votes (or
    voters). Drawn beside the bars, on the same hours, so a rise in one shows against the other."""
    plot_width, plot_height = WIDTH - LEFT, HEIGHT - BOTTOM - TOP
    top = max([*seen, *(b.votes for b in hours), 1])
    slot = plot_width / max(len(hours), FEWEST_SLOTS)

    def points(values: list[int]) -> str:
        return " ".join(
            f"{LEFT + i * slot + slot / 2:.2f},{TOP + plot_height - plot_height * v / top:.2f}"
            for i, v in enumerate(values)
        )

    first = date_format(timezone.localtime(hours[0].start), "M j Y H:i") if hours else ""
    return format_html(
        '<svg class="votes-chart seen-chart" viewBox="0 0 {} {}" role="img" aria-label="{}">'
        '<line class="votes-chart__axis" x1="{}" y1="{}" x2="{}" y2="{}"/>'
        '<text class="votes-chart__label" x="{}" y="{}" text-anchor="end">{}</text>'
        '<polyline class="seen-chart__seen" points="{}"/>'
        '<polyline class="seen-chart__votes" points="{}"/>'
        '<text class="votes-chart__label" x="{}" y="{}">{}</text>'
        '<text class="votes-chart__label seen-chart__seen-key" x="{}" y="{}">— seen</text>'
        '<text class="votes-chart__label seen-chart__votes-key" x="{}" y="{}">— {}s</text>'
        "</svg>",
        WIDTH,
        HEIGHT,
        f"Seen and {unit}s per hour: {sum(seen)} seen, {sum(b.votes for b in hours)} {unit}s"
        f" in {len(hours)} hours",
        LEFT,
        TOP + plot_height,
        WIDTH,
        TOP + plot_height,
        LEFT - 6,
        TOP + 10,
        top,
        points(seen),
        points([b.votes for b in hours]),
        LEFT,
        HEIGHT - 6,
        first,
        WIDTH - 160,
        HEIGHT - 6,
        WIDTH - 80,
        HEIGHT - 6,
        unit,
    )
