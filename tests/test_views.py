import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from polls.models import Ballot, Choice, Poll
from tests.helpers import counts, make_article, make_poll, snapshot, vote, vote_form

pytestmark = pytest.mark.django_db


def test_it_lists_open_polls_on_the_index_and_closed_ones_in_the_archive(client):
    open_poll = make_poll("Open question?", state="open")
    closed_poll = make_poll("Closed question?", state="closed")
    make_poll("Draft question?", state="draft")
    make_poll("Future question?", state="scheduled")
    index = client.get(reverse("polls:index")).content.decode()
    archive = client.get(reverse("polls:archive")).content.decode()
    assert open_poll.question in index and closed_poll.question not in index
    assert closed_poll.question in archive and open_poll.question not in archive
    for page in (index, archive):
        assert "Draft question?" not in page and "Future question?" not in page


def test_it_shows_the_poll_as_a_form_with_its_choices_in_order(client, poll):
    response = client.get(poll.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    assert "<fieldset" in html and "<legend" in html and poll.question in html
    labels = re.findall(r'class="form-check-label">\s*([^<]+?)\s*</label>', html)
    assert labels == ["Envoy", "NGINX", "HAProxy"]
    positions = [html.index(text) for text in labels]
    assert positions == sorted(positions)
    assert 'type="radio"' in html and 'name="token"' in html


def test_a_vote_redirects_to_the_results_with_the_readers_choice_marked(client, poll):
    response = vote(poll, "NGINX", client=client)
    assert response.status_code == 303
    assert response["Location"] == poll.get_results_url()
    assert counts(poll) == {"Envoy": 0, "NGINX": 1, "HAProxy": 0}
    results = client.get(response["Location"])
    html = results.content.decode()
    assert "Thank you, your vote has been counted." in html
    assert "Your vote: NGINX" in html
    assert "100%" in html and "1 vote in total" in html
    assert Ballot.objects.get().source == Ballot.Source.POLL_PAGE


def test_the_voter_cookie_is_signed_and_the_ballot_stores_only_a_hash(client, poll):
    vote(poll, "Envoy", client=client)
    cookie = client.cookies[settings.VOTER_COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    raw_voter_id = cookie.value.split(":")[0]
    ballot = Ballot.objects.get()
    assert raw_voter_id not in ballot.voter_hash and len(ballot.voter_hash) == 64


def test_a_second_vote_is_refused_with_the_results_and_changes_nothing(client, poll):
    vote(poll, "Envoy", client=client)
    before = snapshot()
    response = vote(poll, "HAProxy", client=client)
    assert response.status_code == 409
    html = response.content.decode()
    assert "You have already voted in this poll." in html
    assert "Your vote, “Envoy”, was counted once." in html
    assert snapshot() == before


def test_after_voting_the_poll_page_leads_to_the_results(client, poll):
    vote(poll, "Envoy", client=client)
    response = client.get(poll.get_absolute_url())
    assert response.status_code == 302
    assert response["Location"] == poll.get_results_url()


def test_a_forged_voter_cookie_is_ignored_and_gets_a_fresh_identity(client, poll):
    client.cookies[settings.VOTER_COOKIE_NAME] = "someone-else:forged-signature"
    assert vote(poll, "Envoy", client=client).status_code == 303
    assert client.cookies[settings.VOTER_COOKIE_NAME].value != "someone-else:forged-signature"


def test_two_readers_each_get_their_vote(client, poll):
    from django.test import Client

    vote(poll, "Envoy", client=client)
    vote(poll, "Envoy", client=Client())
    assert counts(poll)["Envoy"] == 2


def test_voting_from_an_article_records_the_article(client, poll):
    article = make_article("Host article", poll=poll)
    response = vote(poll, "HAProxy", client=client, article=article.slug)
    assert response.status_code == 303
    assert response["Location"] == f"{article.get_absolute_url()}#poll"
    ballot = Ballot.objects.get()
    assert (ballot.source, ballot.article) == (Ballot.Source.ARTICLE, article)


def test_the_article_page_shows_its_poll_at_the_top_then_the_results_after_voting(client, poll):
    article = make_article("Host article", poll=poll, topics=("Proxies",))
    related = make_article("A related piece", topics=("Proxies",))
    html = client.get(article.get_absolute_url()).content.decode()
    assert html.index(poll.question) < html.index('class="article__body"')
    assert f'value="{article.slug}"' in html and 'type="radio"' in html
    assert related.title in html and "Related articles" in html
    vote(poll, "Envoy", client=client, article=article.slug)
    html = client.get(article.get_absolute_url()).content.decode()
    assert 'type="radio"' not in html
    assert "You have voted in this poll." in html and "Your vote" in html


def test_a_vote_on_an_article_stays_on_it_with_the_results_in_place_of_the_form(client, poll):
    article = make_article("Host article", poll=poll)
    response = client.post(
        reverse("polls:vote", args=[poll.slug]),
        vote_form(poll, choice=poll.choices.get(text="NGINX").pk, article=article.slug),
        follow=True,
    )
    assert response.redirect_chain == [(f"{article.get_absolute_url()}#poll", 303)]
    html = response.content.decode()
    assert 'id="poll"' in html and 'type="radio"' not in html
    assert "Thank you, your vote has been counted." in html
    assert re.search(r'class="poll-result is-mine[^"]*".*?NGINX', html, re.S)


def test_a_refused_vote_on_an_article_stays_on_the_article(client, poll):
    article = make_article("Host article", poll=poll)
    response = vote(poll, client=client, article=article.slug)
    assert response.status_code == 400
    html = response.content.decode()
    assert article.title in html and "Please pick one of the answers before voting." in html
    assert f'value="{article.slug}"' in html
    vote(poll, "Envoy", client=client, article=article.slug)
    response = vote(poll, "NGINX", client=client, article=article.slug)
    assert response.status_code == 409
    html = response.content.decode()
    assert article.title in html and "You have already voted in this poll." in html
    assert "“Envoy”, was counted once." in html and 'type="radio"' not in html


def test_the_results_page_shows_counts_percentages_and_the_sidebar(client, poll):
    host = make_article("Host article", poll=poll, topics=("Proxies",))
    Choice.objects.filter(poll=poll, text="Envoy").update(votes=2)
    Choice.objects.filter(poll=poll, text="NGINX").update(votes=1)
    html = client.get(poll.get_results_url()).content.decode()
    assert "67%" in html and "33%" in html and "0%" in html
    assert "2 votes" in html and "1 vote<" in html and "3 votes in total" in html
    assert host.title in html
    assert "Vote in this poll" in html


def test_a_closed_poll_shows_results_only_and_refuses_votes(client):
    poll = make_poll(state="closed")
    assert client.get(poll.get_absolute_url())["Location"] == poll.get_results_url()
    assert "This poll is closed." in client.get(poll.get_results_url()).content.decode()
    before = snapshot()
    response = vote(poll, "Envoy", client=client)
    assert response.status_code == 409
    assert "This poll is closed; votes are no longer counted." in response.content.decode()
    assert snapshot() == before


def test_a_reader_refused_by_a_closed_poll_still_sees_the_vote_they_cast_before(client):
    poll = make_poll()
    assert vote(poll, "NGINX", client=client).status_code == 303
    Poll.objects.filter(pk=poll.pk).update(closes_at=timezone.now() - timedelta(seconds=1))
    response = vote(poll, "Envoy", client=client)
    assert response.status_code == 409
    page = response.content.decode()
    assert "This poll is closed; votes are no longer counted." in page
    assert re.search(r"NGINX <span class=\"poll-result__mine\">Your vote</span>", page)


@pytest.mark.parametrize("state", ["draft", "scheduled"])
def test_readers_cannot_see_or_vote_in_unpublished_polls(client, state):
    poll = make_poll(state=state)
    article = make_article("Host", poll=poll)
    assert client.get(poll.get_absolute_url()).status_code == 404
    assert client.get(poll.get_results_url()).status_code == 404
    assert vote(poll, "Envoy", client=client).status_code == 404
    assert poll.question not in client.get(article.get_absolute_url()).content.decode()
    assert Ballot.objects.count() == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Please pick one of the answers before voting."),
        ({"choice": ""}, "Please pick one of the answers before voting."),
        ({"choice": "not-a-number"}, "That answer is not one of this poll"),
        ({"choice": "999999999"}, "That answer is not one of this poll"),
        ({"choice": "-1"}, "That answer is not one of this poll"),
        ({"choice": "1e3"}, "That answer is not one of this poll"),
        ({"choice": "99999999999999999999999"}, "That answer is not one of this poll"),
    ],
)
def test_bad_votes_get_a_400_with_the_form_and_change_nothing(client, poll, data, message):
    before = snapshot()
    response = client.post(reverse("polls:vote", args=[poll.slug]), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html and 'type="radio"' in html
    assert snapshot() == before


def test_a_vote_without_a_choice_gets_one_message_at_the_group(client, poll):
    html = vote(poll, client=client).content.decode()
    fieldset = re.search(r"<fieldset[^>]*>", html).group(0)
    assert 'class="vote-form__choices is-invalid"' in fieldset
    assert 'aria-describedby="id_choice_error"' in fieldset
    assert html.count("Please pick one of the answers before voting.") == 1
    assert html.index('id="id_choice_error"') < html.index('type="radio"')
    # The choices themselves are not marked wrong: no red radios or labels.
    radios = re.findall(r'<input type="radio"[^>]*>', html)
    assert len(radios) == 3 and not any("is-invalid" in radio for radio in radios)


def test_a_choice_of_another_poll_is_refused(client, poll):
    other = make_poll("Other?", ("Yes", "No"))
    before = snapshot()
    response = client.post(
        reverse("polls:vote", args=[poll.slug]), vote_form(poll, choice=other.choices.first().pk)
    )
    assert response.status_code == 400
    assert snapshot() == before


def test_an_article_that_does_not_carry_the_poll_is_refused(client, poll):
    stranger = make_article("Stranger")
    before = snapshot()
    assert vote(poll, "Envoy", client=client, article=stranger.slug).status_code == 400
    assert vote(poll, "Envoy", client=client, article="no such article!").status_code == 400
    assert snapshot() == before


def test_an_unknown_poll_is_a_404(client):
    assert client.get("/polls/no-such-poll/").status_code == 404
    assert client.get("/polls/no-such-poll/results/").status_code == 404
    assert client.post("/polls/no-such-poll/vote/", {"choice": "1"}).status_code == 404
    assert client.get("/articles/no-such-article/").status_code == 404
    assert "We could not find that page" in client.get("/polls/nope/").content.decode()


@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_the_vote_url_only_accepts_post(client, poll, method):
    before = snapshot()
    response = getattr(client, method)(reverse("polls:vote", args=[poll.slug]))
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert snapshot() == before


def test_a_vote_without_a_token_is_refused_clearly(poll):
    before = snapshot()
    response = Client().post(
        reverse("polls:vote", args=[poll.slug]), {"choice": poll.choices.first().pk}
    )
    assert response.status_code == 403
    assert (
        "The voting form is incomplete. Reload the poll and try again." in response.content.decode()
    )
    assert snapshot() == before


def test_vote_counts_are_read_only_in_the_admin(admin_client, poll):
    html = admin_client.get(reverse("admin:polls_poll_change", args=[poll.pk])).content.decode()
    assert 'name="choices-0-text"' in html
    assert 'name="choices-0-votes"' not in html


def test_readers_see_results_before_voting_when_the_editor_allows_it(client, poll):
    Choice.objects.filter(poll=poll, text="Envoy").update(votes=3)
    html = client.get(poll.get_absolute_url()).content.decode()
    assert 'type="radio"' in html and "Results so far" not in html
    poll.results_shown = poll.ResultsShown.ALWAYS
    poll.save()
    article = make_article("Host", poll=poll)
    for url in (poll.get_absolute_url(), article.get_absolute_url()):
        html = client.get(url).content.decode()
        assert 'type="radio"' in html
        assert "Results so far" in html and "100%<" in html and "3 votes in total" in html
    widget = client.get(reverse("polls:embed", args=[poll.slug])).content.decode()
    assert 'type="radio"' in widget
    assert re.search(
        r'<section class="widget__results" aria-label="Results" tabindex="-1">', widget
    )


def test_readers_can_browse_the_articles_from_the_home_page(client, poll):
    host = make_article("Host article", poll=poll, topics=("Proxies",), days_ago=2)
    newest = make_article("Newest piece", days_ago=1)
    make_article("Not yet published", days_ago=-1)
    home = client.get(reverse("polls:index")).content.decode()
    assert 'href="/articles/"' in home
    latest = home[home.index("Latest articles") :]
    assert latest.index(newest.title) < latest.index(host.title)
    response = client.get("/articles/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.index(newest.title) < html.index(host.title)
    assert "Not yet published" not in html
    assert f'href="{host.get_absolute_url()}"' in html and "with a reader poll" in html


def test_the_articles_page_is_paginated(client):
    for number in range(25):
        make_article(f"Piece {number}", days_ago=number + 1)
    first = client.get("/articles/").content.decode()
    assert "Piece 0<" in first and "Piece 19<" in first and "Piece 20<" not in first
    assert 'href="?page=2"' in first and "Page 1 of 2" in first
    second = client.get("/articles/?page=2").content.decode()
    assert "Piece 24<" in second and "Piece 0<" not in second
    assert client.get("/articles/?page=junk").status_code == 200


def test_favicon_ico_leads_to_the_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == "/static/favicon.ico"
    assert '<link rel="icon" href="/static/favicon' in client.get("/").content.decode()


def test_the_embed_snippets_sit_below_the_reading_collapsed(client, poll):
    for url in (poll.get_absolute_url(), poll.get_results_url()):
        html = client.get(url).content.decode()
        assert '<details class="embed-snippets">' in html
        assert "<details open" not in html
        # After the article and the related articles, not inside the reader's main column.
        assert html.index("</main>") < html.index("embed-snippets")
        assert html.index("Related articles") < html.index("embed-snippets")


def test_a_reader_gets_their_voter_id_before_voting_so_a_lost_answer_cannot_count_twice(poll):
    reader = Client()
    page = reader.get(poll.get_absolute_url())
    # The form page itself sets no voter cookie: vote.js asks for the id just before voting.
    assert settings.VOTER_COOKIE_NAME not in page.cookies
    token_url = reverse("polls:vote_token", args=[poll.slug])
    assert f'data-token-url="{token_url}"' in page.content.decode()
    given = reader.post(token_url)
    assert given.status_code == 200 and given["Cache-Control"] == "no-store"
    voter_cookie = reader.cookies[settings.VOTER_COOKIE_NAME].value
    url = reverse("polls:vote", args=[poll.slug])
    form = {"choice": poll.choices.first().pk, "token": given.json()["token"]}
    assert reader.post(url, form).status_code == 303
    # The answer was lost after the commit: the browser kept only the id it asked for.
    retry = Client()
    retry.cookies[settings.VOTER_COOKIE_NAME] = voter_cookie
    assert retry.post(url, vote_form(poll, choice=poll.choices.first().pk)).status_code == 409
    assert Ballot.objects.count() == 1
