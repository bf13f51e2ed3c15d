"""'Other' write-ins: readers type their own answer with the poll's write-in choice; it counts
as a vote for that choice, is stored with the ballot, and is never shown publicly."""

import json
import re
import unicodedata

import pytest
from django.test import Client
from django.urls import reverse

from polls.forms import write_in_cleaned
from polls.models import Ballot, Choice, Poll
from polls.services import VoteRefused, ballot_cast
from tests.helpers import counts, snapshot, vote, vote_form, write_in_poll

pytestmark = pytest.mark.django_db

SECRET = "Linkerd, self-hosted"


def choice_id(poll: Poll, text: str) -> str:
    return str(poll.choices.get(text=text).pk)


def test_the_poll_page_has_a_labelled_box_under_other(client):
    poll = write_in_poll()
    html = client.get(poll.get_absolute_url()).content.decode()
    other = choice_id(poll, "Other")
    assert f'data-write-in-for="id_choice_{html.count("form-check-input") - 1}"' in html
    assert '<label for="id_write_in" class="form-label">Other: your own answer</label>' in html
    assert 'maxlength="100"' in html and 'aria-describedby="id_write_in_hint"' in html
    assert "Only the poll's editors read what you write." in html
    assert html.index(f'value="{other}"') < html.index('name="write_in"')


def test_a_poll_without_a_write_in_choice_has_no_box(client, poll):
    assert 'name="write_in"' not in client.get(poll.get_absolute_url()).content.decode()


def test_a_write_in_counts_for_other_and_is_stored_pending(client):
    poll = write_in_poll()
    response = vote(poll, "Other", client=client, write_in=f"  {SECRET}\n")
    assert response.status_code == 303
    assert counts(poll) == {"Envoy": 0, "NGINX": 0, "Other": 1}
    ballot = Ballot.objects.get()
    assert ballot.choice.text == "Other"
    assert (ballot.write_in, ballot.write_in_status) == (SECRET, "pending")


def test_without_javascript_typing_an_answer_picks_other(client):
    poll = write_in_poll()
    assert vote(poll, client=client, write_in=SECRET).status_code == 303
    assert Ballot.objects.get().choice.text == "Other"


def test_other_without_text_is_a_plain_vote(client):
    poll = write_in_poll()
    assert vote(poll, "Other", client=client, write_in="   ").status_code == 303
    assert (Ballot.objects.get().write_in, Ballot.objects.get().write_in_status) == ("", "")


def test_a_write_in_with_another_choice_is_refused_in_words(client):
    poll = write_in_poll()
    before = snapshot()
    response = vote(poll, "Envoy", client=client, write_in=SECRET)
    assert response.status_code == 400
    assert "Your own answer counts only with “Other” picked." in response.content.decode()
    assert snapshot() == before


def test_a_write_in_to_a_poll_without_one_is_refused(client, poll):
    response = vote(poll, "Envoy", client=client, write_in=SECRET)
    assert response.status_code == 400
    assert "This poll takes no written answers." in response.content.decode()
    assert not Ballot.objects.exists()


def test_the_service_refuses_a_write_in_without_its_choice():
    poll = write_in_poll()
    with pytest.raises(VoteRefused):
        ballot_cast(
            poll=poll,
            choice=poll.choices.get(text="Envoy"),
            voter_hash="v",
            write_in=SECRET,
        )
    assert not Ballot.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_single_answer_write_in_is_still_one_statement(django_assert_num_queries):
    poll = write_in_poll()
    other = poll.choices.get(text="Other")
    with django_assert_num_queries(1):
        ballot_cast(poll=poll, choice=other, voter_hash="v", write_in=SECRET)
    assert Choice.objects.get(pk=other.pk).votes == 1


def test_several_answers_take_a_write_in_with_other_picks(client):
    poll = write_in_poll(max_answers=2)
    response = vote(poll, "Envoy", "Other", client=client, write_in=SECRET)
    assert response.status_code == 303
    assert counts(poll) == {"Envoy": 1, "NGINX": 0, "Other": 1}
    ballot = Ballot.objects.get()
    assert ballot.answer_text == "Envoy, Other" and ballot.write_in == SECRET


def test_the_widget_takes_a_write_in_by_fetch_and_by_form(client):
    poll = write_in_poll()
    html = client.get(reverse("polls:embed", args=[poll.slug])).content.decode()
    assert 'class="widget__write-in-label">Other: your own answer</label>' in html
    answer = vote(
        poll,
        "Other",
        client=Client(),
        widget=True,
        write_in=SECRET,
        headers={"Accept": "application/json"},
    )
    assert answer.status_code == 200
    assert json.loads(answer.content)["voted_choices"] == [int(choice_id(poll, "Other"))]
    assert SECRET not in answer.content.decode()
    assert vote(poll, "Other", client=Client(), widget=True, write_in="Consul").status_code == 200
    assert sorted(Ballot.objects.values_list("write_in", flat=True)) == ["Consul", SECRET]
    assert counts(poll)["Other"] == 2


def test_the_widget_refuses_an_overlong_write_in_with_a_400():
    poll = write_in_poll()
    response = vote(
        poll,
        "Other",
        client=Client(),
        widget=True,
        write_in="x" * 101,
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    assert "at most 100 characters" in json.loads(response.content)["message"]
    assert not Ballot.objects.exists()


def test_write_ins_are_never_shown_publicly(client):
    poll = write_in_poll()
    vote(poll, "Other", voter="a", write_in=SECRET)
    ballot = vote(poll, "Other", voter="b", write_in="Approved but private")
    Ballot.objects.filter(pk=ballot.pk).update(write_in_status="approved")
    reader = Client()
    pages = [
        reader.get(poll.get_results_url()),
        reader.get(reverse("polls:embed", args=[poll.slug])),
        reader.get(reverse("polls:api_results", args=[poll.slug])),
        reader.get(reverse("oembed"), {"url": "http://testserver" + poll.get_absolute_url()}),
    ]
    for page in pages:
        assert page.status_code == 200
        body = page.content.decode()
        assert SECRET not in body and "Approved but private" not in body
    assert "Other" in pages[0].content.decode()
    # The voter's own results page neither: the text stays with the editors.
    voter = Client()
    vote(poll, "Other", client=voter, write_in="Mine only")
    page = voter.get(poll.get_results_url()).content.decode()
    assert "Mine only" not in page and "Your vote" in page


def test_the_write_in_choice_stays_last_when_shuffled():
    poll = write_in_poll()
    poll.shuffle_choices = True
    poll.save()
    assert [c.text for c in poll.form_choices()][-1] == "Other"
    html = Client().get(poll.get_absolute_url()).content.decode()
    other = poll.choices.get(text="Other")
    # The browser shuffles the other rows before it (static/js/vote.js), never it.
    assert re.search(rf'<div class="form-check" data-last><input[^>]*value="{other.pk}"', html)


def test_a_german_reader_gets_the_box_and_its_errors_in_german():
    poll = write_in_poll()
    reader = Client(headers={"Accept-Language": "de"})
    html = reader.get(poll.get_absolute_url()).content.decode()
    assert "Other: Ihre eigene Antwort" in html
    assert "Was Sie schreiben, lesen nur die Redakteure der Umfrage." in html
    response = reader.post(
        reverse("polls:vote", args=[poll.slug]),
        vote_form(poll, choice=choice_id(poll, "Envoy"), write_in="x" * 101),
    )
    assert "Ihre eigene Antwort darf höchstens 100 Zeichen lang sein; sie hat 101." in (
        response.content.decode()
    )


def test_invisible_format_characters_are_stripped_from_a_write_in_but_the_joiners():
    assert write_in_cleaned("\u2062=HYPERLINK(1)") == "=HYPERLINK(1)"
    assert write_in_cleaned("Link\U000e0041\U000e007ferd\u2064\u00ad\ufeff\u180e") == "Linkerd"
    assert write_in_cleaned("\u200b Linkerd \u2060") == "Linkerd"
    # A ZWJ emoji sequence and a Persian word spelled with a ZWNJ keep their joiners.
    assert write_in_cleaned("\U0001f469\u200d\U0001f4bb") == "\U0001f469\u200d\U0001f4bb"
    assert write_in_cleaned("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645") == (
        "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"
    )
    assert all(
        unicodedata.category(c) != "Cf" or c in "\u200c\u200d"
        for c in write_in_cleaned("".join(map(chr, range(0x2000, 0x2070))) + "\U000e0001")
    )
