"""Each worker keeps the polls readers see in memory until PostgreSQL announces a change.

Transaction tests: the announcement (NOTIFY from migration 0007's triggers) is sent when a change
commits, and these tests watch it arrive on a real listener connection.
"""

import re

import psycopg
import pytest
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse

from polls import poll_cache, poll_listener
from polls.models import Choice, Poll
from polls.services import ballot_cast
from polls.voters import vote_token_issue
from tests.helpers import counts, eventually, listener_backends, make_article, vote_form

pytestmark = pytest.mark.django_db(transaction=True)


def listening_cache() -> poll_cache.PollCache:
    """A poll cache of its own, as if its listener were connected: notifications are fed by
    the test."""
    cache = poll_cache.PollCache()
    cache.listening = True
    return cache


def widget_html(slug: str) -> str:
    return Client().get(reverse("polls:embed", args=[slug])).content.decode()


def served_from_memory(url: str, django_assert_num_queries) -> HttpResponse:
    """A shared page, asked for again and then with its ETag: no query, the same bytes, 304."""
    first = Client().get(url)
    with django_assert_num_queries(0):
        again = Client().get(url)
        conditional = Client().get(url, headers={"If-None-Match": first["ETag"]})
    assert (again["ETag"], again.content) == (first["ETag"], first.content)
    assert conditional.status_code == 304
    return first


def vote_in_widget(poll: Poll, choice_text: str) -> None:
    choice = poll.choices.get(text=choice_text)
    voted = Client().post(
        reverse("polls:embed_vote", args=[poll.slug]),
        {"choice": str(choice.pk), "token": vote_token_issue(poll)},
    )
    assert voted.status_code == 200


def test_it_serves_the_widget_from_memory_until_a_vote_commits(
    listener, poll, django_assert_num_queries
):
    url = reverse("polls:embed", args=[poll.slug])
    with django_assert_num_queries(2):  # the poll, and the themes (polls/themes.py)
        Client().get(url)
    first = served_from_memory(url, django_assert_num_queries)
    assert first.content.count(b'type="radio"') == 3

    vote_in_widget(poll, "HAProxy")
    assert eventually(lambda: Client().get(url)["ETag"] != first["ETag"])
    assert "1 vote in total" in widget_html(poll.slug)


def test_votes_reach_the_kept_poll_without_sending_workers_back_to_the_database(
    listener, poll, django_assert_num_queries
):
    url = reverse("polls:api_results", args=[poll.slug])
    Client().get(url)
    widget_html(poll.slug)  # the worker has read the themes
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
    first = Client().get(url)
    assert first.json()["total"] == 0
    # As an editor's bulk update or psql would: no code of ours runs.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE polls_choice SET votes = 5 WHERE poll_id = %s", [poll.pk])
    assert eventually(lambda: Client().get(url).json()["total"] == 15)
    # Its ETag, kept with it, changed with it: a cache holding the old body cannot keep it.
    assert Client().get(url, headers={"If-None-Match": first["ETag"]}).status_code == 200


def test_the_kept_card_and_its_etag_follow_votes_and_edits(
    listener, poll, django_assert_num_queries
):
    url = reverse("polls:share_card", args=[poll.slug])
    first = served_from_memory(url, django_assert_num_queries)

    # A vote takes the card from "Be the first to vote" to its bars.
    vote_in_widget(poll, "HAProxy")
    assert eventually(lambda: Client().get(url)["ETag"] != first["ETag"])
    voted_card = Client().get(url)
    assert voted_card.content != first.content

    poll.question = "Which proxy will you run at the edge next year?"
    poll.save()
    assert eventually(lambda: Client().get(url)["ETag"] != voted_card["ETag"])
    edited = Client().get(url, headers={"If-None-Match": voted_card["ETag"]})
    assert edited.status_code == 200 and edited.content != voted_card.content


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
    with django_assert_num_queries(2):  # the poll, and the themes (polls/themes.py)
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
    """During a burst this worker's votes land every few milliseconds, often while one of its
    threads reads a poll: the poll must still be kept, with the counts those votes returned."""
    cache = listening_cache()
    envoy = poll.choices.get(text="Envoy")

    def load_while_a_vote_lands(slug: str) -> Poll | None:
        loaded = Poll.objects.visible_with_choices(slug)
        cache.vote_counted(loaded, {envoy.pk: 7}, since=cache.generation)
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


def test_counts_of_two_threads_applied_out_of_order_never_go_back(poll):
    cache = listening_cache()
    envoy = poll.choices.get(text="Envoy")
    cache.visible_poll(poll.slug, poll_cache.visible_poll_or_404)
    cache.vote_counted(poll, {envoy.pk: 2}, since=cache.generation)
    cache.vote_counted(poll, {envoy.pk: 1}, since=cache.generation)
    kept = cache.visible_poll(poll.slug, poll_cache.visible_poll_or_404)
    assert kept.results().total == 2


def test_a_poll_read_while_another_worker_announces_votes_is_read_again(poll):
    cache = listening_cache()
    reads = []

    def load_while_votes_are_announced(slug: str) -> Poll | None:
        reads.append(slug)
        loaded = Poll.objects.visible_with_choices(slug)
        poll_listener.notified(cache, f"{loaded.pk} votes")
        return loaded

    cache.visible_poll(poll.slug, load_while_votes_are_announced)
    cache.visible_poll(poll.slug, load_while_votes_are_announced)
    assert len(reads) == 2


def test_a_vote_counted_after_an_edit_was_announced_sends_the_poll_to_be_read_again(poll):
    """The edit may have committed after the vote, whose count would then be out of date."""
    cache = listening_cache()
    envoy = poll.choices.get(text="Envoy")
    cache.visible_poll(poll.slug, poll_cache.visible_poll_or_404)
    since = cache.generation
    poll_listener.notified(cache, "")  # an article changed: every poll's pages go
    cache.visible_poll(poll.slug, poll_cache.visible_poll_or_404)
    cache.vote_counted(poll, {envoy.pk: 5}, since=since)
    reads = []

    def load(slug: str) -> Poll | None:
        reads.append(slug)
        return Poll.objects.visible_with_choices(slug)

    assert cache.visible_poll(poll.slug, load).results().total == 0
    assert reads == [poll.slug]


def test_a_poll_read_while_it_is_edited_is_not_kept(poll):
    cache = listening_cache()
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
    # An edit of another poll, announced after the refusals: once it has arrived, anything the
    # refusals announced has arrived before it.
    other = Poll.objects.create(question="Other?", slug="other", opens_at=poll.opens_at)
    other.status = Poll.Status.PUBLISHED
    other.save()
    choice = Choice.objects.create(poll=other, text="Yes")
    other_url = reverse("polls:api_results", args=[other.slug])
    Client().get(other_url)
    Choice.objects.filter(pk=choice.pk).update(text="Yes, edited")
    assert eventually(lambda: "Yes, edited" in Client().get(other_url).content.decode())
    with django_assert_num_queries(0):
        assert Client().get(widget_url)["ETag"] == etag


def test_votes_are_announced_by_the_worker_not_by_the_trigger(listener, poll):
    """The trigger sends nothing for the vote statement; the worker announces its votes."""
    envoy = poll.choices.get(text="Envoy")
    with psycopg.connect(**poll_listener.listener_params(), autocommit=True) as watcher:
        watcher.execute(f"LISTEN {poll_listener.CHANNEL}")
        for n in range(20):
            ballot_cast(poll=poll, choice=envoy, voter_hash=f"{n:064d}")
        heard = [n.payload for n in watcher.notifies(timeout=poll_listener.ANNOUNCE_SECONDS * 6)]
    assert heard and set(heard) == {f"{poll.pk} votes"}
    assert counts(poll) == {"Envoy": 20, "NGINX": 0, "HAProxy": 0}


def test_votes_between_two_announcements_are_announced_once_per_poll(poll):
    cache = listening_cache()
    envoy = poll.choices.get(text="Envoy")
    for votes in range(1, 21):
        cache.vote_counted(poll, {envoy.pk: votes}, since=cache.generation)
    assert cache.announcements_take() == [poll.pk]
    assert cache.announcements_take() == []


def test_votes_announced_by_another_worker_are_read_again_and_keep_the_form_pages(
    listener, poll, django_assert_num_queries
):
    api = reverse("polls:api_results", args=[poll.slug])
    page = reverse("polls:detail", args=[poll.slug])
    assert Client().get(api).json()["total"] == 0
    assert b'name="token"' in Client().get(page).content
    # As another worker's vote statement: the trigger stays silent, the worker announces.
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('pollsite.votes_announced', 'on', false)")
        cursor.execute("UPDATE polls_choice SET votes = 4 WHERE poll_id = %s", [poll.pk])
        cursor.execute("SELECT set_config('pollsite.votes_announced', '', false)")
    with django_assert_num_queries(0):
        assert Client().get(api).json()["total"] == 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, %s)", [poll_listener.CHANNEL, f"{poll.pk} votes"])
    assert eventually(lambda: Client().get(api).json()["total"] == 12)
    # The form page shows no count: it is served as rendered before the votes, not again.
    with django_assert_num_queries(0):
        assert b'name="token"' in Client().get(page).content


def test_a_reader_sees_their_own_vote_on_the_article_though_this_worker_has_not_heard_of_it(
    listener, monkeypatch
):
    """Two workers: the vote is counted by one, the redirect's page is served by the other,
    whose kept poll hears of the vote up to 50 ms later. With several answers, that page showed
    "Your vote" at 0 votes. The reader's own page reads the poll fresh."""
    poll = make_poll_with_answers()
    article = make_article("Article with a poll", poll=poll)
    client = Client()
    assert client.get(article.get_absolute_url()).status_code == 200  # the poll is kept now
    # The vote as the other worker counts it: announced by the trigger, not yet heard here.
    monkeypatch.setattr(poll_cache.PollCache, "announces_votes", property(lambda self: False))
    monkeypatch.setattr(poll_cache.polls, "votes_announced", lambda poll_id: None)
    client.post(reverse("polls:vote_token", args=[poll.slug]))
    picked = [poll.choices.get(text="Envoy").pk, poll.choices.get(text="HAProxy").pk]
    voted = client.post(
        reverse("polls:vote", args=[poll.slug]),
        vote_form(poll, choice=picked, article=article.slug),
        follow=True,
    )
    page = voted.content.decode()
    mine = re.findall(r'<li class="poll-result is-mine[^"]*".*?</li>', page, re.S)
    assert len(mine) == 2
    assert all("1 vote<" in row for row in mine), mine


def make_poll_with_answers() -> Poll:
    from tests.helpers import make_poll

    poll = make_poll()
    poll.max_answers = 2
    poll.save()
    return poll
