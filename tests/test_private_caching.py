"""Responses that depend on the reader's cookies are private; shared ones stay public."""

import pytest
from django.test import Client
from django.urls import reverse

from polls.voters import vote_token_issue
from tests.helpers import make_article, vote_form

pytestmark = pytest.mark.django_db


def cache_control(response) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part}


def personal(response) -> bool:
    """A shared cache may not keep it, or keeps one copy per set of cookies."""
    directives = cache_control(response)
    varies = {v.strip().lower() for v in response.get("Vary", "").split(",")}
    return "public" not in directives and bool(
        directives & {"private", "no-store"} or "cookie" in varies
    )


@pytest.fixture
def voter(poll) -> Client:
    reader = Client()
    vote = reader.post(
        reverse("polls:vote", args=[poll.slug]), vote_form(poll, choice=poll.choices.first().pk)
    )
    assert vote.status_code == 303 and personal(vote)
    return reader


def test_the_results_page_with_a_voter_cookie_is_private(poll, voter):
    response = voter.get(poll.get_results_url())
    assert "Your vote" in response.content.decode()
    assert personal(response)


def test_the_article_page_with_a_voter_cookie_is_private(poll, voter):
    make_article("Host", poll=poll, slug="host")
    response = voter.get("/articles/host/")
    assert "Your vote" in response.content.decode()
    assert personal(response)


@pytest.mark.parametrize("url", ["/", "/polls/{slug}/", "/polls/{slug}/results/"])
def test_the_pages_readers_without_cookies_get_alike_are_shared_but_vary_on_cookies(
    client, poll, url
):
    # tests/test_shared_pages.py: what they carry and how they are kept.
    response = client.get(url.format(slug=poll.slug))
    assert "public" in response["Cache-Control"] and "Cookie" in response["Vary"]
    assert response.cookies == {}


def test_the_archive_is_private(client, poll):
    assert personal(client.get("/polls/archive/"))


def test_refused_votes_are_private(poll, voter):
    url = reverse("polls:vote", args=[poll.slug])
    repeat = voter.post(url, vote_form(poll, choice=poll.choices.last().pk))
    assert repeat.status_code == 409 and personal(repeat)
    invalid = voter.post(url, {"choice": "x"})
    assert invalid.status_code == 400 and personal(invalid)


def test_widget_votes_and_tokens_are_private(poll):
    reader = Client()
    url = reverse("polls:embed_vote", args=[poll.slug])
    choice = poll.choices.first().pk
    counted = reader.post(url, {"choice": choice, "token": vote_token_issue(poll)})
    assert counted.status_code == 200 and personal(counted)
    # Written by hand (a Partitioned cookie): the test client does not pick it up by itself.
    name, value = counted["Set-Cookie"].split(";")[0].split("=", 1)
    reader.cookies[name] = value
    repeat = reader.post(url, {"choice": choice, "token": vote_token_issue(poll)})
    assert repeat.status_code == 409 and personal(repeat)
    assert personal(reader.post(reverse("polls:embed_token", args=[poll.slug])))


def test_error_pages_and_the_admin_are_private(client):
    assert personal(client.get("/no/such/page/"))
    assert personal(client.get("/admin/login/"))
    assert personal(Client(enforce_csrf_checks=True).post("/admin/login/", {"username": "x"}))


@pytest.mark.parametrize(
    "url",
    [
        "/polls/{slug}/embed/",
        "/api/polls/{slug}/results",
        "/embed.js",
        "/oembed?url=http://testserver/polls/{slug}/",
    ],
)
def test_what_every_reader_gets_alike_stays_public(poll, voter, url):
    """Even for a reader with cookies: these responses never read them."""
    response = voter.get(url.format(slug=poll.slug))
    assert response.status_code == 200
    assert "public" in cache_control(response)
    assert "Set-Cookie" not in response.headers


def test_the_widget_304_stays_public(client, poll):
    url = reverse("polls:embed", args=[poll.slug])
    etag = client.get(url)["ETag"]
    not_modified = client.get(url, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and "public" in cache_control(not_modified)
