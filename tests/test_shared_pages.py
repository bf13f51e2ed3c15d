"""The pages with the vote form are served like the widget: one kept rendering per poll, no
cookie set on a GET, a fresh single-use token in every response, and a page of their own only
for readers who voted or have a message waiting. The form still works without JavaScript."""

import re
from datetime import date, timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from polls.models import Ballot
from tests.helpers import counts, eventually, make_article, make_poll, vote_form

pytestmark = pytest.mark.django_db


def token_in(html: str) -> str:
    return re.search(r'name="token" value="([^"]+)"', html).group(1)


def page_urls(poll) -> dict[str, str]:
    article = make_article("The host", topics=("Proxies",), poll=poll)
    return {
        "home": reverse("polls:index"),
        "poll": poll.get_absolute_url(),
        "article": article.get_absolute_url(),
        "results": poll.get_results_url(),
    }


def test_the_pages_a_new_reader_gets_set_no_cookie_and_may_be_shared(poll):
    for name, url in page_urls(poll).items():
        response = Client().get(url)
        assert response.status_code == 200, name
        assert response.cookies == {}, name
        assert "public" in response["Cache-Control"] and "s-maxage" in response["Cache-Control"]
        # A reader with cookies of ours (a vote, a message) may get another page.
        assert "Cookie" in response["Vary"], name


def test_every_response_of_a_form_page_carries_its_own_working_token(poll):
    urls = page_urls(poll)
    tokens = [token_in(Client().get(urls[name]).content.decode()) for name in ("poll", "article")]
    tokens.append(token_in(Client().get(urls["poll"]).content.decode()))
    assert len(set(tokens)) == 3
    for token, text in zip(tokens, ("Envoy", "NGINX", "HAProxy"), strict=True):
        choice = poll.choices.get(text=text)
        response = Client().post(poll_vote_url(poll), {"choice": choice.pk, "token": token})
        assert response.status_code == 303
    assert counts(poll) == {"Envoy": 1, "NGINX": 1, "HAProxy": 1}


def poll_vote_url(poll) -> str:
    return reverse("polls:vote", args=[poll.slug])


def test_the_form_works_without_javascript_from_the_page_to_the_results(poll):
    reader = Client()
    article = make_article("The host", poll=poll)
    html = reader.get(article.get_absolute_url()).content.decode()
    envoy = poll.choices.get(text="Envoy")
    form = {"choice": envoy.pk, "token": token_in(html), "article": article.slug}
    response = reader.post(poll_vote_url(poll), form)
    assert response.status_code == 303 and response["Location"].endswith("#poll")
    back = reader.get(article.get_absolute_url())
    page = back.content.decode()
    assert "Thank you, your vote has been counted." in page and "Your vote" in page
    assert "private" in back["Cache-Control"]
    # Reloaded, the article still shows this reader's vote, not the form.
    again = reader.get(article.get_absolute_url()).content.decode()
    assert 'type="radio"' not in again and "You have voted in this poll." in again


def test_a_reader_who_voted_is_sent_from_the_poll_page_to_the_results(poll):
    reader = Client()
    reader.post(poll_vote_url(poll), vote_form(poll, choice=poll.choices.first().pk))
    response = reader.get(poll.get_absolute_url())
    assert response.status_code == 302 and response["Location"] == poll.get_results_url()


def test_a_reader_with_a_voter_id_but_no_vote_here_gets_the_shared_form(poll):
    reader = Client()
    assert reader.post(reverse("polls:vote_token", args=[poll.slug])).status_code == 200
    response = reader.get(poll.get_absolute_url())
    assert 'type="radio"' in response.content.decode() and response.cookies == {}


def test_a_vote_posted_from_another_site_is_refused_and_counts_nothing(poll):
    choice = poll.choices.first()
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        response = Client(headers=headers).post(
            poll_vote_url(poll), vote_form(poll, choice=choice.pk)
        )
        assert response.status_code == 403
        assert "Votes can only be cast from our own pages" in response.content.decode()
    assert Ballot.objects.count() == 0


@pytest.mark.parametrize("token", ["", "forged", "x" * 600])
def test_a_vote_without_a_valid_token_is_refused_with_a_fresh_form(poll, token):
    choice = poll.choices.first()
    response = Client().post(poll_vote_url(poll), {"choice": choice.pk, "token": token})
    assert response.status_code in (400, 403)
    html = response.content.decode()
    assert 'role="alert"' in html and 'type="radio"' in html
    assert token_in(html) not in ("", "forged") and Ballot.objects.count() == 0
    # The form it came back with votes.
    retry = Client().post(poll_vote_url(poll), {"choice": choice.pk, "token": token_in(html)})
    assert retry.status_code == 303 and Ballot.objects.count() == 1


def test_a_token_is_used_once(poll):
    """Two readers without JavaScript served one copy of the page by a shared cache: the second
    is asked to vote again, on a form with a fresh token."""
    token = token_in(Client().get(poll.get_absolute_url()).content.decode())
    envoy, nginx = poll.choices.get(text="Envoy"), poll.choices.get(text="NGINX")
    assert (
        Client().post(poll_vote_url(poll), {"choice": envoy.pk, "token": token}).status_code == 303
    )
    second = Client().post(poll_vote_url(poll), {"choice": nginx.pk, "token": token})
    assert second.status_code == 409
    html = second.content.decode()
    assert "This voting form was already used. Please vote again." in html
    assert token_in(html) != token
    assert counts(poll) == {"Envoy": 1, "NGINX": 0, "HAProxy": 0}


def test_the_token_endpoint_gives_a_token_and_the_voter_id_to_our_pages_only(poll):
    url = reverse("polls:vote_token", args=[poll.slug])
    reader = Client()
    answer = reader.post(url, headers={"Sec-Fetch-Site": "same-origin"})
    assert answer.status_code == 200 and answer["Cache-Control"] == "no-store"
    assert settings.VOTER_COOKIE_NAME in answer.cookies
    # One id per reader, kept; and a token for each ask.
    again = reader.post(url)
    assert again.cookies == {} and again.json()["token"] != answer.json()["token"]
    refused = Client().post(url, headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403 and refused.cookies == {}
    assert Client().get(url).status_code == 405
    assert Client().post(reverse("polls:vote_token", args=["no-such-poll"])).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_warm_worker_serves_the_form_pages_without_a_query(
    listener, poll, django_assert_num_queries
):
    urls = page_urls(poll)
    for url in urls.values():
        Client().get(url)  # warm
    for name, queries in (("home", 0), ("poll", 0), ("results", 0), ("article", 0)):
        with django_assert_num_queries(queries):
            response = Client().get(urls[name])
        assert response.status_code == 200, name


@pytest.mark.django_db(transaction=True)
def test_kept_form_pages_follow_edits_and_votes(listener, poll):
    urls = page_urls(poll)
    article = poll.articles.get()
    assert "The host" in Client().get(urls["article"]).content.decode()
    article.title = "The host, edited"
    article.save()
    assert eventually(lambda: "The host, edited" in Client().get(urls["article"]).content.decode())
    other = make_poll("Another question?", slug="another")
    article.poll = other
    article.save()
    assert eventually(lambda: "Another question?" in Client().get(urls["article"]).content.decode())
    article.published_on = date.today() + timedelta(days=1)
    article.save()
    assert eventually(lambda: Client().get(urls["article"]).status_code == 404)
    article.published_on, article.poll = date.today(), poll
    article.save()
    # A form page showing results before voting shows each new count; one that shows none is
    # kept through votes.
    poll.results_shown = "always"
    poll.save()
    assert eventually(lambda: "Results so far" in Client().get(urls["poll"]).content.decode())
    Client().post(poll_vote_url(poll), vote_form(poll, choice=poll.choices.get(text="NGINX").pk))
    assert eventually(lambda: "1 vote in total" in Client().get(urls["poll"]).content.decode())
    home = Client().get(urls["home"]).content.decode()
    assert eventually(lambda: "1 vote" in Client().get(urls["home"]).content.decode()), home
