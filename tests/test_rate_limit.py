import ipaddress
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from polls import rate_limit
from polls.models import Ballot, Choice, Poll, RecentVoteAttempts
from polls.rate_limit import client_address
from polls.services import ballot_cast
from polls.voters import vote_token_issue
from tests.helpers import ROOT, manage, vote_form

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_per_window(settings):
    settings.VOTE_RATE_LIMIT = (3, 600)


def page_vote(poll, address="203.0.113.7", **headers):
    """A new reader (no cookies) voting on our own page from the given address."""
    return Client(REMOTE_ADDR=address).post(
        reverse("polls:vote", args=[poll.slug]),
        vote_form(poll, choice=poll.choices.first().pk),
        headers=headers,
    )


def widget_vote(poll, address="203.0.113.7", **headers):
    return Client(REMOTE_ADDR=address).post(
        reverse("polls:embed_vote", args=[poll.slug]),
        {"choice": poll.choices.first().pk, "token": vote_token_issue(poll)},
        headers=headers,
    )


PROXY = ipaddress.ip_network("10.0.0.0/8")


@pytest.mark.parametrize(
    ("proxies", "socket", "forwarded", "expected"),
    [
        (0, "10.0.0.9", "", "10.0.0.9"),
        (0, "10.0.0.9", "198.51.100.1", "10.0.0.9"),
        (1, "10.0.0.9", "", "10.0.0.9"),
        (1, "10.0.0.9", "198.51.100.1", "198.51.100.1"),
        (1, "10.0.0.9", "6.6.6.6, 198.51.100.1", "198.51.100.1"),
        (1, "::ffff:10.0.0.9", "198.51.100.1", "198.51.100.1"),
        # A client that reaches the app directly, not through the proxy, chooses nothing.
        (1, "203.0.113.66", "198.51.100.1", "203.0.113.66"),
        (2, "10.0.0.9", "6.6.6.6, 198.51.100.1, 10.1.1.1", "198.51.100.1"),
        (2, "10.0.0.9", "192.0.2.10", "192.0.2.10"),
        # The second hop is believed only if the first one named a proxy.
        (2, "10.0.0.9", "6.6.6.6, 198.51.100.1", "198.51.100.1"),
        # An entry that is not an address is not believed: the hop that wrote it is the client.
        (2, "10.0.0.9", "garbage, not-an-address", "10.0.0.9"),
        (2, "10.0.0.9", "not-an-address, 10.1.1.1", "10.1.1.1"),
        (1, "10.0.0.9", "unknown", "10.0.0.9"),
        # One address, however it is written: a port dropped, IPv4-mapped IPv6 read as IPv4,
        # IPv6 in its canonical form.
        (1, "10.0.0.9", "198.51.100.1:4711", "198.51.100.1"),
        (1, "10.0.0.9", "::ffff:198.51.100.1", "198.51.100.1"),
        (1, "10.0.0.9", "[::ffff:198.51.100.1]:443", "198.51.100.1"),
        (1, "10.0.0.9", "2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        (1, "10.0.0.9", "[2001:db8::0001]:443", "2001:db8::1"),
        (1, "10.0.0.9", "fe80::1%eth0", "fe80::1"),
        (0, "::FFFF:198.51.100.1", "", "198.51.100.1"),
        (0, "2001:0db8::1", "", "2001:db8::1"),
    ],
)
def test_the_client_address_trusts_only_the_configured_proxies(
    settings, proxies, socket, forwarded, expected
):
    settings.TRUSTED_PROXY_COUNT = proxies
    settings.TRUSTED_PROXIES = [PROXY]
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    request = RequestFactory().get("/", REMOTE_ADDR=socket, **headers)
    assert client_address(request) == expected


def test_behind_a_proxy_a_client_reaching_the_app_directly_cannot_choose_its_address(
    poll, settings, three_per_window
):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = [PROXY]
    statuses = [
        page_vote(poll, address="203.0.113.66", **{"X-Forwarded-For": f"192.0.2.{n}"}).status_code
        for n in range(6)
    ]
    assert statuses == [303, 303, 303, 429, 429, 429]
    # Through the proxy, each reader's own address counts.
    assert (
        page_vote(poll, address="10.0.0.2", **{"X-Forwarded-For": "192.0.2.1"}).status_code == 303
    )


def test_the_addresses_of_one_ipv6_64_share_one_budget(poll, three_per_window):
    """Every IPv6 host has a /64 of its own and may use any address in it."""
    statuses = [page_vote(poll, address=f"2001:db8:1:2::{n:x}").status_code for n in range(1, 7)]
    assert statuses == [303, 303, 303, 429, 429, 429]
    assert page_vote(poll, address="2001:db8:1:2:ffff:ffff:ffff:ffff").status_code == 429
    # The next /64 is another network.
    assert page_vote(poll, address="2001:db8:1:3::1").status_code == 303


def test_behind_a_proxy_the_addresses_of_one_ipv6_64_share_one_budget(
    poll, settings, three_per_window
):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.1/32")]
    statuses = [
        page_vote(
            poll, address="127.0.0.1", **{"X-Forwarded-For": f"2001:db8:5:6:{n:x}::1"}
        ).status_code
        for n in range(1, 11)
    ]
    assert statuses == [303] * 3 + [429] * 7
    other = page_vote(poll, address="127.0.0.1", **{"X-Forwarded-For": "2001:db8:5:7::1"})
    assert other.status_code == 303


def test_one_address_however_it_is_written_has_one_budget(poll, settings, three_per_window):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = [PROXY]
    spellings = [
        "198.51.100.5",
        "::ffff:198.51.100.5",
        "198.51.100.5:4711",
        "[::ffff:c633:6405]:80",
    ]
    statuses = [
        page_vote(poll, address="10.0.0.2", **{"X-Forwarded-For": spelling}).status_code
        for spelling in spellings
    ]
    assert statuses == [303, 303, 303, 429]
    # Its socket's address, in the IPv4-mapped form a dual-stack server sees, is the same reader.
    assert page_vote(poll, address="::ffff:198.51.100.5").status_code == 429
    assert page_vote(poll, address="198.51.100.6").status_code == 303


def test_forwarded_entries_that_are_not_addresses_share_the_proxys_budget(
    poll, settings, three_per_window
):
    """Garbage in X-Forwarded-For does not buy a budget per string: the request is known by the
    proxy that wrote it."""
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = [PROXY]
    garbage = ["unknown", "x", "_hidden", "999.1.1.1", "2001:db8::1::2", "[::1", "1.2.3.4:x"]
    statuses = [
        page_vote(poll, address="10.0.0.2", **{"X-Forwarded-For": entry}).status_code
        for entry in garbage
    ]
    assert statuses == [303, 303, 303] + [429] * 4
    assert page_vote(poll, address="10.0.0.2").status_code == 429
    # The readers the proxy names properly are unaffected.
    assert (
        page_vote(poll, address="10.0.0.2", **{"X-Forwarded-For": "192.0.2.1"}).status_code == 303
    )


def test_votes_over_the_limit_get_429_with_retry_after_and_change_nothing(poll, three_per_window):
    for _ in range(3):
        assert page_vote(poll).status_code == 303
    before = (list(Choice.objects.values_list("votes", flat=True)), Ballot.objects.count())
    refused = page_vote(poll)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 600
    assert "Too many votes have come from your network" in refused.content.decode()
    assert (list(Choice.objects.values_list("votes", flat=True)), Ballot.objects.count()) == before
    # Another address is not affected.
    assert page_vote(poll, address="198.51.100.23").status_code == 303


def test_the_widget_shows_the_limit_as_a_readable_message(poll, three_per_window):
    for _ in range(3):
        assert widget_vote(poll).status_code == 200
    refused = widget_vote(poll)
    assert refused.status_code == 429 and refused["Retry-After"]
    html = refused.content.decode()
    assert "Too many votes have come from your network" in html and "widget__notice" in html


def test_a_forged_x_forwarded_for_buys_no_votes(poll, settings, three_per_window):
    settings.TRUSTED_PROXY_COUNT = 0
    statuses = [
        page_vote(poll, **{"X-Forwarded-For": f"192.0.2.{n}"}).status_code for n in range(6)
    ]
    assert statuses == [303, 303, 303, 429, 429, 429]

    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = [PROXY]
    RecentVoteAttempts.objects.all().delete()
    # Behind one proxy, the client controls only what the proxy did not append.
    statuses = [
        page_vote(
            poll, address="10.0.0.1", **{"X-Forwarded-For": f"192.0.2.{n}, 198.51.100.50"}
        ).status_code
        for n in range(5)
    ]
    assert statuses == [303, 303, 303, 429, 429]


def test_the_limit_state_lives_in_postgresql_with_hashed_addresses(poll, three_per_window):
    page_vote(poll, address="203.0.113.99")
    widget_vote(poll, address="203.0.113.99")
    recent = RecentVoteAttempts.objects.get()
    assert sum(recent.admitted_count) == 2
    assert "203.0.113.99" not in recent.address_hash and len(recent.address_hash) == 64
    assert not Ballot.objects.filter(voter_hash__contains="203.0.113").exists()


def test_refusals_are_counted_for_the_integrity_line_once_per_reader_and_network(
    client, poll, three_per_window
):
    reader = Client(REMOTE_ADDR="203.0.113.5")
    url = reverse("polls:vote", args=[poll.slug])
    assert reader.post(url, vote_form(poll, choice=poll.choices.first().pk)).status_code == 303
    # Nothing refused yet: no "0 readers" in the fine print.
    assert "One vote per reader.</p>" in client.get(poll.get_results_url()).content.decode()
    assert reader.post(url, vote_form(poll, choice=poll.choices.last().pk)).status_code == 409
    html = client.get(poll.get_results_url()).content.decode()
    assert "One vote per reader. Not counted: a second vote from 1 reader.</p>" in html
    assert reader.post(url, vote_form(poll, choice=poll.choices.last().pk)).status_code == 409
    assert reader.post(url, vote_form(poll, choice=poll.choices.last().pk)).status_code == 429
    assert page_vote(poll, address="203.0.113.5").status_code == 429
    html = client.get(poll.get_results_url()).content.decode()
    assert "not a scientific sample" in html
    assert (
        "One vote per reader. Not counted: a second vote from 1 reader, and votes from 1 network"
        " that sent too many at once." in html
    )
    assert "1 vote in total" in html


def test_one_client_repeating_its_vote_cannot_inflate_the_line_or_touch_the_poll(
    client, poll, settings
):
    """1,000 repeats with one voter cookie: one refused reader, and the poll's row, its
    widget's ETag and its kept copy in every worker stay as they were."""
    settings.VOTE_RATE_LIMIT = (100, 600)
    reader = Client(REMOTE_ADDR="203.0.113.5")
    url = reverse("polls:vote", args=[poll.slug])
    assert reader.post(url, vote_form(poll, choice=poll.choices.first().pk)).status_code == 303
    etag = client.get(reverse("polls:embed", args=[poll.slug]))["ETag"]
    row = Poll.objects.values().get(pk=poll.pk)
    statuses = {
        reader.post(url, vote_form(poll, choice=poll.choices.last().pk)).status_code
        for _ in range(1000)
    }
    assert statuses == {409, 429}
    for junk in range(50):
        reader.post(url, vote_form(poll, choice=f"x{junk}"))
    assert Poll.objects.values().get(pk=poll.pk) == row
    assert client.get(reverse("polls:embed", args=[poll.slug]))["ETag"] == etag
    html = client.get(poll.get_results_url()).content.decode()
    assert "a second vote from 1 reader, and votes from 1 network" in html


def test_failed_attempts_count_against_the_limit_too(poll, three_per_window):
    """Forged tokens and empty forms are attempts: they cannot be used to probe for free."""
    url = reverse("polls:embed_vote", args=[poll.slug])
    reader = Client(REMOTE_ADDR="203.0.113.8")
    choice = poll.choices.first().pk
    assert reader.post(url, {"choice": choice, "token": "forged"}).status_code == 403
    assert reader.post(url, {"token": vote_token_issue(poll)}).status_code == 400
    assert reader.post(url, {"choice": choice, "token": "forged"}).status_code == 403
    refused = reader.post(url, {"choice": choice, "token": vote_token_issue(poll)})
    assert refused.status_code == 429
    assert not Ballot.objects.exists()
    assert list(Choice.objects.values_list("votes", flat=True)) == [0] * poll.choices.count()


def test_the_compose_setup_publishes_the_app_on_loopback_only():
    """Reached from outside past the proxy, gunicorn would see the client's own socket address:
    nothing to forge, but no TLS either, and the proxy's limits would not apply."""
    compose = (ROOT / "docker-compose.yml").read_text()
    published = re.findall(r'^\s*-\s*"?([^"\n]*:\d+)"?\s*$', compose.split("ports:", 1)[1], re.M)
    assert published and all(entry.startswith("127.0.0.1:") for entry in published)


def test_a_proxy_count_without_trusted_proxies_refuses_to_start():
    result = manage("check", DEBUG="1", TRUSTED_PROXY_COUNT="1")
    assert result.returncode != 0 and "TRUSTED_PROXY_COUNT needs TRUSTED_PROXIES" in result.stderr
    result = manage("check", DEBUG="1", TRUSTED_PROXIES="10.0.0.0/8, 2001:db8::/32")
    assert result.returncode == 0, result.stderr


def next_window_start(window_seconds: int = 600) -> datetime:
    """The first multiple of the window at least 20 s after the real now: there a fixed window
    would start anew. The poll under test opened at the real now, so it is open at every time
    the fake clock shows."""
    real_now = datetime.now(UTC)
    since_epoch = int((real_now + timedelta(seconds=20)).timestamp())
    return datetime.fromtimestamp(-(-since_epoch // window_seconds) * window_seconds, UTC)


class Clock:
    """The rate limit's view of now, moved by the test: no waiting, no timing. Only the rate
    limit sees it; the poll's opening and closing follow the real clock."""

    def __init__(self) -> None:
        # Just before a multiple of the window: where a fixed window would start anew.
        self.window_start = next_window_start()
        self.now = self.window_start - timedelta(seconds=10)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(rate_limit, "now", clock)
    return clock


def test_at_most_the_limit_in_any_window_even_across_a_window_boundary(poll, clock, settings):
    """At 3/600, three votes 10 s before a multiple of 600 s and more from that multiple on: a
    fixed window let six through in 20 seconds. Now the fourth waits until the first has left
    the window."""
    settings.VOTE_RATE_LIMIT = (3, 600)
    admitted = []
    start = clock.now
    for second in range(0, 1300, 10):
        at = clock.now = start + timedelta(seconds=second)
        response = page_vote(poll)
        if response.status_code == 303:
            admitted.append(at)
        else:
            assert response.status_code == 429
            # The first moment it may try again is exactly when a vote would be admitted.
            frees_at = admitted[-3] + timedelta(seconds=600)
            assert at + timedelta(seconds=int(response["Retry-After"])) == frees_at
    assert len(admitted) == 9  # three at 0 s, 600 s and 1200 s (each 10 s apart)
    for start in admitted:
        assert len([at for at in admitted if start <= at < start + timedelta(seconds=600)]) <= 3


def test_refused_attempts_do_not_extend_the_wait(poll, clock, settings):
    settings.VOTE_RATE_LIMIT = (2, 60)
    start = clock.now
    assert [page_vote(poll).status_code for _ in range(2)] == [303, 303]
    for second in range(1, 60):
        clock.now = start + timedelta(seconds=second)
        assert page_vote(poll).status_code == 429
    clock.now = start + timedelta(seconds=60)
    assert page_vote(poll).status_code == 303
    assert RecentVoteAttempts.objects.get().admitted_count == [1]


# A transaction test: inside the test's own transaction, savepoints would add queries.
@pytest.mark.django_db(transaction=True)
def test_the_vote_is_still_one_statement(poll, django_assert_num_queries):
    choice = poll.choices.first()
    with django_assert_num_queries(1):
        ballot_cast(poll=poll, choice=choice, voter_hash="v" * 64, client_address="192.0.2.1")


def test_the_upkeep_drops_the_networks_quiet_for_a_whole_window(poll, clock, settings):
    settings.VOTE_RATE_LIMIT = (5, 60)
    start = clock.now
    choices = list(poll.choices.all())
    ballot_cast(poll=poll, choice=choices[0], voter_hash="a" * 64, client_address="192.0.2.1")
    clock.now = start + timedelta(seconds=30)
    ballot_cast(poll=poll, choice=choices[1], voter_hash="b" * 64, client_address="192.0.2.2")
    clock.now = start + timedelta(seconds=75)
    ballot_cast(poll=poll, choice=choices[2], voter_hash="c" * 64, client_address="192.0.2.3")
    # Not on the vote's path: the first network is still there until the upkeep runs.
    assert RecentVoteAttempts.objects.count() == 3
    rate_limit.quiet_networks_trim()  # what each worker's upkeep thread runs (polls/upkeep.py)
    kept = set(RecentVoteAttempts.objects.values_list("address_hash", flat=True))
    assert kept == {rate_limit.address_hash("192.0.2.2"), rate_limit.address_hash("192.0.2.3")}


def test_one_busy_address_keeps_one_entry_per_second_however_many_it_sends(poll, clock, settings):
    """A newsroom behind one NAT: many readers a second, one address. The log grows with the
    seconds in the window, not with the votes, and still counts every one of them."""
    settings.VOTE_RATE_LIMIT = (1000, 60)
    start = clock.now
    for index in range(30):
        clock.now = start + timedelta(seconds=index // 10, milliseconds=index + 1)
        assert page_vote(poll, address="198.51.100.200").status_code == 303
    recent = RecentVoteAttempts.objects.get()
    assert recent.admitted_count == [10, 10, 10]
    assert recent.admitted_at == [start + timedelta(seconds=s) for s in (1, 2, 3)]


def test_an_attempt_within_a_second_stays_in_the_window_until_that_second_ends(
    poll, clock, settings
):
    """Counted per second, rounded up: never out of the window sooner than its exact time."""
    settings.VOTE_RATE_LIMIT = (1, 60)
    start = clock.now = clock.window_start + timedelta(milliseconds=300)  # hh:mm:00.3
    assert page_vote(poll).status_code == 303
    clock.now = start + timedelta(seconds=60)  # a minute on: its exact time has just left
    refused = page_vote(poll)
    assert refused.status_code == 429 and refused["Retry-After"] == "1"
    clock.now = clock.window_start + timedelta(seconds=61)
    assert page_vote(poll).status_code == 303
