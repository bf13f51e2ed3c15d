"""Voting: the one rule that spans polls, choices and ballots."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from polls import poll_cache, rate_limit, statements
from polls.models import Article, Ballot, Choice, Poll, RefusedVoter

if TYPE_CHECKING:  # a value the channels parse, and this module only reads
    from polls.vote_request import VoteRequest


class VoteRefused(Exception):
    """A vote that must not be counted; the message is safe to show to the reader."""


class PollClosed(VoteRefused):
    pass


class AlreadyVoted(VoteRefused):
    def __init__(self, message: str, earlier: Ballot | None) -> None:
        super().__init__(message)
        self.earlier = earlier  # the reader's ballot


class TokenAlreadyUsed(VoteRefused):
    pass


class OverRateLimit(VoteRefused):
    def __init__(self, retry_after: int) -> None:
        minutes = max(1, round(retry_after / 60))
        super().__init__(
            _("Too many votes have come from your network in the last few minutes.")
            + " "
            + ngettext(
                "Please try again in %(minutes)d minute.",
                "Please try again in %(minutes)d minutes.",
                minutes,
            )
            % {"minutes": minutes}
        )
        self.retry_after = retry_after


class VoteUnconfirmed(OperationalError):
    """The vote's statement went to PostgreSQL and its answer never came back: it may have
    committed or not, so the reader must not be told that nothing was counted."""


@dataclass(frozen=True)
class VoteOutcome:
    """What became of a request to vote: counted, or refused and why. The message is for the
    reader; ballot is the new one, or the reader's earlier one when they had voted already."""

    class Kind(StrEnum):
        COUNTED = "counted"
        INVALID = "invalid"  # the form or its choices were wrong
        FORBIDDEN = "forbidden"  # not from the poll itself, or a forged or expired form
        OVER_LIMIT = "over_limit"
        REPEAT = "repeat"
        FORM_USED = "form_used"  # the single-use form (widget token) was spent already
        CLOSED = "closed"
        # The widget's form without its script (vote_request.is_unseen_form_vote): nothing was
        # counted, and the reader confirms on our own page.
        TO_CONFIRM = "to_confirm"

    kind: Kind
    message: str = ""
    ballot: Ballot | None = None
    retry_after: int | None = None

    @property
    def status(self) -> int:
        """The HTTP status both vote views answer with."""
        return {
            self.Kind.COUNTED: 200,
            self.Kind.INVALID: 400,
            self.Kind.FORBIDDEN: 403,
            self.Kind.OVER_LIMIT: 429,
        }.get(self.kind, 409)


def vote_take(vote: VoteRequest) -> VoteOutcome:
    """The one way a vote is taken, from every channel (polls/vote_request.py).

    Every attempt counts against its network's rate limit, here: a vote in its own statement
    (ballot_cast), any attempt refused before or by that statement on its own."""
    Kind = VoteOutcome.Kind
    if vote.to_confirm:
        return VoteOutcome(Kind.TO_CONFIRM)
    if vote.forbidden:
        refused = VoteOutcome(Kind.FORBIDDEN, vote.forbidden)
    elif vote.choices is None:
        refused = VoteOutcome(Kind.INVALID, vote.invalid)
    else:
        try:
            ballot = ballot_cast(
                poll=vote.poll,
                choices=vote.choices,
                voter_hash=vote.voter_hash,
                client_address=vote.client_address,
                **vote.ballot_place(),
            )
            return VoteOutcome(Kind.COUNTED, ballot=ballot)
        except OverRateLimit as refusal:  # counted by the vote's statement, and refused
            return refusal_outcome(refusal)
        except VoteRefused as refusal:
            refused = refusal_outcome(refusal)
    # The vote's statement did not run, or was undone: the attempt counts on its own.
    decision = rate_limit.vote_attempt_register(vote.client_address)
    if not decision.allowed:
        return refusal_outcome(OverRateLimit(decision.retry_after))
    return refused


def refusal_outcome(refusal: VoteRefused) -> VoteOutcome:
    Kind = VoteOutcome.Kind
    if isinstance(refusal, OverRateLimit):
        return VoteOutcome(Kind.OVER_LIMIT, str(refusal), retry_after=refusal.retry_after)
    if isinstance(refusal, AlreadyVoted):
        # The reader's earlier ballot, which their answer shows.
        return VoteOutcome(Kind.REPEAT, str(refusal), ballot=refusal.earlier)
    if isinstance(refusal, TokenAlreadyUsed):
        return VoteOutcome(Kind.FORM_USED, str(refusal))
    if isinstance(refusal, PollClosed):
        return VoteOutcome(Kind.CLOSED, str(refusal))
    return VoteOutcome(Kind.INVALID, str(refusal))  # e.g. a choice of another poll


def ballot_cast(
    *,
    poll: Poll,
    choice: Choice | None = None,
    choices: list[Choice] | None = None,
    voter_hash: str,
    source: str = Ballot.Source.POLL_PAGE,
    article: Article | None = None,
    host_origin: str = "",
    host_path: str = "",
    token_nonce: str | None = None,
    client_address: str | None = None,
    frame_visibility: str = "",
    write_in: str = "",
) -> Ballot:
    """Record one reader's vote and count it, exactly once.

    The ballot insert and the counter increment commit together or not at all. The unique
    constraint on (poll, voter_hash) settles races between two requests of the same reader inside
    PostgreSQL, and the counter is incremented by the database (votes = votes + 1), so concurrent
    votes never overwrite each other.

    With a client_address, the attempt is counted against that address's rate limit in the same
    statement, and a vote over the limit is refused (OverRateLimit) with nothing recorded. A
    vote refused otherwise is not counted here: services.vote_take counts every attempt.

    A poll with several answers takes them as choices (up to poll.max_answers): one ballot,
    and each chosen choice counted once, in the same statement.

    A write-in (cleaned by the form: polls/forms.py) goes with the poll's write-in choice only;
    it is stored with the ballot, pending moderation, and counts as a vote for that choice.
    """
    picked = [choice] if choice is not None else list(choices or [])
    if problem := poll.ballot_problem(picked, write_in):
        raise VoteRefused(problem.message)
    if not poll.is_open():
        if poll.is_closed():
            raise PollClosed(_("This poll is closed; votes are no longer counted."))
        raise PollClosed(_("This poll is not open for votes."))
    ballot = Ballot(
        poll=poll,
        # A poll with several answers keeps them apart (BallotChoice), even when one was picked.
        choice=None if poll.allows_several_answers else picked[0],
        voter_hash=voter_hash,
        source=source,
        article=article,
        host_origin=host_origin,
        host_path=host_path,
        token_nonce=token_nonce,
        frame_visibility=frame_visibility,
        write_in=write_in,
        write_in_status=Ballot.WriteInStatus.PENDING if write_in else "",
    )
    # The vote's own transaction: this worker announces it (poll_cache), not the trigger. In a
    # caller's transaction the trigger does, when that transaction commits.
    announced = poll_cache.polls.announces_votes and not connection.in_atomic_block
    since = poll_cache.polls.generation
    try:
        if connection.in_atomic_block:
            # Inside a caller's transaction, a savepoint keeps it usable after a refused vote.
            with transaction.atomic():
                attempt = ballot_insert_and_count(ballot, client_address, picked)
        else:
            attempt = ballot_insert_and_count(ballot, client_address, picked, announced=announced)
    except IntegrityError as error:
        # The statement was undone, the attempt with it (services.vote_take counts it).
        if "one_ballot_per_voter" in str(error):
            RefusedVoter.record(poll=poll, reason=RefusedVoter.Reason.REPEAT, who_hash=voter_hash)
            earlier = ballot_for(poll=poll, voter_hash=voter_hash)
            raise AlreadyVoted(_("You have already voted in this poll."), earlier) from error
        if "vote_token_used_once" in str(error):
            raise TokenAlreadyUsed(
                _("This voting form was already used. Please vote again.")
            ) from error
        raise
    if attempt is not None and not attempt.allowed:
        RefusedVoter.record(
            poll=poll,
            reason=RefusedVoter.Reason.OVER_LIMIT,
            who_hash=rate_limit.address_hash(client_address),
        )
        raise OverRateLimit(attempt.retry_after)
    if announced:
        poll_cache.polls.vote_counted(poll, ballot.choice_counts, since=since)
    ballot.picked = sorted(picked, key=lambda c: (c.position, c.pk))
    return ballot


def ballot_insert_and_count(
    ballot: Ballot,
    client_address: str | None = None,
    picked: list[Choice] | None = None,
    *,
    announced: bool = False,
) -> rate_limit.RateDecision | None:
    """Insert the ballot and increment its choice's counter in one SQL statement.

    One statement is one transaction on its own, and one round trip: no BEGIN and COMMIT
    around an INSERT and an UPDATE. The counter is still incremented by the database
    (votes = votes + 1), and a ballot refused by a unique constraint counts nothing.
    The choice's new count, this ballot included, is left in ballot.choice_votes; with several
    answers (picked, for a ballot without a choice), ballot.choice_counts has each new count.

    With a client_address, the same statement first counts the attempt (statements.ATTEMPT) and
    inserts the ballot only within the limit; the decision is returned.

    announced: the caller announces the new counts (poll_cache.PollCache.vote_counted), so
    the statement tells the choices' trigger to send nothing (migration 0020).
    """
    several = ballot.choice_id is None
    params = statements.ballot_params(ballot)
    if several:
        params["picked"] = sorted(choice.pk for choice in picked)
    attempt = rate_limit.attempt_params(client_address) if client_address is not None else None
    if attempt is not None:
        params.update(attempt.params)
    statement = statements.ballot_statement(
        rate_limited=attempt is not None, several=several, announced=announced
    )
    # A failure to connect happens here, before anything is sent: the vote was not counted.
    with statements.prepared_cursor() as cursor:
        try:
            cursor.execute(statement, params)
            rows = cursor.fetchall()
        except (OperationalError, InterfaceError) as error:
            if getattr(error.__cause__, "sqlstate", None):
                raise  # PostgreSQL answered with an error: the statement did not commit
            # Sent, and no answer came back: it may have committed.
            raise VoteUnconfirmed(str(error)) from error
    decision = None
    if attempt is not None:
        admitted, oldest = rows[0][:2]
        decision = attempt.decision(admitted, oldest)
        rows = [row[2:] for row in rows]
    # One row per counted choice: (ballot id, choice id, its new count).
    ballot.pk = rows[0][0]
    ballot.choice_counts = {choice_id: votes for _, choice_id, votes in rows if choice_id}
    ballot.choice_votes = rows[0][2]
    ballot._state.adding = False
    ballot._state.db = connection.alias
    return decision


def ballot_for(*, poll: Poll, voter_hash: str | None) -> Ballot | None:
    if voter_hash is None:
        return None
    ballots = Ballot.objects.filter(poll=poll, voter_hash=voter_hash).select_related("choice")
    if poll.allows_several_answers:
        ballots = ballots.prefetch_related("picks__choice")
    return ballots.first()
