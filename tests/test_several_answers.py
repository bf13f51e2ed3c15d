"""Polls where a reader may pick up to N answers: check boxes, one ballot per reader, counts
equal to the stored answers, and percentages as shares of the voters."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from polls.models import Ballot, BallotChoice, Poll
from polls.services import AlreadyVoted, VoteRefused
from tests.helpers import (
    counts,
    csv_rows,
    export,
    make_poll,
    poll_change,
    refused,
    snapshot,
    vote,
)

pytestmark = pytest.mark.django_db


def several_answers_poll(max_answers: int = 2, **kwargs) -> Poll:
    poll = make_poll(choices=("Envoy", "NGINX", "HAProxy"), **kwargs)
    poll.max_answers = max_answers
    poll.save()
    return poll


def ids(poll: Poll, *texts: str) -> list[str]:
    return [str(poll.choices.get(text=text).pk) for text in texts]


def test_readers_get_check_boxes_and_the_limit_in_words(client):
    poll = several_answers_poll()
    html = client.get(poll.get_absolute_url()).content.decode()
    assert html.count('type="checkbox"') == 3 and 'type="radio"' not in html
    assert "Pick up to 2 answers." in html
    assert 'aria-describedby="id_choice_hint"' in html
    widget = client.get(reverse("polls:embed", args=[poll.slug])).content.decode()
    assert widget.count('type="checkbox"') == 3 and "Pick up to 2 answers." in widget


def test_a_vote_without_javascript_counts_each_answer_on_one_ballot(client):
    poll = several_answers_poll()
    response = vote(poll, "Envoy", "HAProxy", client=client)
    assert response.status_code == 303
    assert counts(poll) == {"Envoy": 1, "NGINX": 0, "HAProxy": 1}
    ballot = Ballot.objects.get()
    assert ballot.choice is None and ballot.answer_text == "Envoy, HAProxy"
    assert BallotChoice.objects.filter(ballot=ballot).count() == 2
    page = client.get(response["Location"]).content.decode()
    assert "Your vote: Envoy, HAProxy" in page
    assert page.count("poll-result__mine") == 2
    assert "of 1 voter" in page and "each voter could pick up to 2 answers" in page
    assert page.count(">100%<") == 2


def test_percentages_are_shares_of_the_voters():
    poll = several_answers_poll(max_answers=3)
    vote(poll, "Envoy", "NGINX", voter="a")
    vote(poll, "Envoy", voter="b")
    vote(poll, "Envoy", "NGINX", "HAProxy", voter="c")
    results = Poll.objects.visible_with_choices(poll.slug).results()
    assert results.voters == 3 and results.total == 6
    assert [row.percent for row in results.rows] == [100, 67, 33]
    payload = json.loads(Client().get(reverse("polls:api_results", args=[poll.slug])).content)
    assert payload["voters"] == 3 and payload["total"] == 6
    assert [c["percent"] for c in payload["choices"]] == [100, 67, 33]


def test_more_answers_than_allowed_are_refused_and_change_nothing(client):
    poll = several_answers_poll()
    before = snapshot()
    response = vote(poll, "Envoy", "NGINX", "HAProxy", client=client)
    assert response.status_code == 400
    assert "Please pick at most 2 answers." in response.content.decode()
    duplicate = vote(poll, "Envoy", "Envoy", client=client)
    assert duplicate.status_code == 400
    nothing = client.post(reverse("polls:vote", args=[poll.slug]), {})
    assert nothing.status_code == 400
    assert snapshot() == before
    with pytest.raises(VoteRefused):
        vote(poll, "Envoy", "NGINX", "HAProxy", voter="reader")
    assert snapshot() == before


def test_a_reader_has_one_ballot_whatever_they_pick():
    poll = several_answers_poll()
    vote(poll, "Envoy", "NGINX", voter="reader")
    with pytest.raises(AlreadyVoted):
        vote(poll, "HAProxy", voter="reader")
    assert counts(poll) == {"Envoy": 1, "NGINX": 1, "HAProxy": 0}
    assert Ballot.objects.count() == 1 and BallotChoice.objects.count() == 2


def test_one_answer_polls_still_take_one_answer(client, poll):
    response = vote(poll, "Envoy", "NGINX", client=client)
    assert response.status_code == 400
    assert not Ballot.objects.exists()


def test_the_widget_votes_several_answers_by_script_and_by_form():
    poll = several_answers_poll()
    reader = Client()
    answer = vote(
        poll, "NGINX", "HAProxy", client=reader, widget=True, headers={"Accept": "application/json"}
    )
    assert answer.status_code == 200
    payload = json.loads(answer.content)
    assert sorted(payload["voted_choices"]) == sorted(
        int(pk) for pk in ids(poll, "NGINX", "HAProxy")
    )
    assert payload["voters"] == 1
    page = vote(poll, "NGINX", client=Client(), widget=True)
    assert page.status_code == 200 and "of 2 voters" in page.content.decode()
    assert counts(poll) == {"Envoy": 0, "NGINX": 2, "HAProxy": 1}


def test_the_ballots_csv_lists_every_answer_of_a_ballot():
    poll = several_answers_poll()
    vote(poll, "HAProxy", "Envoy", voter="reader")
    table = csv_rows(export("admin:polls_poll_ballots_csv", poll))
    assert table[1][2] == "Envoy; HAProxy"
    assert dict(zip(table[0][3:6], table[1][3:6], strict=True)) == {
        "Envoy": "1",
        "NGINX": "0",
        "HAProxy": "1",
    }
    results = csv_rows(export("admin:polls_poll_results_csv", poll))
    figures = dict(zip(results[0][3:], results[1][3:], strict=True))
    assert figures == {
        "Votes": "1",
        "Percent": "100",
        "Voters": "1",
        "Seen": "0",
        "Engagement rate (%)": "",  # nobody saw it: no rate
    }


def test_the_answer_mode_cannot_change_once_readers_voted_unless_confirmed():
    poll = several_answers_poll()
    vote(poll, "Envoy", "NGINX", voter="reader")
    response = poll_change(poll, max_answers="1")
    assert refused(response, "already voted with up to 2 answers")
    poll.refresh_from_db()
    assert poll.max_answers == 2
    response = poll_change(poll, max_answers="1", confirm_change_after_voting="on")
    assert response.status_code == 302
    poll.refresh_from_db()
    assert poll.max_answers == 1
    # Ballots keep what was picked.
    assert Ballot.objects.get().answer_text == "Envoy, NGINX"


def test_an_unvoted_poll_changes_its_mode_freely():
    poll = make_poll()
    assert poll_change(poll, max_answers="3").status_code == 302
    poll.refresh_from_db()
    assert poll.max_answers == 3


def test_the_poll_list_shows_each_polls_mode(admin_client):
    several_answers_poll(max_answers=3, slug="several")
    one = make_poll(slug="one")
    one.results_shown = Poll.ResultsShown.AFTER_CLOSE
    one.percentages_only = True
    one.save()
    html = admin_client.get(reverse("admin:polls_poll_changelist")).content.decode()
    assert "Up to 3 answers; results after voting" in html
    assert "One answer; results after the close; percentages only" in html
