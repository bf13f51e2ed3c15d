from datetime import timedelta

import pytest
from django.db import IntegrityError
from django.http import QueryDict
from django.urls import set_script_prefix
from django.utils import timezone

from polls.forms import EmbedVoteForm, VoteForm
from polls.models import Choice, Poll, PollResults, whole_percentages
from tests.helpers import make_article, make_poll

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


def test_a_polls_links_follow_its_slug_and_the_sites_prefix():
    poll = make_poll(slug="first-slug")
    assert poll.get_absolute_url() == "/polls/first-slug/"
    poll.slug = "second-slug"  # an editor renamed it
    assert poll.get_absolute_url() == "/polls/second-slug/"
    assert poll.get_results_url() == "/polls/second-slug/results/"
    # Under a path prefix (SCRIPT_NAME behind a proxy), links carry it.
    set_script_prefix("/news/")
    try:
        assert poll.get_absolute_url() == "/news/polls/second-slug/"
    finally:
        set_script_prefix("/")
    assert poll.get_absolute_url() == "/polls/second-slug/"


def test_vote_forms_keep_their_own_poll_choices_and_errors():
    one, other = make_poll(choices=("Envoy", "NGINX")), make_poll(choices=("Go", "Rust", "C++"))
    one_choices, other_choices = list(one.choices.all()), list(other.choices.all())
    page_form = VoteForm(QueryDict("choice=nope"), poll=one, choices=one_choices)
    widget_form = EmbedVoteForm(
        QueryDict(f"choice={other_choices[2].pk}&host_path=no-slash"),
        poll=other,
        choices=other_choices,
    )
    assert not page_form.is_valid()
    assert "choice" in page_form.errors and "host_path" not in page_form.errors
    assert not widget_form.is_valid()
    assert set(widget_form.errors) == {"host_path"}
    assert [text for _, text in page_form.fields["choice"].choices] == ["Envoy", "NGINX"]
    assert [text for _, text in widget_form.fields["choice"].choices] == ["Go", "Rust", "C++"]
    # The page's radio class comes from its layout when it renders (polls.forms.READER_FORM):
    # neither form's field carries anything the other could pick up.
    assert page_form.fields["choice"].widget.attrs == {}
    assert widget_form.fields["choice"].widget.attrs == {}
    valid = EmbedVoteForm(QueryDict(f"choice={one_choices[1].pk}"), poll=one, choices=one_choices)
    assert valid.is_valid() and valid.selected_choices() == [one_choices[1]]
