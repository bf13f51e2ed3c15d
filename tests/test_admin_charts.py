"""The data behind the charts: votes by hour for two days, then by day; votes by source."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from polls.charts import (
    Bucket,
    bar_chart_svg,
    readable_days,
    votes_by_source,
    votes_over_time,
)
from polls.models import Ballot
from tests.helpers import make_article, make_poll, vote

pytestmark = pytest.mark.django_db

OPENED = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)


def poll_opened_at(opened: datetime = OPENED, closes_at: datetime | None = None):
    poll = make_poll(choices=("Yes", "No"))
    poll.opens_at, poll.closes_at = opened, closes_at
    poll.save()
    return poll


def vote_at(poll, when: datetime, voter: str) -> None:
    ballot = vote(poll, "Yes", voter=voter)
    Ballot.objects.filter(pk=ballot.pk).update(cast_at=when)


def test_it_counts_votes_per_hour_from_the_hour_the_poll_opened():
    poll = poll_opened_at()
    vote_at(poll, OPENED + timedelta(minutes=5), "a")
    vote_at(poll, OPENED + timedelta(minutes=25), "b")  # 09:55, same hour
    vote_at(poll, OPENED + timedelta(minutes=35), "c")  # 10:05
    vote_at(poll, OPENED + timedelta(hours=5), "d")  # 14:30
    now = OPENED + timedelta(hours=6)  # 15:30
    chart = votes_over_time(poll, now=now)
    assert [(b.start.hour, b.votes) for b in chart.hourly] == [
        (9, 2),
        (10, 1),
        (11, 0),
        (12, 0),
        (13, 0),
        (14, 1),
        (15, 0),
    ]
    assert chart.daily == [] and chart.total == 4


def test_after_two_days_it_counts_votes_per_day_without_gaps():
    poll = poll_opened_at()
    hourly_until = datetime(2024, 3, 3, 9, 0, tzinfo=UTC)
    vote_at(poll, hourly_until - timedelta(minutes=1), "last-hourly")
    vote_at(poll, hourly_until, "first-daily")
    vote_at(poll, datetime(2024, 3, 3, 23, 0, tzinfo=UTC), "same-day")
    vote_at(poll, datetime(2024, 3, 5, 12, 0, tzinfo=UTC), "two-days-on")
    chart = votes_over_time(poll, now=datetime(2024, 3, 5, 18, 0, tzinfo=UTC))
    assert len(chart.hourly) == 48
    assert chart.hourly[-1].votes == 1 and sum(b.votes for b in chart.hourly) == 1
    assert [(b.start.date().isoformat(), b.votes) for b in chart.daily] == [
        ("2024-03-03", 2),
        ("2024-03-04", 0),
        ("2024-03-05", 1),
    ]
    assert chart.daily[0].start == hourly_until  # the first day starts where the hours end
    assert chart.total == Ballot.objects.count()


def test_a_closed_poll_charts_up_to_its_close():
    poll = poll_opened_at(closes_at=OPENED + timedelta(hours=3))
    chart = votes_over_time(poll, now=OPENED + timedelta(days=30))
    assert len(chart.hourly) == 4 and chart.daily == []


def test_a_poll_that_has_not_opened_has_no_chart():
    poll = poll_opened_at()
    assert votes_over_time(poll, now=OPENED - timedelta(hours=1)).hourly == []


def test_votes_by_source_groups_pages_articles_and_host_sites():
    poll = make_poll(choices=("Yes", "No"))
    one, two = make_article("One", poll=poll), make_article("Two", poll=poll)
    vote(poll, "Yes", voter="a", source=Ballot.Source.ARTICLE, article=one)
    vote(poll, "Yes", voter="b", source=Ballot.Source.ARTICLE, article=two)
    vote(poll, "Yes", voter="c", source=Ballot.Source.ARTICLE, article=two)
    vote(poll, "Yes", voter="d", source=Ballot.Source.EMBED)
    vote(poll, "No", voter="e")
    rows = [(r.label, r.detail, r.votes, r.percent) for r in votes_by_source(poll)]
    assert rows == [
        ("Article", "Two", 2, 40),
        ("Article", "One", 1, 20),
        ("Embedded widget", "(host site unknown)", 1, 20),
        ("Poll page", "Our poll page", 1, 20),
    ]
    assert sum(r[2] for r in rows) == Ballot.objects.filter(poll=poll).count()


def test_the_svg_has_a_bar_per_bucket_scaled_to_the_busiest():
    start = OPENED
    buckets = [
        Bucket(start + timedelta(hours=i), start + timedelta(hours=i + 1), votes)
        for i, votes in enumerate([4, 0, 2])
    ]
    svg = str(bar_chart_svg(buckets, by="hour", title="Votes per hour"))
    assert 'aria-label="Votes per hour: 6 votes in 3 hours"' in svg
    assert svg.count('class="votes-chart__bar"') == 3
    heights = [float(h) for h in re.findall(r'height="([\d.]+)"><title>', svg)]
    assert heights[0] == 2 * heights[2] and heights[1] == 0
    assert "<title>Mar 1 2024, 09:30 to 10:30 UTC: 4 votes</title>" in svg


def test_axis_labels_carry_the_year():
    days = [Bucket(OPENED + timedelta(days=i), OPENED + timedelta(days=i + 1), 1) for i in range(3)]
    labels = re.findall(
        r'class="votes-chart__label" x="[\d.]+" y="[\d.]+">([^<]*)<',
        str(bar_chart_svg(days, by="day", title="Votes per day")),
    )
    assert labels and all("2024" in label for label in labels)
    hours = [
        Bucket(OPENED + timedelta(hours=i), OPENED + timedelta(hours=i + 1), 1) for i in range(3)
    ]
    svg = str(bar_chart_svg(hours, by="hour", title="Votes per hour"))
    assert ">Mar 1 2024 09:30<" in svg


def test_an_empty_chart_says_so_instead_of_labelling_both_ends_zero():
    hours = [
        Bucket(OPENED + timedelta(hours=i), OPENED + timedelta(hours=i + 1), 0) for i in range(5)
    ]
    svg = str(bar_chart_svg(hours, by="hour", title="Votes per hour"))
    assert "No votes in this period" in svg
    assert svg.count('text-anchor="end">0<') == 0


def test_one_vote_is_a_narrow_bar_not_the_whole_width():
    svg = str(bar_chart_svg([Bucket(OPENED, OPENED + timedelta(hours=1), 1)], by="hour", title="T"))
    width = float(
        re.search(r'class="votes-chart__bar" x="[\d.]+" y="[\d.]+" width="([\d.]+)"', svg).group(1)
    )
    assert width < (720 - 36) / 10


def test_a_long_quiet_poll_charts_the_days_with_votes_and_weeks_beyond_three_months():
    days = [
        Bucket(OPENED + timedelta(days=i), OPENED + timedelta(days=i + 1), 0) for i in range(1100)
    ]
    days[1000] = Bucket(days[1000].start, days[1000].end, 3)
    days[1004] = Bucket(days[1004].start, days[1004].end, 1)
    shown, unit = readable_days(days)
    assert unit == "day" and len(shown) == 7 and sum(b.votes for b in shown) == 4
    days[100] = Bucket(days[100].start, days[100].end, 2)
    shown, unit = readable_days(days)
    assert unit == "week" and sum(b.votes for b in shown) == 6 and len(shown) < 140
