"""Shuffled answers: each reader their own order, the same on every visit, "always last"
answers at the end, and the widget's cached page shared by everyone."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from polls.models import Ballot, Choice, Poll
from tests.helpers import make_article, make_poll, vote_form

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


def test_the_form_pages_stay_shared_and_their_script_shuffles():
    """Sent in the editor's order, "always last" at the end: each reader's own order is applied
    by static/js/vote.js, so the page sets no cookie and readers without JavaScript can vote."""
    poll = shuffled_poll()
    Choice.objects.filter(poll=poll, text="Other").update(position=0)  # first for the editor
    response = Client().get(poll.get_absolute_url())
    assert response.cookies == {} and "public" in response["Cache-Control"]
    html = response.content.decode()
    assert f'data-shuffle="{poll.pk}"' in html and html.count("data-last") == 1
    assert order(html) == [*ANSWERS[:-1], "Other"]


def visible_order(page) -> list[str]:
    return page.locator("input[name=choice]").evaluate_all(
        "inputs => inputs.map(i => i.labels[0].textContent.trim())"
    )


def test_each_reader_keeps_their_own_order_in_the_browser(browser, live_server):
    poll = shuffled_poll()
    article = make_article("Host", poll=poll)
    orders = []
    for _ in range(5):
        context = browser.new_context()
        page = context.new_page()
        page.goto(live_server.url + poll.get_absolute_url())
        first = visible_order(page)
        assert sorted(first) == sorted(ANSWERS) and first[-1] == "Other"
        page.reload()
        assert visible_order(page) == first
        page.goto(live_server.url + article.get_absolute_url())
        assert visible_order(page) == first  # the same poll, the same order
        orders.append(tuple(first))
        context.close()
    # Five readers, 720 orders of the six shuffled answers: they do not all agree.
    assert len(set(orders)) > 1


def test_keyboard_order_follows_the_shuffled_order_and_the_pick_counts(browser, live_server):
    poll = shuffled_poll()
    page = browser.new_context().new_page()
    page.goto(live_server.url + poll.get_absolute_url())
    seen = visible_order(page)
    page.locator("input[name=choice]").first.focus()
    tabbed = [page.evaluate("document.activeElement.labels[0].textContent.trim()")]
    for _ in seen[1:]:
        page.keyboard.press("ArrowDown")  # a radio group moves by arrows
        tabbed.append(page.evaluate("document.activeElement.labels[0].textContent.trim()"))
    assert tabbed == seen
    page.get_by_label(seen[2], exact=True).check()
    page.get_by_role("button", name="Vote").click()
    page.get_by_text("Thank you, your vote has been counted.").wait_for()
    assert Ballot.objects.get().choice.text == seen[2]
    page.context.close()


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
    response = reader.post(
        reverse("polls:vote", args=[poll.slug]), vote_form(poll, choice=other.pk)
    )
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
