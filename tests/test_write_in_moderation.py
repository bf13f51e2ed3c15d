"""Editors moderate write-ins: a list per poll by status, approve, reject, and merge several
into a new choice, their votes moving exactly, with a record of each move."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.urls import reverse

from polls import editing, voters
from polls.models import Ballot, BallotChoice, Choice, WriteInMove
from polls.services import ballot_cast
from tests.helpers import counts, editor_client, make_editor, vote, write_in_poll

pytestmark = pytest.mark.django_db


def moderation_url(poll) -> str:
    return reverse("admin:polls_poll_write_ins", args=[poll.pk])


def counts_equal_ballots(poll) -> bool:
    for choice in poll.choices.all():
        stored = Ballot.objects.filter(choice=choice).count()
        stored += BallotChoice.objects.filter(choice=choice).count()
        if choice.votes != stored:
            return False
    return True


def test_an_editor_sees_the_pending_write_ins_escaped():
    poll = write_in_poll()
    vote(poll, "Other", voter="a", write_in="<script>alert(1)</script> & <b>bold</b>")
    vote(poll, "Other", voter="b", write_in="Linkerd")
    page = editor_client().get(moderation_url(poll))
    assert page.status_code == 200
    html = page.content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert "<script>alert(1)" not in html and "<b>bold</b>" not in html
    assert "Linkerd" in html and "Pending (2)" in html
    change_page = editor_client().get(reverse("admin:polls_poll_change", args=[poll.pk]))
    assert "Write-ins (2 pending)" in change_page.content.decode()


def test_an_editor_approves_and_rejects():
    poll = write_in_poll()
    keep, drop = (
        vote(poll, "Other", voter="a", write_in="Linkerd"),
        vote(poll, "Other", voter="b", write_in="spam spam"),
    )
    client = editor_client()
    response = client.post(moderation_url(poll), {"action": "approve", "ballot": [keep.pk]})
    assert response.status_code == 303
    client.post(moderation_url(poll), {"action": "reject", "ballot": [drop.pk]})
    assert dict(Ballot.objects.values_list("write_in", "write_in_status")) == {
        "Linkerd": "approved",
        "spam spam": "rejected",
    }
    assert "Approved (1)" in client.get(moderation_url(poll)).content.decode()
    # Sorting is not voting: the counts stay.
    assert counts(poll)["Other"] == 2


def test_merging_moves_the_votes_exactly_and_records_the_move():
    poll = write_in_poll()
    ballots = [
        vote(poll, "Other", voter=f"v{n}", write_in=text)
        for n, text in enumerate(["linkerd", "Linkerd 2"])
    ]
    untouched = vote(poll, "Other", voter="v9", write_in="Consul")
    client = editor_client()
    response = client.post(
        moderation_url(poll),
        {
            "action": "merge",
            "ballot": [b.pk for b in ballots],
            "choice_text": "Linkerd",
            "confirmed": "yes",
        },
    )
    assert response.status_code == 303
    assert counts(poll) == {"Envoy": 0, "NGINX": 0, "Linkerd": 2, "Other": 1}
    assert [c.text for c in poll.choices.all()][-2:] == ["Linkerd", "Other"]
    linkerd = poll.choices.get(text="Linkerd")
    assert set(Ballot.objects.filter(choice=linkerd)) == set(ballots)
    assert Ballot.objects.get(pk=untouched.pk).write_in_status == "pending"
    move = WriteInMove.objects.get()
    assert (move.from_choice.text, move.to_choice, move.votes_moved) == ("Other", linkerd, 2)
    assert move.moved_by.username == move.moved_by_username == "editor"
    assert set(move.ballots.all()) == set(ballots)
    assert counts_equal_ballots(poll)
    html = client.get(moderation_url(poll) + "?status=merged").content.decode()
    assert "Merged into a choice (2)" in html and f"#{ballots[0].pk}" in html


def test_merging_twice_moves_nothing_the_second_time():
    poll = write_in_poll()
    ballot = vote(poll, "Other", voter="a", write_in="Linkerd")
    editor = make_editor()
    editing.write_ins_merge(poll=poll, ballot_ids=[ballot.pk], text="Linkerd", editor=editor)
    with pytest.raises(editing.EditRefused):
        editing.write_ins_merge(poll=poll, ballot_ids=[ballot.pk], text="Other 2", editor=editor)
    assert counts(poll) == {"Envoy": 0, "NGINX": 0, "Linkerd": 1, "Other": 0}


def test_a_merge_is_shown_for_confirmation_first_and_changes_nothing_until_confirmed():
    poll = write_in_poll()
    ballots = [
        vote(poll, "Other", voter="a", write_in="linkerd"),
        vote(poll, "Other", voter="b", write_in="Linkerd 2"),
    ]
    client = editor_client()
    form = {"action": "merge", "ballot": [b.pk for b in ballots], "choice_text": " Linkerd "}
    page = client.post(moderation_url(poll), form)
    assert page.status_code == 200
    html = page.content.decode()
    assert (
        "2 ballots will move from “Other” (2 votes now) to a new choice “Linkerd”, placed just "
        "before “Other”." in html
    )
    assert 'name="confirmed" value="yes"' in html and "Linkerd 2" in html
    assert counts(poll) == {"Envoy": 0, "NGINX": 0, "Other": 2}
    assert not WriteInMove.objects.exists()
    assert client.post(moderation_url(poll), {**form, "confirmed": "yes"}).status_code == 303
    assert counts(poll) == {"Envoy": 0, "NGINX": 0, "Linkerd": 2, "Other": 0}


def test_write_ins_merge_into_an_existing_choice():
    poll = write_in_poll()
    ballots = [
        vote(poll, "Other", voter="a", write_in="envoy"),
        vote(poll, "Other", voter="b", write_in="Envoy proxy"),
    ]
    vote(poll, "Envoy", voter="c")
    client = editor_client()
    form = {"action": "merge", "ballot": [b.pk for b in ballots], "choice_text": " ENVOY "}
    html = client.post(moderation_url(poll), form).content.decode()
    assert "2 ballots will move from “Other” (2 votes now) to the existing choice “Envoy” " in html
    response = client.post(moderation_url(poll), {**form, "confirmed": "yes"}, follow=True)
    assert "2 write-ins merged into “Envoy”: 2 votes moved there from “Other”." in (
        response.content.decode()
    )
    assert counts(poll) == {"Envoy": 3, "NGINX": 0, "Other": 0}
    assert [c.text for c in poll.choices.all()] == ["Envoy", "NGINX", "Other"]
    move = WriteInMove.objects.get()
    assert (move.to_choice.text, move.votes_moved, set(move.ballots.all())) == (
        "Envoy",
        2,
        set(ballots),
    )
    assert counts_equal_ballots(poll)


def test_a_reader_who_picked_the_choice_and_wrote_it_in_keeps_one_vote_for_it():
    poll = write_in_poll(max_answers=2)
    both = vote(poll, "Envoy", "Other", voter="a", write_in="Envoy!")
    only = vote(poll, "NGINX", "Other", voter="b", write_in="envoy")
    editing.write_ins_merge(
        poll=poll, ballot_ids=[both.pk, only.pk], text="Envoy", editor=make_editor()
    )
    assert counts(poll) == {"Envoy": 2, "NGINX": 1, "Other": 0}
    assert Ballot.objects.get(pk=both.pk).answer_text == "Envoy"
    assert Ballot.objects.get(pk=only.pk).answer_text == "Envoy, NGINX"
    assert counts_equal_ballots(poll)


def test_merging_into_the_write_in_choice_itself_is_refused_in_words():
    poll = write_in_poll()
    ballot = vote(poll, "Other", voter="a", write_in="other")
    response = editor_client().post(
        moderation_url(poll),
        {"action": "merge", "ballot": [ballot.pk], "choice_text": "other"},
        follow=True,
    )
    assert "“Other” is where the write-ins are counted now" in response.content.decode()
    assert counts(poll)["Other"] == 1 and not WriteInMove.objects.exists()


def test_merging_in_a_poll_with_several_answers_moves_the_picks():
    poll = write_in_poll(max_answers=2)
    ballot = vote(poll, "Envoy", "Other", voter="a", write_in="Linkerd")
    editing.write_ins_merge(poll=poll, ballot_ids=[ballot.pk], text="Linkerd", editor=make_editor())
    assert counts(poll) == {"Envoy": 1, "NGINX": 0, "Linkerd": 1, "Other": 0}
    assert Ballot.objects.get().answer_text == "Envoy, Linkerd"
    assert counts_equal_ballots(poll)


def test_only_editors_moderate_and_ballots_stay_read_only():
    poll = write_in_poll()
    ballot = vote(poll, "Other", voter="a", write_in="Linkerd")
    viewer = User.objects.create_user("viewer", password="x", is_staff=True)
    client = Client()
    client.force_login(viewer)
    assert client.get(moderation_url(poll)).status_code == 403
    assert (
        client.post(moderation_url(poll), {"action": "approve", "ballot": [ballot.pk]}).status_code
        == 403
    )
    assert Ballot.objects.get().write_in_status == "pending"
    assert Client().get(moderation_url(poll)).status_code == 302  # to the sign-in page
    editor = editor_client()
    change = reverse("admin:polls_ballot_change", args=[ballot.pk])
    assert editor.post(change, {"write_in": "changed"}).status_code == 403
    assert Ballot.objects.get().write_in == "Linkerd"


@pytest.mark.django_db(transaction=True)
def test_readers_write_in_while_an_editor_merges_and_counts_stay_exact():
    poll = write_in_poll()
    other = poll.choices.get(text="Other")
    first = [vote(poll, "Other", voter=f"early-{n}", write_in="Linkerd") for n in range(20)]
    # A plain account: this test's database is flushed, the editors' group with it.
    editor = User.objects.create_user("editor")
    start = threading.Event()

    def reader(n: int) -> str:
        start.wait()
        try:
            ballot_cast(
                poll=poll, choice=other, voter_hash=voters.voter_hash(f"r{n}"), write_in="Consul"
            )
            return "voted"
        finally:
            connection.close()

    def merge() -> str:
        start.wait()
        try:
            ids = [b.pk for b in first]
            editing.write_ins_merge(poll=poll, ballot_ids=ids, text="Linkerd", editor=editor)
            return "merged"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(reader, n) for n in range(60)]
        futures.insert(30, pool.submit(merge))
        start.set()
        outcomes = [future.result(timeout=60) for future in futures]
    assert outcomes.count("voted") == 60 and outcomes.count("merged") == 1
    assert counts(poll) == {"Envoy": 0, "NGINX": 0, "Linkerd": 20, "Other": 60}
    assert Ballot.objects.count() == 80 == sum(c.votes for c in Choice.objects.filter(poll=poll))
    assert counts_equal_ballots(poll)
    assert WriteInMove.objects.get().votes_moved == 20


@pytest.mark.parametrize(
    "typed",
    [
        "\uff25nvoy",
        "\uff25\uff2e\uff36\uff2f\uff39",
        "En\u200bvoy",
        "\u2062Envoy",
        "Envoy\U000e0041",
        "ENVOY\u00ad",
    ],
    ids=ascii,
)
def test_a_near_duplicate_merges_into_the_choice_it_looks_like(typed):
    poll = write_in_poll()
    ballot = vote(poll, "Other", voter="a", write_in=typed)
    move = editing.write_ins_merge(
        poll=poll, ballot_ids=[ballot.pk], text=typed, editor=make_editor()
    )
    assert move.to_choice.text == "Envoy"
    assert [c.text for c in poll.choices.all()] == ["Envoy", "NGINX", "Other"]
    assert counts(poll) == {"Envoy": 1, "NGINX": 0, "Other": 0}
