import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from polls.models import Ballot, Choice, VoteRateWindow
from polls.rate_limit import client_address
from polls.vote_tokens import vote_token_issue

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_per_window(settings):
    settings.VOTE_RATE_LIMIT = (3, 600)


def page_vote(poll, address="203.0.113.7", **headers):
    """A new reader (no cookies) voting on our own page from the given address."""
    return Client(REMOTE_ADDR=address).post(
        reverse("polls:vote", args=[poll.slug]),
        {"choice": poll.choices.first().pk},
        headers=headers,
    )


def widget_vote(poll, address="203.0.113.7", **headers):
    return Client(REMOTE_ADDR=address).post(
        reverse("polls:embed_vote", args=[poll.slug]),
        {"choice": poll.choices.first().pk, "token": vote_token_issue(poll)},
        headers=headers,
    )


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "", "10.0.0.9"),
        (0, "198.51.100.1", "10.0.0.9"),
        (1, "", "10.0.0.9"),
        (1, "198.51.100.1", "198.51.100.1"),
        (1, "6.6.6.6, 198.51.100.1", "198.51.100.1"),
        (2, "6.6.6.6, 198.51.100.1, 192.0.2.10", "198.51.100.1"),
        (2, "192.0.2.10", "10.0.0.9"),
    ],
)
def test_the_client_address_trusts_only_the_configured_proxies(
    settings, proxies, forwarded, expected
):
    settings.TRUSTED_PROXY_COUNT = proxies
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.9", **headers)
    assert client_address(request) == expected


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
    VoteRateWindow.objects.all().delete()
    # Behind one proxy, the client controls only what the proxy did not append.
    statuses = [
        page_vote(poll, **{"X-Forwarded-For": f"192.0.2.{n}, 198.51.100.50"}).status_code
        for n in range(5)
    ]
    assert statuses == [303, 303, 303, 429, 429]


def test_the_limit_state_lives_in_postgresql_with_hashed_addresses(poll, three_per_window):
    page_vote(poll, address="203.0.113.99")
    widget_vote(poll, address="203.0.113.99")
    window = VoteRateWindow.objects.get()
    assert window.attempts == 2
    assert "203.0.113.99" not in window.address_hash and len(window.address_hash) == 64
    assert not Ballot.objects.filter(voter_hash__contains="203.0.113").exists()


def test_refusals_are_counted_for_the_integrity_line(client, poll, three_per_window):
    reader = Client(REMOTE_ADDR="203.0.113.5")
    url = reverse("polls:vote", args=[poll.slug])
    assert reader.post(url, {"choice": poll.choices.first().pk}).status_code == 303
    assert reader.post(url, {"choice": poll.choices.last().pk}).status_code == 409
    assert reader.post(url, {"choice": poll.choices.last().pk}).status_code == 409
    assert reader.post(url, {"choice": poll.choices.last().pk}).status_code == 429
    poll.refresh_from_db()
    assert (poll.refused_repeat_votes, poll.refused_over_limit_votes) == (2, 1)
    html = client.get(poll.get_results_url()).content.decode()
    assert "not a scientific sample" in html
    assert "2 repeat votes and 1 attempt over the rate limit refused" in html
    assert "1 vote in total" in html


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
