"""Seen beacons: what counts, what is refused (4xx, nothing counted), the batched flush, and
what editors read (the poll's page, the poll list, the CSV exports)."""

import csv
import io
from collections import Counter
from threading import Thread
from urllib.parse import parse_qsl, urlencode

import pytest
import time_machine
from django.db import DatabaseError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from hypothesis import example, given
from hypothesis import strategies as st

from polls import engagement
from polls.models import Ballot, SeenCount
from tests.helpers import editor_client, make_article, make_poll, vote

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded;charset=UTF-8"
HOST = {"source": "embed", "host_origin": "https://news.example", "host_path": "/2026/edge"}


@pytest.fixture(autouse=True)
def empty_tally(monkeypatch, settings):
    """A worker's tally as it starts, with a cap no test but the cap's own reaches."""
    settings.SEEN_PER_MINUTE = 1000
    monkeypatch.setattr(engagement, "tally", engagement.SeenTally())


def beacon(slug: str, fields: dict | str | bytes, *, address: str = "127.0.0.1", **headers):
    body = fields if isinstance(fields, str | bytes) else urlencode(fields)
    return Client(REMOTE_ADDR=address).post(
        reverse("polls:seen", args=[slug]), body, content_type=FORM, headers=headers
    )


def counted() -> list[tuple]:
    engagement.tally.flush()
    return sorted(
        SeenCount.objects.values_list("poll__slug", "embedded", "host_origin", "host_path", "seen")
    )


def test_it_counts_the_widget_our_poll_page_and_our_article_each_as_the_vote_records_them(poll):
    article = make_article("Edge proxies", poll=poll)
    for fields in (
        HOST,
        HOST,
        {"source": "embed", "host_origin": "https://news.example", "host_path": ""},
        {"source": "poll_page"},
        {"source": "article", "article": article.slug},
    ):
        response = beacon(poll.slug, fields)
        assert response.status_code == 204
        assert not response.cookies
    assert counted() == [
        (poll.slug, False, "", f"/articles/{article.slug}/", 1),
        (poll.slug, False, "", f"/polls/{poll.slug}/", 1),
        (poll.slug, True, "https://news.example", "", 1),
        (poll.slug, True, "https://news.example", "/2026/edge", 2),
    ]


def test_it_counts_nothing_for_prefetches_prerenders_and_crawlers(poll):
    for headers in (
        {"Sec-Purpose": "prefetch;prerender"},
        {"Sec-Purpose": "prefetch"},
        {"Purpose": "prefetch"},
        {"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"},
        {"User-Agent": "Mozilla/5.0 AppleWebKit/537.36 (compatible; bingbot/2.0)"},
        {"User-Agent": "facebookexternalhit/1.1"},
    ):
        assert beacon(poll.slug, HOST, **headers).status_code == 204
    assert counted() == []


BAD_BEACONS = [
    pytest.param("", 400, id="empty"),
    pytest.param("source=nowhere", 400, id="unknown source"),
    pytest.param("source=embed&host_origin=javascript:alert(1)", 400, id="not an origin"),
    pytest.param("source=embed&host_origin=https://a.example:99999", 400, id="bad port"),
    pytest.param("source=embed&host_origin=https://a.example&host_path=no-slash", 400, id="path"),
    pytest.param("source=embed&host_path=/a%0Ab", 400, id="control character"),
    pytest.param("source=embed&host_path=/" + "a" * 600, 400, id="path too long"),
    pytest.param("source=embed&voter=42", 400, id="unknown field"),
    pytest.param("source=embed&source=embed", 400, id="repeated field"),
    pytest.param("source=poll_page&host_origin=https://a.example", 400, id="host on our page"),
    pytest.param("source=article", 400, id="article not named"),
    pytest.param("source=poll_page&article=edge", 400, id="article on the poll page"),
    pytest.param("source=article&article=no such slug", 400, id="not a slug"),
    pytest.param("host_origin=https://a.example", 400, id="no source"),
    pytest.param("source=embed&host_origin=https://a.example%0A", 400, id="origin with newline"),
    pytest.param("source=embed&&=", 400, id="not a form"),
    pytest.param(b"source=embed&host_path=/\xff", 400, id="not UTF-8"),
    pytest.param("source=embed&host_path=" + "/x" * 600, 413, id="oversized"),
]


@pytest.mark.parametrize(("body", "status"), BAD_BEACONS)
def test_a_malformed_or_oversized_beacon_is_refused_and_counts_nothing(poll, body, status):
    assert beacon(poll.slug, body).status_code == status
    assert counted() == []


def test_a_beacon_for_no_visible_poll_is_refused_and_counts_nothing(poll):
    draft = make_poll(state="draft")
    scheduled = make_poll(state="scheduled")
    for slug in ("no-such-poll", draft.slug, scheduled.slug):
        assert beacon(slug, HOST).status_code == 404
    assert counted() == []


def test_a_beacon_naming_an_article_of_another_poll_is_refused_and_counts_nothing(poll):
    other = make_poll("Another poll?", slug="another")
    article = make_article("About another poll", poll=other)
    unpublished = make_article("Tomorrow", poll=poll, days_ago=-1)
    assert beacon(poll.slug, {"source": "article", "article": article.slug}).status_code == 400
    assert beacon(poll.slug, {"source": "article", "article": unpublished.slug}).status_code == 400
    assert beacon(poll.slug, {"source": "article", "article": "nowhere"}).status_code == 400
    assert counted() == []


# Bodies that look like forms: names, "=", "&", escapes and "+" where they trip parsers up.
FORM_LIKE = st.text(alphabet=st.sampled_from("ab=&%+2F0z\u00e9;"), max_size=40)


@given(body=FORM_LIKE | st.text(max_size=40))
@example(body="a=1&b=2&c=3&d=4")
@example(body="a=1&b=2&c=3&d=4&e=5")  # one field more than a beacon has
@example(body="a=1&&b=2")
def test_the_beacons_form_parse_reads_what_parse_qsl_reads(body):
    try:
        expected = parse_qsl(
            body, keep_blank_values=True, strict_parsing=bool(body), max_num_fields=4
        )
    except ValueError:
        expected = None
    assert engagement.form_pairs(body) == expected


def test_a_beacon_must_be_a_form_post(poll):
    url = reverse("polls:seen", args=[poll.slug])
    assert Client().get(url).status_code == 405
    body = '{"source": "embed"}'
    assert Client().post(url, body, content_type="application/json").status_code == 415
    assert counted() == []


def test_a_host_site_not_allowed_to_embed_is_refused(poll, settings):
    settings.EMBED_ALLOWED_ORIGINS = ["https://partner.example"]
    assert beacon(poll.slug, HOST).status_code == 400
    allowed = {**HOST, "host_origin": "https://partner.example"}
    assert beacon(poll.slug, allowed).status_code == 204
    assert counted() == [(poll.slug, True, "https://partner.example", "/2026/edge", 1)]


def test_one_network_counts_at_most_seen_per_minute(poll, settings):
    settings.SEEN_PER_MINUTE = 3
    ipv6 = ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::9", "2001:db8:1:2::4"]
    # All within one minute, whenever the test runs.
    with time_machine.travel(timezone.now().replace(second=10), tick=False):
        answers = [beacon(poll.slug, HOST, address=address).status_code for address in ipv6]
        # The four addresses are one /64: one reader's network, as the vote rate limit sees it.
        assert answers == [204, 204, 204, 429]
        assert beacon(poll.slug, HOST, address="192.0.2.7").status_code == 204
    assert counted() == [(poll.slug, True, "https://news.example", "/2026/edge", 4)]


def test_a_flush_writes_each_page_and_hour_once_in_one_statement(poll):
    other = make_poll("Another poll?", slug="another")
    for _ in range(50):
        beacon(poll.slug, HOST)
        beacon(other.slug, {"source": "poll_page"})
    with CaptureQueriesContext(connection) as queries:
        assert engagement.tally.flush() == 2
    assert len(queries) == 1
    assert "ON CONFLICT" in queries[0]["sql"]
    beacon(poll.slug, HOST)
    engagement.tally.flush()
    assert sorted(SeenCount.objects.values_list("poll__slug", "seen")) == [
        ("another", 50),
        (poll.slug, 51),
    ]
    with CaptureQueriesContext(connection) as queries:
        assert engagement.tally.flush() == 0
    assert len(queries) == 0  # nothing counted, nothing written


@pytest.mark.django_db(transaction=True)
def test_two_workers_flushing_the_same_pages_at_once_both_write_everything(poll):
    """Two workers' counts of the same rows, in opposite orders, written at the same moment.
    In the order each worker counted them they deadlock, and PostgreSQL aborts one flush."""
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    keys = [(poll.pk, True, "https://news.example", f"/2026/{n}", hour) for n in range(200)]
    failures = []

    def flush_rounds(order: list) -> None:
        try:
            for _ in range(20):
                engagement.seen_counts_add(Counter(order))
        except DatabaseError as error:
            failures.append(error)
        finally:
            connection.close()

    workers = [Thread(target=flush_rounds, args=(order,)) for order in (keys, keys[::-1])]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []
    seen = SeenCount.objects.values_list("seen", flat=True)
    assert len(seen) == 200
    assert set(seen) == {40}


def engaged_poll():
    poll = make_poll("Which proxy?", slug="which-proxy")
    article = make_article("Edge proxies", poll=poll)
    for _ in range(4):
        beacon(poll.slug, HOST)
    beacon(poll.slug, {**HOST, "host_path": ""})
    beacon(poll.slug, {"source": "article", "article": article.slug})
    beacon(poll.slug, {"source": "article", "article": article.slug})
    engagement.tally.flush()
    vote(
        poll,
        "Envoy",
        voter="reader-a",
        source=Ballot.Source.EMBED,
        host_origin="https://news.example",
        host_path="/2026/edge",
    )
    vote(poll, "NGINX", voter="reader-b", source=Ballot.Source.ARTICLE, article=article)
    return poll, article


def test_the_poll_page_in_the_admin_shows_seen_votes_and_rate_per_site_and_page():
    poll, article = engaged_poll()
    page = editor_client().get(reverse("admin:polls_poll_change", args=[poll.pk]))
    engaged = page.context["engagement"]
    assert (engaged.total.seen, engaged.total.votes, engaged.total.rate_text) == (7, 2, "28.6%")
    assert [(r.label, r.seen, r.votes, r.rate_text) for r in engaged.by_site] == [
        ("https://news.example", 5, 1, "20.0%"),
        ("Our site", 2, 1, "50.0%"),
    ]
    assert [(r.label, r.seen, r.votes) for r in engaged.by_page] == [
        ("https://news.example/2026/edge", 4, 1),
        (f"Our site: /articles/{article.slug}/", 2, 1),
        ("https://news.example (page unknown)", 1, 0),
    ]
    html = page.content.decode()
    assert "https://news.example (page unknown)" in html
    assert 'class="votes-chart seen-chart"' in html


def test_the_admin_shows_the_20_most_seen_pages():
    poll = make_poll()
    for n in range(25):
        for _ in range(n + 1):
            beacon(poll.slug, {**HOST, "host_path": f"/page-{n}"})
    engagement.tally.flush()
    pages = engagement.poll_engagement(poll).by_page
    assert [row.label for row in pages] == [
        f"https://news.example/page-{n}" for n in range(24, 4, -1)
    ]


def test_the_poll_list_has_an_engagement_column():
    engaged_poll()
    make_poll("Nobody saw it?", slug="unseen")
    page = editor_client().get(reverse("admin:polls_poll_changelist")).content.decode()
    assert "28.6% of 7 seen" in page
    assert "Not seen yet" in page


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.reader(io.StringIO(body[1:])))


def test_the_csv_exports_carry_seen_and_the_engagement_rate():
    poll, article = engaged_poll()
    client = editor_client()
    results = csv_rows(client.get(reverse("admin:polls_poll_results_csv", args=[poll.pk])))
    assert results[0][-2:] == ["Seen", "Engagement rate (%)"]
    assert {tuple(row[-2:]) for row in results[1:]} == {("7", "28.6")}
    pages = csv_rows(client.get(reverse("admin:polls_poll_engagement_csv", args=[poll.pk])))
    assert pages == [
        ["Site", "Page", "Seen", "Votes", "Engagement rate (%)"],
        ["https://news.example", "https://news.example/2026/edge", "4", "1", "25.0"],
        ["Our site", f"Our site: /articles/{article.slug}/", "2", "1", "50.0"],
        ["https://news.example", "https://news.example (page unknown)", "1", "0", "0.0"],
    ]
