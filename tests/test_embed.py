"""The widget, its vote, the loader, oEmbed and the results JSON, through Django's test client."""

import gzip
import json
import re
from urllib.parse import quote

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from polls import voters
from polls.models import Ballot
from polls.snippets import widget_height
from polls.voters import EMBED_VOTER_COOKIE, vote_token_issue
from tests.helpers import counts, make_poll, snapshot, vote, vote_form

pytestmark = pytest.mark.django_db


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


def test_the_widget_is_sent_gzipped_to_browsers_that_take_it_with_an_etag_of_its_own(client, poll):
    url = reverse("polls:embed", args=[poll.slug])
    plain = client.get(url)
    gzipped = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br, zstd"})
    assert "Content-Encoding" not in plain
    assert gzipped["Content-Encoding"] == "gzip"
    assert gzip.decompress(gzipped.content) == plain.content
    assert len(gzipped.content) < len(plain.content) / 2
    for response in (plain, gzipped):
        assert "Accept-Encoding" in response["Vary"]
        assert response["Cache-Control"].startswith("public")
    # One ETag per encoding: a cache never answers 304 for the other one's bytes.
    assert gzipped["ETag"] != plain["ETag"]
    again = client.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": gzipped["ETag"]})
    assert again.status_code == 304 and "Accept-Encoding" in again["Vary"]
    assert client.get(url, headers={"If-None-Match": gzipped["ETag"]}).status_code == 200
    for refused in ("gzip;q=0", "br, gzip ; q=0.0", "identity"):
        assert "Content-Encoding" not in client.get(url, headers={"Accept-Encoding": refused})
    for accepted in ("gzip;q=0.5", "GZIP"):
        assert client.get(url, headers={"Accept-Encoding": accepted})["Content-Encoding"]


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
    assert vote(poll, "Envoy", client=Client(), widget=True).status_code == 200
    changed = client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed["ETag"] != etag


def test_a_widget_vote_counts_records_the_host_page_and_sets_a_partitioned_cookie(client, poll):
    response = vote(
        poll,
        "HAProxy",
        client=client,
        widget=True,
        host_origin="https://news.example",
        host_path="/2024/envoy",
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
    first = vote(poll, "Envoy", client=Client(), widget=True)
    reader = Client()
    reader.cookies[EMBED_VOTER_COOKIE] = embed_cookie_from(first)
    before = snapshot()
    second = vote(poll, "NGINX", client=reader, widget=True)
    assert second.status_code == 409
    html = second.content.decode()
    assert "You have already voted in this poll." in html and 'data-voted-choice="' in html
    assert snapshot() == before


def test_a_replayed_token_is_refused(poll):
    token = vote_token_issue(poll)
    assert vote(poll, "Envoy", client=Client(), widget=True, token=token).status_code == 200
    before = snapshot()
    replay = vote(poll, "NGINX", client=Client(), widget=True, token=token)
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
    response = vote(poll, "Envoy", client=client, widget=True, token=token)
    assert response.status_code == 403
    assert message in response.content.decode()
    assert 'type="radio"' in response.content.decode()
    assert snapshot() == before


def test_a_token_for_another_poll_is_refused(client, poll):
    other = make_poll("Other?", ("Yes", "No"))
    before = snapshot()
    response = vote(poll, "Envoy", client=client, widget=True, token=vote_token_issue(other))
    assert response.status_code == 403
    assert "This voting form belongs to another poll." in response.content.decode()
    assert snapshot() == before


def test_an_expired_token_is_refused(client, poll, monkeypatch):
    token = vote_token_issue(poll)
    monkeypatch.setattr(voters, "TOKEN_MAX_AGE_SECONDS", -1)
    before = snapshot()
    response = vote(poll, "Envoy", client=client, widget=True, token=token)
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
    response = vote(poll, "Envoy", client=client, widget=True, headers=headers)
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
    response = vote(poll, "Envoy", client=client, widget=True, **fields)
    assert response.status_code == status
    assert snapshot() == before


def test_a_host_outside_the_allowed_origins_cannot_vote(client, poll, settings):
    settings.EMBED_ALLOWED_ORIGINS = ["https://news.example"]
    before = snapshot()
    response = vote(
        poll, "Envoy", client=client, widget=True, host_origin="https://elsewhere.example"
    )
    assert response.status_code == 400
    assert "This site is not allowed to embed the poll." in response.content.decode()
    assert snapshot() == before
    assert (
        vote(
            poll, "Envoy", client=client, widget=True, host_origin="https://news.example"
        ).status_code
        == 200
    )


def test_closed_draft_and_unknown_polls_refuse_widget_votes(client):
    closed = make_poll(state="closed")
    draft = make_poll(state="draft")
    before = snapshot()
    assert vote(closed, "Envoy", client=client, widget=True).status_code == 409
    assert vote(draft, "Envoy", client=client, widget=True).status_code == 404
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


def test_a_widget_token_buys_no_vote_on_our_pages_from_another_site(poll):
    """Our own form takes the same single-use token as the widget, and only from our pages."""
    client = Client(headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
    response = client.post(
        reverse("polls:vote", args=[poll.slug]),
        {"choice": poll.choices.first().pk, "token": vote_token_issue(poll)},
    )
    assert response.status_code == 403
    assert Ballot.objects.count() == 0


def test_the_results_json_has_counts_percentages_cors_and_etag(client, poll):
    vote(poll, "Envoy", client=Client(), widget=True)
    vote(poll, "Envoy", client=Client(), widget=True)
    vote(poll, "NGINX", client=Client(), widget=True)
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
    assert body["width"] == 600 and body["height"] == widget_height(poll, 600)
    html = body["html"]
    assert f'src="http://testserver/polls/{poll.slug}/embed/"' in html
    assert f'title="Reader poll: {poll.question}"' in html
    # A plain link first, for WordPress (which shows it until the widget speaks) and for hosts
    # where the frame fails; the loader for hosts that paste the html as it is.
    assert html.startswith(
        f'<blockquote class="pollsite-fallback"><a href="{url}">{poll.question}</a></blockquote>'
    )
    assert html.endswith('<script src="http://testserver/embed.js" async></script>')
    assert body["provider_name"] == settings.SITE_NAME
    for results_url in (url + "results/", url + "embed/"):
        assert oembed(client, url=results_url).status_code == 200


def test_oembed_honours_maxwidth_and_maxheight(client, poll):
    url = "http://testserver" + poll.get_absolute_url()
    body = oembed(client, url=url, maxwidth="320", maxheight="300").json()
    assert (body["width"], body["height"]) == (320, 300)
    # The frame fills the host's column: a fixed width overflows a phone wherever the host
    # strips max-width (WordPress). oEmbed's width stays the number the height was sized for.
    assert 'width="100%"' in body["html"] and 'height="300"' in body["html"]
    assert oembed(client, url=url, maxwidth="9000").json()["width"] == 600


def test_oembed_height_is_the_tallest_state_at_the_width_asked_for(client):
    poll = make_poll(
        "How has the recent turmoil changed your plans to use GPT in a product in 2024?",
        (
            "Increased uncertainty means we are more likely to evaluate alternative LLMs.",
            *(f"No change in plans, though we will keep an eye on it ({n})." for n in range(3)),
        ),
    )
    url = "http://testserver" + poll.get_absolute_url()
    heights = [
        oembed(client, url=url, maxwidth=str(width), maxheight="2000").json()["height"]
        for width in (320, 500, 600)
    ]
    # Narrower frames wrap more lines: taller; and every height is the poll's own.
    assert heights[0] > heights[1] > heights[2] > 440
    assert heights == [widget_height(poll, width) for width in (320, 500, 600)]
    short = make_poll("Yes or no?", ("Yes", "No"))
    assert widget_height(short, 600) < widget_height(poll, 600)


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
        # Digits that str.isdigit() accepts but are not ASCII: one raised a 500, one read as 300.
        ({"maxwidth": "²"}, 400),
        ({"maxheight": "①"}, 400),
        ({"maxwidth": "٣٠٠"}, 400),
        ({"url": "http://[::1/polls/x/"}, 400),
        ({"url": "http://testserver:99999/polls/SLUG/"}, 400),
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


@pytest.fixture
def database_down(monkeypatch):
    """Every query fails as it does while PostgreSQL is unreachable."""
    from django.db import OperationalError
    from django.db.backends.utils import CursorWrapper

    def fail(*args, **kwargs):
        raise OperationalError("connection to server failed: Connection refused")

    monkeypatch.setattr(CursorWrapper, "execute", fail)


def test_during_an_outage_the_widget_says_so_inside_the_publishers_page(client, database_down):
    response = client.get("/polls/any-poll/embed/")
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert b"The poll is briefly unavailable." in response.content
    assert b'class="widget widget--message"' in response.content
    # Framable where the widget is, not the browser's error box.
    assert "X-Frame-Options" not in response
    assert "frame-ancestors *" in response["Content-Security-Policy"]
    vote = client.post("/polls/any-poll/embed/vote/", {"choice": "1"})
    assert vote.status_code == 503 and b"briefly unavailable" in vote.content
    assert "X-Frame-Options" not in vote


def test_during_an_outage_the_token_and_oembed_answer_json(client, database_down):
    sandboxed = {
        "HTTP_ORIGIN": "null",
        "HTTP_SEC_FETCH_MODE": "cors",
        "HTTP_SEC_FETCH_DEST": "empty",
    }
    token = client.post("/polls/any-poll/embed/token/", **sandboxed)
    assert token.status_code == 503 and "briefly unavailable" in token.json()["error"]
    assert token["Access-Control-Allow-Origin"] == "null"
    oembed = client.get("/oembed", {"url": "http://testserver/polls/any-poll/"})
    assert oembed.status_code == 503 and "error" in oembed.json()
    vote = client.post("/polls/any-poll/embed/vote/", HTTP_ACCEPT="application/json")
    assert vote.status_code == 503 and "error" in vote.json()


def test_unknown_and_draft_polls_get_a_message_in_the_frame(client):
    draft = make_poll(state="draft")
    for slug in ("no-such-poll", draft.slug):
        response = client.get(f"/polls/{slug}/embed/")
        assert response.status_code == 404
        assert b"This poll is not available." in response.content
        assert "X-Frame-Options" not in response
        assert "frame-ancestors *" in response["Content-Security-Policy"]
    refused = client.post(f"/polls/{draft.slug}/embed/vote/", HTTP_ACCEPT="application/json")
    assert refused.status_code == 404 and "not available" in refused.json()["message"]


# What Chromium sends with a script's fetch from a frame sandboxed without allow-same-origin.
SANDBOXED_FETCH = {
    "Origin": "null",
    "Sec-Fetch-Site": "cross-site",
    "Sec-Fetch-Mode": "cors",
    "Sec-Fetch-Dest": "empty",
    "Accept": "application/json",
}


def sandboxed_token(client, poll) -> str:
    """What the sandboxed widget's script does before it votes: a token, and with it the
    reader's partitioned cookie, which the test client keeps."""
    answer = client.post(reverse("polls:embed_token", args=[poll.slug]), headers=SANDBOXED_FETCH)
    if answer.has_header("Set-Cookie"):  # only to a reader who has none yet
        client.cookies[EMBED_VOTER_COOKIE] = embed_cookie_from(answer)
    return answer.json()["token"]


def test_a_sandboxed_widget_votes_by_fetch_and_gets_json_with_cors_for_null(client, poll):
    token = sandboxed_token(client, poll)
    response = vote(poll, "NGINX", client=client, widget=True, token=token, headers=SANDBOXED_FETCH)
    assert response.status_code == 200
    body = response.json()
    nginx = poll.choices.get(text="NGINX").pk
    assert body["ok"] and body["choice"] == nginx and body["total"] == 1
    assert {c["id"]: c["votes"] for c in body["choices"]}[nginx] == 1
    assert response["Access-Control-Allow-Origin"] == "null"
    assert response["Access-Control-Allow-Credentials"] == "true"
    assert "Origin" in response["Vary"] and response["Cache-Control"] == "no-store"
    assert "Partitioned" in response["Set-Cookie"] and "SameSite=None" in response["Set-Cookie"]
    assert Ballot.objects.get().source == Ballot.Source.EMBED_SANDBOXED

    # The reader's cookie: the token answer says what they voted, a second vote is refused.
    client.cookies[EMBED_VOTER_COOKIE] = embed_cookie_from(response)
    token = client.post(reverse("polls:embed_token", args=[poll.slug]), headers=SANDBOXED_FETCH)
    assert token.json()["choice"] == nginx and token.json()["token"]
    assert token["Access-Control-Allow-Origin"] == "null"
    again = vote(poll, "Envoy", client=client, widget=True, headers=SANDBOXED_FETCH)
    assert again.status_code == 409 and again.json()["choice"] == nginx
    assert counts(poll) == {"Envoy": 0, "NGINX": 1, "HAProxy": 0}


def test_a_sandboxed_page_that_sends_no_cookies_gets_no_vote(poll):
    """A hostile page in <iframe sandbox="allow-scripts" srcdoc> fetching with credentials
    "omit": each token it fetched used to make it a new reader, a ballot each time."""
    statuses = []
    for _ in range(3):
        no_cookies = Client()
        token = no_cookies.post(
            reverse("polls:embed_token", args=[poll.slug]), headers=SANDBOXED_FETCH
        ).json()["token"]
        refused = vote(
            poll, "NGINX", client=Client(), widget=True, token=token, headers=SANDBOXED_FETCH
        )
        statuses.append(refused.status_code)
        assert "Open the poll on our site" in refused.json()["message"]
        assert refused["Access-Control-Allow-Origin"] == "null"  # the widget can say why
    assert statuses == [403, 403, 403]
    assert not Ballot.objects.exists()


def test_a_sandboxed_reader_with_their_cookie_votes_once(client, poll):
    first = vote(
        poll,
        "Envoy",
        client=client,
        widget=True,
        token=sandboxed_token(client, poll),
        headers=SANDBOXED_FETCH,
    )
    second = vote(
        poll,
        "Envoy",
        client=client,
        widget=True,
        token=sandboxed_token(client, poll),
        headers=SANDBOXED_FETCH,
    )
    assert (first.status_code, second.status_code) == (200, 409)
    assert Ballot.objects.count() == 1


def test_a_widget_vote_whose_answer_was_lost_is_a_repeat_when_retried(poll):
    """The voter id comes with the token, before the vote: a retry after a lost answer (a
    dropped connection, a 503 sent after the commit) is the same reader, not a second one."""
    client = Client()
    for _ in range(2):
        token = client.post(reverse("polls:embed_token", args=[poll.slug]))
        if token.has_header("Set-Cookie"):
            client.cookies[EMBED_VOTER_COOKIE] = embed_cookie_from(token)
        # The vote's answer, and the cookie it may carry, never reach the reader.
        retried = vote(
            poll,
            "Envoy",
            client=client,
            widget=True,
            token=token.json()["token"],
            headers={"Accept": "application/json"},
        )
    assert retried.status_code == 409
    assert Ballot.objects.count() == 1


def test_a_token_fetched_by_another_reader_votes_for_no_one_else(poll):
    reader, other = Client(), Client()
    token = other.post(reverse("polls:embed_token", args=[poll.slug]))
    mine = reader.post(reverse("polls:embed_token", args=[poll.slug]))
    reader.cookies[EMBED_VOTER_COOKIE] = embed_cookie_from(mine)
    refused = vote(poll, "Envoy", client=reader, widget=True, token=token.json()["token"])
    assert refused.status_code == 403 and not Ballot.objects.exists()


# The widget's own form, sent by a browser whose frame runs no script: no visibility verdict.
FORM_IN_FRAME = {"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate"}


def test_a_form_vote_from_a_frame_without_script_counts_nothing_and_says_where_to_vote(poll):
    """A transparent frame with scripts off (sandbox="allow-forms allow-same-origin") over a
    decoy button: the click posts the widget's form, and used to count silently."""
    response = vote(
        poll,
        "NGINX",
        client=Client(),
        widget=True,
        headers={**FORM_IN_FRAME, "Sec-Fetch-Dest": "iframe"},
    )
    assert response.status_code == 200
    assert f"http://testserver/polls/{poll.slug}/?choice=" in response.content.decode()
    assert not Ballot.objects.exists()


def test_a_form_vote_without_script_opens_our_poll_page_to_confirm_the_choice(poll):
    client = Client()
    nginx = poll.choices.get(text="NGINX").pk
    response = vote(
        poll,
        "NGINX",
        client=client,
        widget=True,
        headers={**FORM_IN_FRAME, "Sec-Fetch-Dest": "document"},
    )
    assert response.status_code == 303
    assert response["Location"] == f"/polls/{poll.slug}/?choice={nginx}"
    assert not Ballot.objects.exists()
    page = client.get(response["Location"])
    assert page["X-Frame-Options"] == "DENY"
    assert re.search(rf'<input[^>]*value="{nginx}"[^>]*checked', page.content.decode())
    assert "Press Vote to count it: nothing has been counted yet." in page.content.decode()
    assert (
        client.post(
            reverse("polls:vote", args=[poll.slug]), vote_form(poll, choice=nginx)
        ).status_code
        == 303
    )
    assert Ballot.objects.get().source == Ballot.Source.POLL_PAGE


def test_the_widgets_form_opens_a_new_tab_and_its_script_votes_with_a_verdict(client, poll):
    html = client.get(reverse("polls:embed", args=[poll.slug])).content.decode()
    assert re.search(r'<form class="widget__form"[^>]*target="_blank"', html)
    seen = vote(
        poll,
        "NGINX",
        client=client,
        widget=True,
        visibility="visible",
        headers={
            **FORM_IN_FRAME,
            "Sec-Fetch-Mode": "cors",
            "Sec-Fetch-Dest": "empty",
            "Accept": "application/json",
        },
    )
    assert seen.status_code == 200 and Ballot.objects.get().frame_visibility == "visible"


@pytest.mark.parametrize(
    "headers",
    [
        # A form posted from a sandboxed or data: page is a navigation, not a script's fetch.
        {**SANDBOXED_FETCH, "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"},
        {"Origin": "null"},
        {"Origin": "null", "Sec-Fetch-Mode": "cors"},
        {"Origin": "https://evil.example", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"},
    ],
)
def test_only_a_sandboxed_scripts_fetch_may_vote_from_an_opaque_origin(client, poll, headers):
    before = snapshot()
    response = vote(
        poll,
        "Envoy",
        client=client,
        widget=True,
        headers={"Sec-Fetch-Site": "cross-site", **headers},
    )
    assert response.status_code == 403
    assert snapshot() == before
    assert "Access-Control-Allow-Origin" not in response


def test_sandboxed_votes_can_be_turned_off(client, poll, settings):
    settings.EMBED_SANDBOXED_VOTES = False
    before = snapshot()
    response = vote(poll, "Envoy", client=client, widget=True, headers=SANDBOXED_FETCH)
    assert response.status_code == 403 and "cannot be cast" in response.json()["message"]
    # Readable by the widget, so it can say why.
    assert response["Access-Control-Allow-Origin"] == "null"
    assert snapshot() == before


def test_the_script_vote_is_answered_with_json_and_the_form_with_the_page(client, poll):
    script = vote(poll, "Envoy", client=client, widget=True, headers={"Accept": "application/json"})
    assert script["Content-Type"] == "application/json" and script.json()["ok"]
    assert "Access-Control-Allow-Origin" not in script  # same origin: no CORS
    form = vote(poll, "NGINX", client=Client(), widget=True)
    assert form["Content-Type"].startswith("text/html")
    assert b"Thank you, your vote was counted." in form.content


@pytest.mark.parametrize(
    ("host_origin", "status"),
    [
        ("", 400),  # leaving the origin out is no way around the list
        ("https://news.example", 200),
        ("https://news.example:99999", 400),
        ("https://elsewhere.example", 400),
    ],
)
def test_with_a_list_of_sites_a_vote_must_name_one(client, poll, settings, host_origin, status):
    settings.EMBED_ALLOWED_ORIGINS = ["https://news.example"]
    response = vote(poll, "Envoy", client=client, widget=True, host_origin=host_origin)
    assert response.status_code == status
    assert Ballot.objects.count() == (1 if status == 200 else 0)


def test_an_origin_with_an_impossible_port_is_refused(client, poll):
    response = vote(
        poll, "Envoy", client=client, widget=True, host_origin="https://news.example:99999"
    )
    assert response.status_code == 400 and Ballot.objects.count() == 0


def test_absolute_links_come_from_site_url_never_the_host_header(client, poll, settings):
    """Django accepts any port on an allowed host; a link built from the Host header would be
    kept by shared caches (oEmbed: an hour) and served to everyone."""
    settings.SITE_URL = "https://polls.example"
    settings.ALLOWED_HOSTS = ["polls.example", "localhost"]
    forged = {"HTTP_HOST": "localhost:1"}
    answers = [
        client.get("/oembed", {"url": "https://polls.example" + poll.get_absolute_url()}, **forged),
        client.get(reverse("polls:embed", args=[poll.slug]), **forged),
        client.get(reverse("polls:api_results", args=[poll.slug]), **forged),
        client.get(poll.get_absolute_url(), **forged),
    ]
    for answer in answers:
        assert answer.status_code == 200
        body = answer.content.decode()
        assert "localhost:1" not in body and "https://polls.example/polls/" in body
    assert answers[2].json()["poll"]["url"] == "https://polls.example" + poll.get_absolute_url()


def test_the_declared_height_makes_room_for_the_write_in_box():
    poll = make_poll("Which proxy?", ("Envoy", "NGINX", "HAProxy", "Other", "Caddy", "Traefik"))
    without = widget_height(poll, 600)
    poll.choices.filter(text="Other").update(is_write_in=True, stays_last=True)
    assert widget_height(poll, 600) > without
