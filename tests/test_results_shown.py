"""When readers see the results: always, after voting, only once the poll has closed, and
percentages without counts. Held-back results must not leak through any surface."""

import json
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from polls.models import Choice, Poll
from polls.voters import EMBED_VOTER_COOKIE
from tests.helpers import make_article, make_poll, vote

pytestmark = pytest.mark.django_db

# What a count looks like on our pages and in the widget.
COUNT = re.compile(r"\d+ votes?\b|data-count|data-total|\d+%<|\"percent\"|\d+ readers? ha")


def poll_showing(results_shown: str, *, percentages_only: bool = False, **kwargs) -> Poll:
    poll = make_poll(**kwargs)
    poll.results_shown = results_shown
    poll.percentages_only = percentages_only
    poll.save()
    Choice.objects.filter(poll=poll, text="Envoy").update(votes=7)
    Choice.objects.filter(poll=poll, text="NGINX").update(votes=3)
    return poll


def every_reader_surface(poll: Poll) -> dict[str, str]:
    """Each page, fragment and answer a reader or another site can get, before and after a
    vote, as text."""
    article = make_article("Host article", poll=poll)
    widget_url = reverse("polls:embed", args=[poll.slug])
    api_url = reverse("polls:api_results", args=[poll.slug])
    surfaces = {
        "poll page": Client().get(poll.get_absolute_url()),
        "results page": Client().get(poll.get_results_url()),
        "article": Client().get(article.get_absolute_url()),
        "index": Client().get("/"),
        "widget": Client().get(widget_url),
        "json": Client().get(api_url),
        "oembed": Client().get("/oembed", {"url": "http://testserver" + poll.get_absolute_url()}),
    }
    reader = Client()
    surfaces["results after voting"] = vote(poll, "Envoy", client=reader, follow=True)
    surfaces["article after voting"] = reader.get(article.get_absolute_url())
    surfaces["refused second vote"] = vote(poll, "NGINX", client=reader, follow=True)
    widget_reader = Client()
    surfaces["widget vote (no JavaScript)"] = vote(poll, "Envoy", client=widget_reader, widget=True)
    json_reader = Client()
    surfaces["widget vote (JSON)"] = vote(
        poll, "NGINX", client=json_reader, widget=True, headers={"Accept": "application/json"}
    )
    cookie = surfaces["widget vote (JSON)"]["Set-Cookie"].split(";")[0].split("=", 1)[1]
    json_reader.cookies[EMBED_VOTER_COOKIE] = cookie
    surfaces["widget vote refused (JSON)"] = vote(
        poll, "Envoy", client=json_reader, widget=True, headers={"Accept": "application/json"}
    )
    # The widget's data-t-* attributes are its script's texts ("{n} votes"), not counts.
    return {
        name: re.sub(r' data-t-[a-z]+="[^"]*"', "", response.content.decode())
        for name, response in surfaces.items()
    }


def test_it_holds_every_count_back_until_the_poll_closes():
    poll = poll_showing(Poll.ResultsShown.AFTER_CLOSE)
    for name, text in every_reader_surface(poll).items():
        assert not COUNT.search(text), f"{name} shows a count: {COUNT.search(text).group()}"
        assert "votes in total" not in text and '"votes"' not in text, name
    results = Client().get(poll.get_results_url()).content.decode()
    assert "The results will be published when the poll closes." in results


def test_the_results_json_and_its_etag_do_not_change_with_votes_held_back():
    poll = poll_showing(Poll.ResultsShown.AFTER_CLOSE)
    url = reverse("polls:api_results", args=[poll.slug])
    widget_url = reverse("polls:embed", args=[poll.slug])
    before, widget_before = Client().get(url), Client().get(widget_url)
    vote(poll, "Envoy", client=Client(), follow=True)
    after, widget_after = Client().get(url), Client().get(widget_url)
    assert before["ETag"] == after["ETag"] and widget_before["ETag"] == widget_after["ETag"]
    assert before.content == after.content
    payload = json.loads(after.content)
    assert payload["poll"]["results_shown"] == "after_close"
    assert "total" not in payload
    assert payload["choices"][0] == {"id": poll.choices.first().pk, "text": "Envoy"}


def test_the_widget_does_not_refresh_results_it_may_not_show():
    poll = poll_showing(Poll.ResultsShown.AFTER_CLOSE)
    widget = Client().get(reverse("polls:embed", args=[poll.slug])).content.decode()
    assert "data-results-url" not in widget


def test_the_results_appear_everywhere_once_the_poll_closes():
    poll = poll_showing(Poll.ResultsShown.AFTER_CLOSE)
    vote(poll, "Envoy", client=Client(), follow=True)
    open_etag = Client().get(reverse("polls:api_results", args=[poll.slug]))["ETag"]
    Poll.objects.filter(pk=poll.pk).update(closes_at=timezone.now() - timedelta(seconds=1))
    results = Client().get(poll.get_results_url()).content.decode()
    assert "11 votes in total" in results and "73%" in results
    response = Client().get(reverse("polls:api_results", args=[poll.slug]))
    assert response["ETag"] != open_etag
    payload = json.loads(response.content)
    assert payload["total"] == 11 and payload["choices"][0]["votes"] == 8
    widget = Client().get(reverse("polls:embed", args=[poll.slug])).content.decode()
    assert "11 votes in total" in widget and "data-results-url" in widget


def test_percentages_only_shows_shares_and_no_counts_anywhere():
    poll = poll_showing(Poll.ResultsShown.ALWAYS, percentages_only=True)
    surfaces = every_reader_surface(poll)
    for name, text in surfaces.items():
        counts = re.search(r"\d+ votes?\b|data-count|data-total|\d+ readers? ha", text)
        assert not counts, f"{name} shows a count: {counts.group()}"
        assert '"votes"' not in text and '"total"' not in text, name
    assert "70%" in surfaces["poll page"] and "30%" in surfaces["poll page"]
    assert "number of votes is not published" in surfaces["results page"]
    payload = json.loads(surfaces["json"])
    assert [c["percent"] for c in payload["choices"]] == [70, 30, 0]


def test_percentages_only_the_votes_own_answer_shows_the_shares_every_reader_sees():
    """Shares moved by one's own vote give the counts away (70/30 becoming 64/36 after a vote
    for Envoy fits only 7/3): the vote's answer shows the shares as every reader sees them."""
    poll = poll_showing(Poll.ResultsShown.AFTER_VOTING, percentages_only=True)
    answer = vote(
        poll, "Envoy", client=Client(), widget=True, headers={"Accept": "application/json"}
    )
    assert answer.status_code == 200 and answer.json()["ok"]
    shares = {c["text"]: c["percent"] for c in answer.json()["choices"]}
    assert shares["Envoy"] == 70 and shares["NGINX"] == 30
    assert "votes" not in answer.json()["choices"][0] and "total" not in answer.json()
    assert poll.choices.get(text="Envoy").votes == 8  # counted all the same


def test_after_voting_shows_the_results_to_voters_only():
    poll = poll_showing(Poll.ResultsShown.AFTER_VOTING)
    form = Client().get(poll.get_absolute_url()).content.decode()
    assert 'type="radio"' in form and "Results so far" not in form
    results = vote(poll, "Envoy", client=Client(), follow=True).content.decode()
    assert "11 votes in total" in results


def test_always_shows_the_results_next_to_the_form():
    poll = poll_showing(Poll.ResultsShown.ALWAYS)
    page = Client().get(poll.get_absolute_url()).content.decode()
    assert 'type="radio"' in page and "Results so far" in page and "10 votes in total" in page
