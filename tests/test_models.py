from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from polls.models import Choice, Poll, PollResults, whole_percentages
from tests.conftest import make_article, make_poll

pytestmark = pytest.mark.django_db


def test_it_gives_each_poll_its_state():
    assert make_poll(state="draft").state() == "draft"
    assert make_poll(state="scheduled").state() == "scheduled"
    assert make_poll(state="open").state() == "open"
    assert make_poll(state="closed").state() == "closed"


def test_it_shows_readers_only_published_polls_that_have_opened():
    open_poll = make_poll(state="open")
    closed_poll = make_poll(state="closed")
    make_poll(state="draft")
    make_poll(state="scheduled")
    assert set(Poll.objects.visible()) == {open_poll, closed_poll}
    assert list(Poll.objects.open()) == [open_poll]
    assert list(Poll.objects.closed()) == [closed_poll]


def test_it_refuses_a_poll_that_closes_before_it_opens():
    now = timezone.now()
    with pytest.raises(IntegrityError):
        Poll.objects.create(question="Q?", slug="q", opens_at=now, closes_at=now - timedelta(1))


def test_it_keeps_choices_in_the_editors_order():
    poll = make_poll(choices=())
    Choice.objects.create(poll=poll, text="Second", position=2)
    Choice.objects.create(poll=poll, text="First", position=1)
    Choice.objects.create(poll=poll, text="Third", position=3)
    assert [c.text for c in poll.choices.all()] == ["First", "Second", "Third"]


def test_it_refuses_the_same_choice_text_twice_in_a_poll():
    poll = make_poll(choices=("Yes",))
    with pytest.raises(IntegrityError):
        Choice.objects.create(poll=poll, text="Yes", position=2)


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ([1, 1, 1], [34, 33, 33]),
        ([0, 0, 0, 0], [0, 0, 0, 0]),
        ([2, 1], [67, 33]),
        ([1, 0, 0], [100, 0, 0]),
        ([1, 1, 1, 1, 1, 1, 1], [15, 15, 14, 14, 14, 14, 14]),
        ([333, 333, 334], [33, 33, 34]),
    ],
)
def test_it_rounds_percentages_to_add_up_to_100(counts, expected):
    assert whole_percentages(counts) == expected
    assert sum(whole_percentages(counts)) in (0, 100)


def test_it_computes_results_and_the_leading_choice():
    poll = make_poll(choices=("A", "B", "C"))
    Choice.objects.filter(poll=poll, text="A").update(votes=3)
    Choice.objects.filter(poll=poll, text="B").update(votes=1)
    results = poll.results()
    assert isinstance(results, PollResults)
    assert results.total == 4
    assert [(r.choice.text, r.votes, r.percent) for r in results.rows] == [
        ("A", 3, 75),
        ("B", 1, 25),
        ("C", 0, 0),
    ]
    assert results.leading == {poll.choices.get(text="A").pk}


def test_it_picks_related_articles_by_shared_topic_newest_first_with_pins_first():
    article = make_article("Envoy interview", topics=("Proxies", "Service mesh"))
    old = make_article("Old proxy piece", topics=("Proxies",), days_ago=300)
    new = make_article("New mesh piece", topics=("Service mesh",), days_ago=2)
    make_article("Unrelated", topics=("Gardening",), days_ago=1)
    pinned = make_article("Pinned piece", topics=("Gardening",), days_ago=900)
    make_article("Future piece", topics=("Proxies",), days_ago=-3)
    assert article.related_articles() == [new, old]
    article.pinned_related.add(pinned)
    assert article.related_articles() == [pinned, new, old]
    assert article.related_articles(limit=2) == [pinned, new]


def test_it_relates_a_poll_to_the_article_that_carries_it_then_to_that_articles_relatives():
    poll = make_poll()
    host = make_article("Host", topics=("Proxies",), poll=poll, days_ago=10)
    relative = make_article("Relative", topics=("Proxies",), days_ago=2)
    assert poll.related_articles() == [host, relative]
