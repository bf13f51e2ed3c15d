"""Many voters at once, each thread with its own PostgreSQL connection."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from polls.models import Ballot, BallotChoice
from polls.services import AlreadyVoted, OverRateLimit, ballot_cast
from tests.helpers import counts, make_poll

pytestmark = pytest.mark.django_db(transaction=True)


def race(votes: list[dict], threads: int) -> list[str]:
    """Cast votes (each ballot_cast's keyword arguments) from many threads released at the
    same moment."""
    start = threading.Event()

    def cast(vote: dict) -> str:
        start.wait()
        try:
            ballot_cast(**vote)
            return "counted"
        except AlreadyVoted:
            return "already voted"
        except OverRateLimit:
            return "over the limit"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(cast, vote) for vote in votes]
        start.set()
        return [future.result(timeout=60) for future in futures]


def test_concurrent_voters_end_with_counts_equal_to_the_ballots():
    poll = make_poll(choices=("A", "B", "C", "D"))
    choices = list(poll.choices.all())
    # Half the votes on one hot choice, the rest spread over all four.
    votes = [
        {"poll": poll, "choice": choices[0] if n % 2 else choices[n % 4], "voter_hash": f"v{n}"}
        for n in range(200)
    ]
    outcomes = race(votes, threads=16)
    assert outcomes.count("counted") == 200
    per_choice = counts(poll)
    assert sum(per_choice.values()) == 200 == Ballot.objects.count()
    for choice in choices:
        assert per_choice[choice.text] == Ballot.objects.filter(choice=choice).count()


def test_one_voter_racing_itself_gets_one_ballot():
    poll = make_poll(choices=("A", "B"))
    choices = list(poll.choices.all())
    votes = [
        {"poll": poll, "choice": choices[n % 2], "voter_hash": "the-same-voter"} for n in range(12)
    ]
    outcomes = race(votes, threads=12)
    assert outcomes.count("counted") == 1
    assert outcomes.count("already voted") == 11
    assert Ballot.objects.count() == 1
    assert sum(counts(poll).values()) == 1
    assert counts(poll)[Ballot.objects.get().choice.text] == 1


def test_concurrent_votes_with_several_answers_count_every_answer_exactly():
    poll = make_poll(choices=("A", "B", "C", "D"))
    poll.max_answers = 3
    poll.save()
    choices = list(poll.choices.all())
    # Overlapping picks in opposite orders: the choices' rows are locked in one order, so
    # readers queue up rather than deadlock. Half through the rate-limited statement.
    picks = [choices[:3], choices[2::-1], [choices[3], choices[0]], [choices[1]], choices[::-1][:3]]
    votes = [
        {
            "poll": poll,
            "choices": picks[n % len(picks)],
            "voter_hash": f"voter-{n}",
            "client_address": f"10.0.{n // 50}.{n % 50}" if n % 2 else None,
        }
        for n in range(200)
    ]
    outcomes = race(votes, threads=16)
    assert outcomes.count("counted") == 200
    assert Ballot.objects.count() == 200
    per_choice = counts(poll)
    for choice in choices:
        assert per_choice[choice.text] == BallotChoice.objects.filter(choice=choice).count()
    expected = sum(len(picks[n % len(picks)]) for n in range(200))
    assert sum(per_choice.values()) == expected == BallotChoice.objects.count()


def test_one_voter_racing_itself_with_several_answers_gets_one_ballot():
    poll = make_poll(choices=("A", "B", "C"))
    poll.max_answers = 2
    poll.save()
    choices = list(poll.choices.all())
    votes = [
        {"poll": poll, "choices": [choices[n % 3], choices[(n + 1) % 3]], "voter_hash": "same"}
        for n in range(12)
    ]
    outcomes = race(votes, threads=12)
    assert outcomes.count("counted") == 1 and outcomes.count("already voted") == 11
    assert Ballot.objects.count() == 1 and BallotChoice.objects.count() == 2
    assert sum(counts(poll).values()) == 2


def test_one_address_racing_itself_gets_exactly_the_limit(settings):
    settings.VOTE_RATE_LIMIT = (10, 600)
    poll = make_poll(choices=("A", "B"))
    choice = poll.choices.first()
    votes = [
        {"poll": poll, "choice": choice, "voter_hash": f"v{n}", "client_address": "203.0.113.40"}
        for n in range(40)
    ]
    outcomes = race(votes, threads=16)
    assert outcomes.count("counted") == 10 == Ballot.objects.count()
    assert outcomes.count("over the limit") == 30
