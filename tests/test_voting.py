import pytest
from django.db import connection

from polls.models import Ballot
from polls.services import AlreadyVoted, PollClosed, VoteRefused, ballot_cast
from tests.helpers import counts, make_article, make_poll

pytestmark = pytest.mark.django_db


def test_it_records_a_ballot_and_counts_it(poll):
    envoy = poll.choices.get(text="Envoy")
    ballot = ballot_cast(poll=poll, choice=envoy, voter_hash="a" * 64)
    assert counts(poll) == {"Envoy": 1, "NGINX": 0, "HAProxy": 0}
    assert ballot.source == Ballot.Source.POLL_PAGE
    assert Ballot.objects.get() == ballot


def test_it_records_where_the_vote_was_cast(poll):
    article = make_article("Host", poll=poll)
    ballot = ballot_cast(
        poll=poll,
        choice=poll.choices.first(),
        voter_hash="b" * 64,
        source=Ballot.Source.ARTICLE,
        article=article,
    )
    ballot.refresh_from_db()
    assert (ballot.source, ballot.article) == (Ballot.Source.ARTICLE, article)


def test_every_ballot_value_reaches_the_database_as_it_was_cast(poll):
    """The vote's statement sends most values as the ballot holds them, not through Django's
    conversion: every column must read back as cast."""
    article = make_article("Host", poll=poll)
    cast = {
        "voter_hash": "d" * 64,
        "source": Ballot.Source.EMBED,
        "article": article,
        "host_origin": "https://news.example",
        "host_path": "/2019/04/envoy",
        "token_nonce": "nonce-1",
        "frame_visibility": Ballot.FrameVisibility.CONFIRMED,
    }
    ballot = ballot_cast(poll=poll, choice=poll.choices.get(text="Envoy"), **cast)
    stored = Ballot.objects.get(pk=ballot.pk)
    assert {name: getattr(stored, name) for name in cast} == cast
    assert stored.choice.text == "Envoy"
    assert stored.cast_at == ballot.cast_at
    assert (stored.write_in, stored.write_in_status) == ("", "")


def test_it_counts_one_ballot_per_voter_per_poll(poll):
    ballot_cast(poll=poll, choice=poll.choices.get(text="Envoy"), voter_hash="c" * 64)
    with pytest.raises(AlreadyVoted):
        ballot_cast(poll=poll, choice=poll.choices.get(text="NGINX"), voter_hash="c" * 64)
    assert counts(poll) == {"Envoy": 1, "NGINX": 0, "HAProxy": 0}
    assert Ballot.objects.count() == 1


def test_it_lets_the_same_voter_vote_in_another_poll(poll):
    other = make_poll("Other?", ("Yes", "No"))
    ballot_cast(poll=poll, choice=poll.choices.first(), voter_hash="d" * 64)
    ballot_cast(poll=other, choice=other.choices.first(), voter_hash="d" * 64)
    assert Ballot.objects.count() == 2


def test_it_refuses_a_choice_from_another_poll(poll):
    other = make_poll("Other?", ("Yes", "No"))
    with pytest.raises(VoteRefused):
        ballot_cast(poll=poll, choice=other.choices.first(), voter_hash="e" * 64)
    assert Ballot.objects.count() == 0
    assert sum(counts(other).values()) == 0


@pytest.mark.parametrize("state", ["closed", "scheduled", "draft"])
def test_it_refuses_votes_on_a_poll_that_is_not_open(state):
    poll = make_poll(state=state)
    with pytest.raises(PollClosed):
        ballot_cast(poll=poll, choice=poll.choices.first(), voter_hash="f" * 64)
    assert Ballot.objects.count() == 0
    assert sum(counts(poll).values()) == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("prepare_threshold", [0, None])
def test_the_vote_statement_runs_prepared_or_not(poll, prepare_threshold):
    """DB_PREPARED_STATEMENTS=0 (prepare_threshold None) is for poolers that cannot carry
    prepared statements: the vote must work the same, and leave none on the connection."""
    options = connection.settings_dict["OPTIONS"]
    saved = options.get("prepare_threshold", "unset")
    options["prepare_threshold"] = prepare_threshold
    connection.close()
    try:
        for voter in ("p", "q"):
            ballot_cast(
                poll=poll, choice=poll.choices.first(), voter_hash=voter * 64, client_address="x"
            )
        list(type(poll).objects.filter(pk=poll.pk))  # one of Django's own queries
        with connection.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements")
            statements = [text for (text,) in cursor.fetchall()]
            prepared = len(statements)
    finally:
        if saved == "unset":
            options.pop("prepare_threshold")
        else:
            options["prepare_threshold"] = saved
        connection.close()
    assert counts(poll) == {"Envoy": 2, "NGINX": 0, "HAProxy": 0}
    assert (prepared > 0) == (prepare_threshold is not None)
    # Only the vote's statement: Django's queries stay bound on the client, never prepared.
    assert all('INSERT INTO "polls_ballot"' in text for text in statements), statements
