"""Shuffled answers: each reader their own order, the same on every visit, "always last"
answers at the end, and the widget's cached page shared by everyone."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from polls.models import Ballot, Choice, Poll
from tests.conftest import make_article, make_poll

pytestmark = pytest.mark.django_db

ANSWERS = ("A", "B", "C", "D", "E", "F", "Other")


def shuffled_poll() -> Poll:
    poll = make_poll(choices=ANSWERS)
    poll.shuffle_choices = True
    poll.save()
    Choice.objects.filter(poll=poll, text="Other").update(stays_last=True)
    return poll


def order(html: str) -> list[str]:
    return re.findall(r'class="form-check-label">([^<]+)</label>', html)


def test_each_reader_keeps_their_own_order_across_reloads():
    poll = shuffled_poll()
    orders = []
    for _ in range(6):
        reader = Client()
        first = order(reader.get(poll.get_absolute_url()).content.decode())
        assert order(reader.get(poll.get_absolute_url()).content.decode()) == first
        assert sorted(first) == sorted(ANSWERS) and first[-1] == "Other"
        orders.append(first)
    # Six readers, 720 orders of the six shuffled answers: they do not all agree.
    assert len({tuple(o) for o in orders}) > 1


def test_the_article_page_shows_the_same_order_as_the_poll_page():
    poll = shuffled_poll()
    article = make_article("Host", poll=poll)
    reader = Client()
    on_poll_page = order(reader.get(poll.get_absolute_url()).content.decode())
    assert order(reader.get(article.get_absolute_url()).content.decode()) == on_poll_page


def test_a_reader_votes_in_their_order_and_the_vote_counts():
    poll = shuffled_poll()
    reader = Client()
    reader.get(poll.get_absolute_url())
    other = poll.choices.get(text="Other")
    response = reader.post(reverse("polls:vote", args=[poll.slug]), {"choice": other.pk})
    assert response.status_code == 303
    assert Ballot.objects.get().choice == other


def test_unshuffled_polls_keep_the_editors_order():
    poll = make_poll(choices=ANSWERS)
    response = Client().get(poll.get_absolute_url())
    assert order(response.content.decode()) == list(ANSWERS)


def test_the_widget_page_stays_shared_and_its_script_shuffles():
    poll = shuffled_poll()
    first = Client().get(reverse("polls:embed", args=[poll.slug]))
    second = Client().get(reverse("polls:embed", args=[poll.slug]))
    assert first["ETag"] == second["ETag"] and "Set-Cookie" not in first
    html = first.content.decode()
    assert "data-shuffle" in html and html.count("data-last") == 1
    texts = re.findall(r"<span>([^<]+)</span></label>", html)
    assert texts == list(ANSWERS)
