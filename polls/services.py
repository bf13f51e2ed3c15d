"""Voting: the one rule that spans polls, choices and ballots."""

from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Field
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from polls import poll_cache, rate_limit
from polls.models import Article, Ballot, BallotChoice, Choice, Poll, RefusedVoter
from polls.statements import prepared_cursor


class VoteRefused(Exception):
    """A vote that must not be counted; the message is safe to show to the reader."""


class PollClosed(VoteRefused):
    pass


class AlreadyVoted(VoteRefused):
    pass


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


def vote_take(
    *,
    poll: Poll,
    voter_hash: str,
    client_address: str,
    choices: list[Choice] | None = None,
    invalid: str = "",
    forbidden: str = "",
    **place,
) -> VoteOutcome:
    """The one way a vote is taken, from our pages and from the widget alike.

    The view passes what the request says: the choices, or why the request cannot vote at all
    (invalid, forbidden). Every attempt counts against the address's rate limit, here: a vote in
    its own statement (ballot_cast), any other attempt on its own. place: where the vote was cast
    and with what (source, article, host_origin, host_path, token_nonce, frame_visibility,
    write_in), as ballot_cast records them.
    """
    Kind = VoteOutcome.Kind
    try:
        if invalid or forbidden or not choices:
            vote_attempt_admit(poll=poll, client_address=client_address)
            if forbidden:
                return VoteOutcome(Kind.FORBIDDEN, forbidden)
            missing = _("Please pick one of the answers before voting.")
            return VoteOutcome(Kind.INVALID, invalid or missing)
        ballot = ballot_cast(
            poll=poll,
            choices=choices,
            voter_hash=voter_hash,
            client_address=client_address,
            **place,
        )
    except OverRateLimit as refusal:
        return VoteOutcome(Kind.OVER_LIMIT, str(refusal), retry_after=refusal.retry_after)
    except AlreadyVoted as refusal:
        earlier = ballot_for(poll=poll, voter_hash=voter_hash)
        return VoteOutcome(Kind.REPEAT, str(refusal), ballot=earlier)
    except TokenAlreadyUsed as refusal:
        return VoteOutcome(Kind.FORM_USED, str(refusal))
    except PollClosed as refusal:
        return VoteOutcome(Kind.CLOSED, str(refusal))
    except VoteRefused as refusal:  # e.g. a choice of another poll
        return VoteOutcome(Kind.INVALID, str(refusal))
    return VoteOutcome(Kind.COUNTED, ballot=ballot)


def vote_attempt_admit(*, poll: Poll, client_address: str) -> None:
    """Count a vote attempt against its address's rate limit; refuse it when over.

    For attempts that never reach ballot_cast (a bad form or token): a cast counts its own.
    Such attempts are not votes, so the integrity line does not count their refusals."""
    decision = rate_limit.vote_attempt_register(client_address)
    if not decision.allowed:
        raise OverRateLimit(decision.retry_after)


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
    statement, and a vote over the limit is refused (OverRateLimit) with nothing recorded.

    A poll with several answers takes them as choices (up to poll.max_answers): one ballot,
    and each chosen choice counted once, in the same statement.

    A write-in (cleaned by the form: polls/forms.py) goes with the poll's write-in choice only;
    it is stored with the ballot, pending moderation, and counts as a vote for that choice.
    """
    picked = [choice] if choice is not None else list(choices or [])
    refusal = None
    if not picked or any(picked_choice.poll_id != poll.pk for picked_choice in picked):
        refusal = VoteRefused(_("That choice does not belong to this poll."))
    elif write_in and not any(picked_choice.is_write_in for picked_choice in picked):
        refusal = VoteRefused(write_in_needs_its_choice(poll))
    elif len(picked) > poll.max_answers or len({c.pk for c in picked}) != len(picked):
        refusal = VoteRefused(
            ngettext(
                "Please pick at most %(count)d answer.",
                "Please pick at most %(count)d answers.",
                poll.max_answers,
            )
            % {"count": poll.max_answers}
        )
    elif not poll.is_open():
        if poll.is_closed():
            refusal = PollClosed(_("This poll is closed; votes are no longer counted."))
        else:
            refusal = PollClosed(_("This poll is not open for votes."))
    if refusal is not None:
        if client_address is not None:
            vote_attempt_admit(poll=poll, client_address=client_address)
        raise refusal
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
        # The statement was undone, the attempt with it: count it on its own.
        if client_address is not None:
            vote_attempt_admit(poll=poll, client_address=client_address)
        if "one_ballot_per_voter" in str(error):
            RefusedVoter.record(poll=poll, reason=RefusedVoter.Reason.REPEAT, who_hash=voter_hash)
            raise AlreadyVoted(_("You have already voted in this poll.")) from error
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


def write_in_needs_its_choice(poll: Poll) -> str:
    other = poll.write_in_choice
    if other is None:
        return _("This poll takes no written answers.")
    return _("Your own answer counts only with “%(choice)s” picked.") % {"choice": other.text}


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

    With a client_address, the same statement first counts the attempt (rate_limit.ATTEMPT) and
    inserts the ballot only within the limit; the decision is returned.

    announced: the caller announces the new counts (poll_cache.PollCache.vote_counted), so
    the statement tells the choices' trigger to send nothing (migration 0020).
    """
    fields = ballot_fields()
    values = [field.get_db_prep_save(field.pre_save(ballot, True), connection) for field in fields]
    several = ballot.choice_id is None
    picked_ids = [sorted(choice.pk for choice in picked)] if several else []
    attempt = rate_limit.attempt_params(client_address) if client_address is not None else None
    if attempt is None:
        statement = ballot_statement(rate_limited=False, several=several, announced=announced)
        params = [*values, *picked_ids]
    else:
        statement = ballot_statement(rate_limited=True, several=several, announced=announced)
        params = [*attempt.params, *values, *picked_ids]
    # A failure to connect happens here, before anything is sent: the vote was not counted.
    with prepared_cursor() as cursor:
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


@cache
def ballot_fields() -> list[Field]:
    return [field for field in Ballot._meta.concrete_fields if not field.primary_key]


@cache
def ballot_statement(*, rate_limited: bool, several: bool = False, announced: bool = False) -> str:
    """The SQL of ballot_insert_and_count, written once per process."""
    quote = connection.ops.quote_name
    ballots, choices = quote(Ballot._meta.db_table), quote(Choice._meta.db_table)
    columns = ", ".join(quote(field.column) for field in ballot_fields())
    # Typed, because the server binds the parameters (polls/statements.py) and must know them.
    placeholders = ", ".join(f"%s::{field.db_type(connection)}" for field in ballot_fields())
    if not several:
        counted = (
            f"UPDATE {choices} SET votes = votes + 1 FROM ballot"
            f" WHERE {choices}.id = ballot.choice_id"
            f" RETURNING ballot.id, {choices}.id AS choice_id, {choices}.votes"
        )
        chosen = ""
    else:
        # Each pick is stored with the ballot, and its choice counted. The choices' rows are
        # locked in the order of their ids before they are counted: two readers picking the
        # same choices in any order then queue up instead of deadlocking.
        picks = quote(BallotChoice._meta.db_table)
        chosen = (
            f", picked AS (INSERT INTO {picks} (ballot_id, choice_id)"
            " SELECT ballot.id, chosen FROM ballot, unnest(%s::bigint[]) AS chosen"
            " RETURNING ballot_id, choice_id),"
            f" locked AS (SELECT id FROM {choices} WHERE id IN (SELECT choice_id FROM picked)"
            f" ORDER BY id FOR NO KEY UPDATE)"
        )
        counted = (
            f"UPDATE {choices} SET votes = votes + 1 FROM locked, ballot"
            f" WHERE {choices}.id = locked.id"
            f" RETURNING ballot.id, {choices}.id AS choice_id, {choices}.votes"
        )
    # Set for this transaction alone, before the statement's triggers fire at its end; the
    # ballot's insert reads it, so that it is evaluated.
    announcing = "set_config('pollsite.votes_announced', 'on', true)" if announced else "''"
    flag = f"flag AS (SELECT {announcing} AS announced)"
    if not rate_limited:
        return (
            f"WITH {flag}, ballot AS (INSERT INTO {ballots} ({columns}) SELECT {placeholders}"
            f" FROM flag RETURNING id, choice_id){chosen} {counted}"
        )
    return (
        f"WITH {flag}, attempt AS ({rate_limit.ATTEMPT}),"
        f" ballot AS (INSERT INTO {ballots} ({columns}) SELECT {placeholders}"
        f" FROM attempt, flag WHERE admitted RETURNING id, choice_id){chosen},"
        f" counted AS ({counted})"
        " SELECT attempt.admitted, attempt.oldest, counted.id, counted.choice_id, counted.votes"
        " FROM attempt LEFT JOIN counted ON true"
    )


def ballot_for(*, poll: Poll, voter_hash: str | None) -> Ballot | None:
    if voter_hash is None:
        return None
    ballots = Ballot.objects.filter(poll=poll, voter_hash=voter_hash).select_related("choice")
    if poll.allows_several_answers:
        ballots = ballots.prefetch_related("picks__choice")
    return ballots.first()
