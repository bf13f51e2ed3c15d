"""Database queries per request on the paths a front-page burst hits.

Query counts are behaviour, not timing: each query is a round trip to PostgreSQL that every
widget view or vote of a burst pays for. Speed itself is measured by bench/run.py.
"""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from polls.models import Ballot, Poll
from polls.snippets import widget_height
from polls.voters import vote_token_issue
from tests.helpers import counts, make_article, make_poll, vote

pytestmark = pytest.mark.django_db


# Without the poll cache's listener (as here), the widget reads the themes too (polls/themes.py):
# a gunicorn worker keeps them until one is edited (tests/test_themes.py).


def test_it_renders_the_widget_with_two_queries(client, poll, django_assert_num_queries):
    with django_assert_num_queries(2):
        response = client.get(reverse("polls:embed", args=[poll.slug]))
    assert response.status_code == 200
    assert response.content.decode().count('type="radio"') == 3


def test_it_renders_the_widget_again_with_two_queries_and_the_new_counts(
    client, poll, django_assert_num_queries
):
    url = reverse("polls:embed", args=[poll.slug])
    client.get(url)
    poll.choices.filter(text="NGINX").update(votes=7)
    with django_assert_num_queries(2):
        html = client.get(url).content.decode()
    assert "7 votes" in html


def test_it_answers_the_conditional_widget_request_with_two_queries(
    client, poll, django_assert_num_queries
):
    url = reverse("polls:embed", args=[poll.slug])
    etag = client.get(url)["ETag"]
    with django_assert_num_queries(2):
        response = client.get(url, headers={"If-None-Match": etag})
    assert response.status_code == 304


def test_it_serves_the_results_json_with_one_query(client, poll, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = client.get(reverse("polls:api_results", args=[poll.slug]))
    choices = response.json()["choices"]
    assert [choice["text"] for choice in choices] == ["Envoy", "NGINX", "HAProxy"]


# A transaction test, as in production: inside the test's own transaction the vote's atomic block
# would add SAVEPOINT queries that a real request never sends.
@pytest.mark.django_db(transaction=True)
def test_it_counts_a_widget_vote_with_at_most_four_queries(poll, django_assert_max_num_queries):
    choice = poll.choices.get(text="HAProxy")
    with django_assert_max_num_queries(4):
        response = Client().post(
            reverse("polls:embed_vote", args=[poll.slug]),
            {"choice": str(choice.pk), "token": vote_token_issue(poll)},
        )
    assert response.status_code == 200
    assert "your vote was counted" in response.content.decode()
    assert counts(poll) == {"Envoy": 0, "NGINX": 0, "HAProxy": 1}
    assert Ballot.objects.get(poll=poll).choice == choice


def test_every_widget_view_is_the_same_page_and_each_reader_fetches_a_working_token(client, poll):
    """The widget's HTML is rendered once per poll state and is the same for every reader (a
    CDN's copy too), with no token in it; its script fetches a token for its reader."""
    url = reverse("polls:embed", args=[poll.slug])
    pages = [client.get(url).content for _ in range(2)]
    assert pages[0] == pages[1]
    assert b'name="token" value=""' in pages[0]
    for choice_text in ("Envoy", "NGINX"):
        reader = Client()
        token = reader.post(reverse("polls:embed_token", args=[poll.slug])).json()["token"]
        choice = poll.choices.get(text=choice_text)
        response = reader.post(
            reverse("polls:embed_vote", args=[poll.slug]), {"choice": choice.pk, "token": token}
        )
        assert "your vote was counted" in response.content.decode()
    assert counts(poll) == {"Envoy": 1, "NGINX": 1, "HAProxy": 0}


def test_the_results_page_queries_do_not_grow_with_the_related_articles(client, poll):
    host = make_article("The host", topics=("Proxies", "Edge"), poll=poll)
    make_article("Related first", topics=("Proxies",), days_ago=2)
    url = reverse("polls:results", args=[poll.slug])

    def queries_and_page() -> tuple[int, str]:
        with CaptureQueriesContext(connection) as queries:
            html = client.get(url).content.decode()
        return len(queries), html

    few, _ = queries_and_page()
    for number in range(3):
        make_article(f"Related {number}", topics=("Proxies", f"Topic {number}"), days_ago=2)
    many, html = queries_and_page()
    assert host.title in html and "Related 2" in html and "Topic 2" in html
    assert many == few


def test_the_cached_widget_follows_the_readers_language(client, poll):
    url = reverse("polls:embed", args=[poll.slug])
    german = client.get(url, headers={"Accept-Language": "de"})
    english = client.get(url, headers={"Accept-Language": "en"})
    assert "Abstimmen" in german.content.decode()
    assert "Abstimmen" not in english.content.decode()
    assert german["ETag"] != english["ETag"]


def test_the_cached_widget_follows_a_change_that_leaves_the_poll_timestamp_alone(client, poll):
    url = reverse("polls:embed", args=[poll.slug])
    before = client.get(url)
    type(poll).objects.filter(pk=poll.pk).update(results_shown="always")
    after = client.get(url)
    assert after["ETag"] != before["ETag"]
    results_section = '<section class="widget__results" aria-label="Results" tabindex="-1"'
    assert results_section + " hidden>" in before.content.decode()
    assert results_section + ">" in after.content.decode()


def test_each_vote_shows_its_own_counts_in_the_kept_page_around_them(poll):
    """After a vote only the results are rendered; the page around them is kept per poll
    version, so it must follow an editor's change and never carry old counts."""

    def widget_vote() -> str:
        response = vote(poll, "HAProxy", client=Client(), widget=True)
        assert response.status_code == 200
        return response.content.decode()

    assert "1 vote in total" in widget_vote()
    assert "2 votes in total" in widget_vote()
    type(poll).objects.filter(pk=poll.pk).update(question="Which proxy, again?")
    page = widget_vote()
    assert "3 votes in total" in page and "Which proxy, again?" in page
    assert page.count("poll-result__mine") == 1 and "Thank you, your vote was counted." in page


def test_a_poll_read_with_its_choices_needs_no_query_to_show_them(django_assert_num_queries):
    poll = Poll.objects.visible_with_choices(make_poll(choices=("Envoy", "NGINX")).slug)
    with django_assert_num_queries(0):
        assert [choice.text for choice in poll.form_choices()] == ["Envoy", "NGINX"]
        assert poll.write_in_choice is None
        assert poll.results().total == 0
        assert [row.choice.poll for row in poll.results().rows] == [poll, poll]
        widget_height(poll, 400)
