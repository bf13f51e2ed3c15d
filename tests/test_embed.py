"""The widget, its vote, the loader, oEmbed and the results JSON, through Django's test client."""

import json
import re
from urllib.parse import quote

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from polls import vote_tokens
from polls.embed_views import EMBED_VOTER_COOKIE
from polls.models import Ballot
from polls.vote_tokens import vote_token_issue
from tests.conftest import counts, make_poll, snapshot

pytestmark = pytest.mark.django_db


def embed_vote(client, poll, choice_text="Envoy", *, token=None, headers=None, **fields):
    data = {"token": vote_token_issue(poll) if token is None else token}
    if choice_text is not None:
        data["choice"] = str(poll.choices.get(text=choice_text).pk)
    data.update(fields)
    return client.post(
        reverse("polls:embed_vote", args=[poll.slug]),
        data,
        headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin", **(headers or {})},
    )


def embed_cookie_from(response) -> str:
    """The partitioned cookie is written as a raw header (Django has no Partitioned flag yet)."""
    header = response["Set-Cookie"]
    return re.match(rf"{EMBED_VOTER_COOKIE}=([^;]+);", header).group(1)


def test_the_widget_is_a_small_cacheable_page_with_the_form(client, poll):
    response = client.get(reverse("polls:embed", args=[poll.slug]))
    assert response.status_code == 200
    html = response.content.decode()
    assert poll.question in html and html.count('type="radio"') == 3
    assert "bootstrap" not in html and "csrfmiddlewaretoken" not in html
    assert response.cookies == {} and "Set-Cookie" not in response
    assert "Cookie" not in response.get("Vary", "")
    assert response["Cache-Control"].startswith("public")
    assert "s-maxage=5" in response["Cache-Control"]
    assert response["ETag"]


def test_the_widget_may_be_framed_by_the_allowed_origins_and_nothing_else_may(client, poll):
    widget = client.get(reverse("polls:embed", args=[poll.slug]))
    assert "X-Frame-Options" not in widget
    assert "frame-ancestors *" in widget["Content-Security-Policy"]
    for url in (poll.get_absolute_url(), poll.get_results_url(), "/"):
        page = client.get(url)
        assert page["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in page["Content-Security-Policy"]


def test_the_allowed_origins_setting_limits_framing(client, poll, settings):
    settings.EMBED_ALLOWED_ORIGINS = ["https://news.example", "https://other.example"]
    widget = client.get(reverse("polls:embed", args=[poll.slug]))
    assert (
        "frame-ancestors https://news.example https://other.example"
        in (widget["Content-Security-Policy"])
    )


def test_the_widget_answers_304_until_a_vote_changes_the_results(client, poll):
    url = reverse("polls:embed", args=[poll.slug])
    etag = client.get(url)["ETag"]
    unchanged = client.get(url, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert unchanged["ETag"] == etag and unchanged["Cache-Control"].startswith("public")
    assert embed_vote(Client(), poll).status_code == 200
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed["ETag"] != etag


def test_a_widget_vote_counts_records_the_host_page_and_sets_a_partitioned_cookie(client, poll):
    response = embed_vote(
        client, poll, "HAProxy", host_origin="https://news.example", host_path="/2024/envoy"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Thank you, your vote was counted." in html and "Your vote" in html
    assert 'data-voted-choice="' in html
    assert response["Cache-Control"] == "no-store"
    ballot = Ballot.objects.get()
    assert (ballot.source, ballot.host_origin, ballot.host_path) == (
        Ballot.Source.EMBED,
        "https://news.example",
        "/2024/envoy",
    )
    assert counts(poll)["HAProxy"] == 1
    cookie = response["Set-Cookie"]
    for attribute in ("Secure", "HttpOnly", "SameSite=None", "Partitioned", "Path=/polls/"):
        assert attribute in cookie


def test_the_partitioned_cookie_stops_a_second_widget_vote(poll):
    first = embed_vote(Client(), poll, "Envoy")
    reader = Client()
    reader.cookies[EMBED_VOTER_COOKIE] = embed_cookie_from(first)
    before = snapshot()
    second = embed_vote(reader, poll, "NGINX")
    assert second.status_code == 409
    html = second.content.decode()
    assert "You have already voted in this poll." in html and 'data-voted-choice="' in html
    assert snapshot() == before


def test_a_replayed_token_is_refused(poll):
    token = vote_token_issue(poll)
    assert embed_vote(Client(), poll, token=token).status_code == 200
    before = snapshot()
    replay = embed_vote(Client(), poll, "NGINX", token=token)
    assert replay.status_code == 409
    assert "This voting form was already used." in replay.content.decode()
    assert snapshot() == before


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("", "The voting form is incomplete."),
        ("forged", "This voting form is not valid."),
        ("eyJwb2xsIjoxLCJub25jZSI6IngifQ:1vAbCd:forgedsignature", "This voting form is not valid."),
    ],
)
def test_missing_and_forged_tokens_are_refused(client, poll, token, message):
    before = snapshot()
    response = embed_vote(client, poll, token=token)
    assert response.status_code == 403
    assert message in response.content.decode()
    assert 'type="radio"' in response.content.decode()
    assert snapshot() == before


def test_a_token_for_another_poll_is_refused(client, poll):
    other = make_poll("Other?", ("Yes", "No"))
    before = snapshot()
    response = embed_vote(client, poll, token=vote_token_issue(other))
    assert response.status_code == 403
    assert "This voting form belongs to another poll." in response.content.decode()
    assert snapshot() == before


def test_an_expired_token_is_refused(client, poll, monkeypatch):
    token = vote_token_issue(poll)
    monkeypatch.setattr(vote_tokens, "MAX_AGE_SECONDS", -1)
    before = snapshot()
    response = embed_vote(client, poll, token=token)
    assert response.status_code == 403
    assert "This voting form has expired." in response.content.decode()
    assert snapshot() == before


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site", "Origin": "http://testserver"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://testserver"},
    ],
)
def test_a_vote_posted_by_another_site_is_refused(client, poll, headers):
    before = snapshot()
    response = embed_vote(client, poll, headers=headers)
    assert response.status_code == 403
    assert "Votes can only be cast from the poll itself." in response.content.decode()
    assert snapshot() == before


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"host_origin": "javascript:alert(1)"}, 400),
        ({"host_origin": "https://news.example/path"}, 400),
        ({"host_origin": "https://" + "a" * 300 + ".example"}, 400),
        ({"host_path": "no-leading-slash"}, 400),
        ({"host_path": "/" + "a" * 600}, 400),
        ({"choice": "not-a-number"}, 400),
        ({"choice": "99999999"}, 400),
    ],
)
def test_malformed_widget_votes_get_a_400_and_change_nothing(client, poll, fields, status):
    before = snapshot()
    response = embed_vote(client, poll, **fields)
    assert response.status_code == status
    assert snapshot() == before


def test_a_host_outside_the_allowed_origins_cannot_vote(client, poll, settings):
    settings.EMBED_ALLOWED_ORIGINS = ["https://news.example"]
    before = snapshot()
    response = embed_vote(client, poll, host_origin="https://elsewhere.example")
    assert response.status_code == 400
    assert "This site is not allowed to embed the poll." in response.content.decode()
    assert snapshot() == before
    assert embed_vote(client, poll, host_origin="https://news.example").status_code == 200


def test_closed_draft_and_unknown_polls_refuse_widget_votes(client):
    closed = make_poll(state="closed")
    draft = make_poll(state="draft")
    before = snapshot()
    assert embed_vote(client, closed).status_code == 409
    assert embed_vote(client, draft).status_code == 404
    assert client.post("/polls/nope/embed/vote/", {"choice": "1"}).status_code == 404
    assert snapshot() == before
    html = client.get(reverse("polls:embed", args=[closed.slug])).content.decode()
    assert "This poll is closed." in html and 'type="radio"' not in html


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_the_widget_vote_url_only_accepts_post(client, poll, method):
    response = getattr(client, method)(reverse("polls:embed_vote", args=[poll.slug]))
    assert response.status_code == 405


def test_the_token_endpoint_gives_a_fresh_token_for_open_polls_only(client, poll):
    url = reverse("polls:embed_token", args=[poll.slug])
    first = client.post(url)
    assert first.status_code == 200 and first["Cache-Control"] == "no-store"
    assert first.json()["token"] != client.post(url).json()["token"]
    assert client.get(url).status_code == 405
    closed = make_poll(state="closed")
    assert client.post(reverse("polls:embed_token", args=[closed.slug])).status_code == 404


def test_our_own_vote_form_still_requires_the_csrf_token(poll):
    """The widget's cookie-free path must not weaken CSRF on our first-party pages."""
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        reverse("polls:vote", args=[poll.slug]),
        {"choice": poll.choices.first().pk, "token": vote_token_issue(poll)},
    )
    assert response.status_code == 403
    assert Ballot.objects.count() == 0


def test_the_results_json_has_counts_percentages_cors_and_etag(client, poll):
    embed_vote(Client(), poll, "Envoy")
    embed_vote(Client(), poll, "Envoy")
    embed_vote(Client(), poll, "NGINX")
    url = reverse("polls:api_results", args=[poll.slug])
    response = client.get(url)
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 3
    assert [(c["text"], c["votes"], c["percent"]) for c in body["choices"]] == [
        ("Envoy", 2, 67),
        ("NGINX", 1, 33),
        ("HAProxy", 0, 0),
    ]
    assert body["poll"]["state"] == "open" and body["poll"]["question"] == poll.question
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Cache-Control"].startswith("public") and "Set-Cookie" not in response
    assert client.get(url, headers={"If-None-Match": response["ETag"]}).status_code == 304
    assert "Access-Control-Allow-Origin" not in client.get(poll.get_results_url())
    assert "Access-Control-Allow-Origin" not in client.get(reverse("polls:embed", args=[poll.slug]))
    assert client.get("/api/polls/nope/results").status_code == 404


def test_the_loader_script_is_served_at_a_stable_address(client):
    response = client.get("/embed.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert b"data-poll" in response.content and b"pollsite:height" in response.content


def oembed(client, **params):
    return client.get("/oembed", params)


def test_oembed_describes_the_poll_as_rich_html(client, poll):
    url = "http://testserver" + poll.get_absolute_url()
    response = oembed(client, url=url, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == "1.0" and body["type"] == "rich"
    assert body["title"] == poll.question
    assert body["width"] == 600 and body["height"] == 440
    assert f'src="http://testserver/polls/{poll.slug}/embed/"' in body["html"]
    assert body["provider_name"] == settings.SITE_NAME
    for results_url in (url + "results/", url + "embed/"):
        assert oembed(client, url=results_url).status_code == 200


def test_oembed_honours_maxwidth_and_maxheight(client, poll):
    url = "http://testserver" + poll.get_absolute_url()
    body = oembed(client, url=url, maxwidth="320", maxheight="300").json()
    assert (body["width"], body["height"]) == (320, 300)
    assert 'width="320"' in body["html"] and 'height="300"' in body["html"]
    assert oembed(client, url=url, maxwidth="9000").json()["width"] == 600


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"format": "xml"}, 501),
        ({"maxwidth": "-1"}, 400),
        ({"maxwidth": "wide"}, 400),
        ({"maxheight": "0"}, 400),
        ({"url": ""}, 400),
        ({"url": "http://testserver/polls/no-such-poll/"}, 404),
        ({"url": "http://testserver/articles/something/"}, 404),
        ({"url": "https://elsewhere.example/polls/SLUG/"}, 404),
        ({"url": "ftp://testserver/polls/SLUG/"}, 404),
        ({"url": "not a url"}, 404),
    ],
)
def test_oembed_errors(client, poll, params, status):
    query = {"url": f"http://testserver{poll.get_absolute_url()}", "format": "json", **params}
    query["url"] = query["url"].replace("SLUG", poll.slug)
    response = oembed(client, **query)
    assert response.status_code == status
    assert "error" in response.json()


def test_oembed_does_not_reveal_draft_polls(client):
    draft = make_poll(state="draft")
    url = "http://testserver" + draft.get_absolute_url()
    assert oembed(client, url=url).status_code == 404


def test_poll_pages_link_to_oembed_for_discovery_and_show_the_snippets(client, poll):
    for page in (poll.get_absolute_url(), poll.get_results_url()):
        html = client.get(page).content.decode()
        link = re.search(
            r'<link rel="alternate" type="application/json\+oembed" href="([^"]+)"', html
        )
        assert link, page
        discovered = client.get(link.group(1).replace("&amp;", "&"))
        assert discovered.status_code == 200
        assert json.loads(discovered.content)["title"] == poll.question
        assert f"/polls/{poll.slug}/embed/" in html and "/embed.js" in html
        assert quote(f"/polls/{poll.slug}/", safe="") in link.group(1)


def test_the_snippets_shown_to_publishers_are_the_html_to_paste(client):
    import html as html_lib

    poll = make_poll("Is <b>this</b> safe?", slug="tricky")
    page = client.get(poll.get_results_url()).content.decode()
    shown = html_lib.unescape(
        re.search(r'id="snippet-iframe"[^>]*>(.*?)</textarea>', page).group(1)
    )
    assert shown.startswith('<iframe src="http://testserver/polls/tricky/embed/"')
    assert 'title="Reader poll: Is &lt;b&gt;this&lt;/b&gt; safe?"' in shown
