"""Each worker keeps the polls readers see in memory until PostgreSQL announces a change.

Transaction tests: the announcement (NOTIFY from migration 0007's triggers) is sent when a change
commits, and these tests watch it arrive on a real listener connection.
"""

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from polls import poll_cache
from polls.models import Choice, Poll
from polls.services import ballot_cast
from polls.vote_tokens import vote_token_issue
from tests.conftest import listener_backends, make_article
from tests.helpers import eventually, vote_form

pytestmark = pytest.mark.django_db(transaction=True)


def widget_html(slug: str) -> str:
    return Client().get(reverse("polls:embed", args=[slug])).content.decode()


def test_it_serves_the_widget_from_memory_until_a_vote_commits(
    listener, poll, django_assert_num_queries
):
    url = reverse("polls:embed", args=[poll.slug])
    with django_assert_num_queries(1):
        first = Client().get(url)
    with django_assert_num_queries(0):
        again = Client().get(url)
        conditional = Client().get(url, headers={"If-None-Match": first["ETag"]})
    assert again.content.count(b'type="radio"') == 3
    assert conditional.status_code == 304

    choice = poll.choices.get(text="HAProxy")
    voted = Client().post(
        reverse("polls:embed_vote", args=[poll.slug]),
        {"choice": str(choice.pk), "token": vote_token_issue(poll)},
    )
    assert voted.status_code == 200
    assert eventually(lambda: Client().get(url)["ETag"] != first["ETag"])
    assert "1 vote in total" in widget_html(poll.slug)


def test_votes_reach_the_kept_poll_without_sending_workers_back_to_the_database(
    listener, poll, django_assert_num_queries
):
    url = reverse("polls:api_results", args=[poll.slug])
    Client().get(url)
    envoy, haproxy = poll.choices.get(text="Envoy"), poll.choices.get(text="HAProxy")
    for voter in ("a", "b", "c"):
        ballot_cast(poll=poll, choice=envoy, voter_hash=voter * 64)
    ballot_cast(poll=poll, choice=haproxy, voter_hash="d" * 64)
    expected = {"Envoy": 3, "NGINX": 0, "HAProxy": 1}
    # Each vote's notification carries its choice's new count, which the worker writes into the
    # poll it keeps: the results come up to date without a single read from the database.
    with django_assert_num_queries(0):
        assert eventually(lambda: counts_in(Client().get(url).json()) == expected)
        assert "4 votes in total" in widget_html(poll.slug)


def test_a_choice_renamed_by_an_editor_is_read_again(listener, poll):
    assert "HAProxy" in widget_html(poll.slug)
    Choice.objects.filter(poll=poll, text="HAProxy").update(text="Traefik")
    assert eventually(lambda: "Traefik" in widget_html(poll.slug))
    assert "HAProxy" not in widget_html(poll.slug)


def counts_in(results: dict) -> dict[str, int]:
    return {row["text"]: row["votes"] for row in results["choices"]}


def test_a_change_made_outside_the_app_reaches_the_json_too(listener, poll):
    url = reverse("polls:api_results", args=[poll.slug])
    assert Client().get(url).json()["total"] == 0
    # As an editor's bulk update or psql would: no code of ours runs.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE polls_choice SET votes = 5 WHERE poll_id = %s", [poll.pk])
    assert eventually(lambda: Client().get(url).json()["total"] == 15)


def test_a_poll_closed_or_unpublished_by_an_editor_leaves_the_cache(listener, poll):
    assert "Vote</button>" in widget_html(poll.slug)
    Poll.objects.filter(pk=poll.pk).update(status=Poll.Status.DRAFT)
    url = reverse("polls:embed", args=[poll.slug])
    assert eventually(lambda: Client().get(url).status_code == 404)


def test_it_reads_the_database_while_the_listener_is_cut_off(
    listener, poll, django_assert_num_queries
):
    widget_html(poll.slug)
    cut_off = listener_backends()
    assert cut_off
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) pid", [cut_off])
    # A change made while nobody listens is not announced to anyone: it must still show.
    Choice.objects.filter(poll=poll, text="Envoy").update(votes=3)
    assert eventually(lambda: "3 votes in total" in widget_html(poll.slug))
    assert eventually(lambda: listener.listening and listener_backends() not in ([], cut_off))
    widget_html(poll.slug)
    with django_assert_num_queries(0):
        assert "3 votes in total" in widget_html(poll.slug)


def test_nothing_is_cached_without_a_listener(poll, django_assert_num_queries):
    assert not poll_cache.polls.listening
    widget_html(poll.slug)
    with django_assert_num_queries(1):
        widget_html(poll.slug)


def results_html(client: Client, slug: str) -> str:
    return client.get(reverse("polls:results", args=[slug])).content.decode()


def test_the_results_page_is_shared_until_a_vote_or_an_article_changes_it(
    listener, poll, django_assert_num_queries
):
    make_article("Envoy at the edge", topics=("Proxies",), poll=poll, days_ago=2)
    reader = Client()
    assert "Envoy at the edge" in eventually_fresh(reader, poll.slug, "Envoy at the edge")
    with django_assert_num_queries(0):
        assert "0 votes in total" in results_html(reader, poll.slug)

    make_article("Proxies compared", topics=("Proxies",), days_ago=1)
    assert eventually_fresh(reader, poll.slug, "Proxies compared")

    voter = Client()
    assert (
        voter.post(
            reverse("polls:vote", args=[poll.slug]),
            vote_form(poll, choice=poll.choices.get(text="NGINX").pk),
        ).status_code
        == 303
    )
    # The voter's own page, with the thank-you message and "Your vote", is theirs alone.
    own_page = results_html(voter, poll.slug)
    assert "Your vote" in own_page and "1 vote in total" in own_page
    assert eventually_fresh(reader, poll.slug, "1 vote in total")
    assert "Your vote" not in results_html(reader, poll.slug)


def eventually_fresh(client: Client, slug: str, text: str) -> str:
    html = ""

    def shows_it() -> bool:
        nonlocal html
        html = results_html(client, slug)
        return text in html

    assert eventually(shows_it), f"{text!r} never appeared on the results page"
    return html


def test_a_widget_vote_reads_the_poll_from_memory_and_shows_its_own_count(
    listener, poll, django_assert_num_queries
):
    widget_html(poll.slug)
    Choice.objects.filter(poll=poll, text="Envoy").update(votes=4)
    assert eventually(lambda: "4 votes in total" in widget_html(poll.slug))
    choice = poll.choices.get(text="HAProxy")
    # One statement counts the attempt, stores the ballot and increments its counter.
    with django_assert_num_queries(1):
        response = Client().post(
            reverse("polls:embed_vote", args=[poll.slug]),
            {"choice": str(choice.pk), "token": vote_token_issue(poll)},
        )
    html = response.content.decode()
    assert response.status_code == 200
    assert "5 votes in total" in html and "Your vote" in html
    assert Choice.objects.get(pk=choice.pk).votes == 1


def test_a_poll_read_while_votes_land_is_kept_with_their_counts(poll):
    """During a burst a vote is announced every few milliseconds, often while a worker reads a
    poll: the poll must still be kept, with the counts announced during the read."""
    cache = poll_cache.PollCache()
    cache.listening = True
    envoy = poll.choices.get(text="Envoy")

    def load_while_a_vote_lands(slug: str) -> Poll | None:
        loaded = Poll.objects.visible_with_choices(slug)
        cache.count_changed(poll.pk, envoy.pk, 7)
        return loaded

    def must_not_load(slug: str) -> Poll | None:
        pytest.fail("the poll was read from the database again")

    assert cache.visible_poll(poll.slug, load_while_a_vote_lands).results().total == 0
    kept = cache.visible_poll(poll.slug, must_not_load)
    assert {row.choice.text: row.votes for row in kept.results().rows} == {
        "Envoy": 7,
        "NGINX": 0,
        "HAProxy": 0,
    }


def test_a_poll_read_while_it_is_edited_is_not_kept(poll):
    cache = poll_cache.PollCache()
    cache.listening = True
    reads = []

    def load_while_an_edit_lands(slug: str) -> Poll | None:
        reads.append(slug)
        loaded = Poll.objects.visible_with_choices(slug)
        cache.forget(poll.pk)
        return loaded

    cache.visible_poll(poll.slug, load_while_an_edit_lands)
    cache.visible_poll(poll.slug, load_while_an_edit_lands)
    assert len(reads) == 2


def test_a_vote_with_several_answers_keeps_the_kept_poll_exact(listener, poll):
    """Its voters change with every vote and no notification carries them: the poll is read
    again, voters and counts together."""
    Poll.objects.filter(pk=poll.pk).update(max_answers=2)
    api = reverse("polls:api_results", args=[poll.slug])
    assert Client().get(api).json()["voters"] == 0
    envoy, nginx = poll.choices.get(text="Envoy"), poll.choices.get(text="NGINX")
    fresh = Poll.objects.get(pk=poll.pk)
    ballot_cast(poll=fresh, choices=[envoy, nginx], voter_hash="reader-a")
    ballot_cast(poll=fresh, choices=[nginx], voter_hash="reader-b")
    assert eventually(lambda: Client().get(api).json()["voters"] == 2)
    payload = Client().get(api).json()
    assert [(c["votes"], c["percent"]) for c in payload["choices"]] == [(1, 50), (2, 100), (0, 0)]


def test_refused_votes_leave_the_kept_poll_alone(listener, poll, django_assert_num_queries):
    """One client repeating its vote must not send every worker back to the database."""
    reader = Client()
    vote_url = reverse("polls:vote", args=[poll.slug])
    assert reader.post(vote_url, vote_form(poll, choice=poll.choices.first().pk)).status_code == 303
    widget_url = reverse("polls:embed", args=[poll.slug])
    assert eventually(lambda: "1 vote in total" in widget_html(poll.slug))
    etag = Client().get(widget_url)["ETag"]
    for _ in range(20):
        assert (
            reader.post(vote_url, vote_form(poll, choice=poll.choices.last().pk)).status_code == 409
        )
    # A vote on another poll, announced after the refusals: once it has arrived, anything the
    # refusals announced has arrived before it.
    other = Poll.objects.create(question="Other?", slug="other", opens_at=poll.opens_at)
    other.status = Poll.Status.PUBLISHED
    other.save()
    choice = Choice.objects.create(poll=other, text="Yes")
    other_url = reverse("polls:api_results", args=[other.slug])
    Client().get(other_url)
    ballot_cast(poll=other, choice=choice, voter_hash="z" * 64)
    assert eventually(lambda: Client().get(other_url).json()["total"] == 1)
    with django_assert_num_queries(0):
        assert Client().get(widget_url)["ETag"] == etag
