"""Voting: the one rule that spans polls, choices and ballots."""

from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from polls import rate_limit
from polls.models import Article, Ballot, Choice, Poll


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


def vote_attempt_admit(*, poll: Poll, client_address: str) -> None:
    """Count a vote attempt against its address's rate limit; refuse it when over."""
    decision = rate_limit.vote_attempt_register(client_address)
    if not decision.allowed:
        poll.count_refusal("refused_over_limit_votes")
        raise OverRateLimit(decision.retry_after)


def ballot_cast(
    *,
    poll: Poll,
    choice: Choice,
    voter_hash: str,
    source: str = Ballot.Source.POLL_PAGE,
    article: Article | None = None,
    host_origin: str = "",
    host_path: str = "",
    token_nonce: str | None = None,
) -> Ballot:
    """Record one reader's vote and count it, exactly once.

    The ballot insert and the counter increment commit together or not at all. The unique
    constraint on (poll, voter_hash) settles races between two requests of the same reader inside
    PostgreSQL, and the counter is incremented by the database (votes = votes + 1), so concurrent
    votes never overwrite each other.
    """
    if choice.poll_id != poll.pk:
        raise VoteRefused(_("That choice does not belong to this poll."))
    if not poll.is_open():
        if poll.is_closed():
            raise PollClosed(_("This poll is closed; votes are no longer counted."))
        raise PollClosed(_("This poll is not open for votes."))
    ballot = Ballot(
        poll=poll,
        choice=choice,
        voter_hash=voter_hash,
        source=source,
        article=article,
        host_origin=host_origin,
        host_path=host_path,
        token_nonce=token_nonce,
    )
    try:
        if connection.in_atomic_block:
            # Inside a caller's transaction, a savepoint keeps it usable after a refused vote.
            with transaction.atomic():
                ballot_insert_and_count(ballot)
        else:
            ballot_insert_and_count(ballot)
    except IntegrityError as error:
        if "one_ballot_per_voter" in str(error):
            poll.count_refusal("refused_repeat_votes")
            raise AlreadyVoted(_("You have already voted in this poll.")) from error
        if "vote_token_used_once" in str(error):
            raise TokenAlreadyUsed(
                _("This voting form was already used. Please vote again.")
            ) from error
        raise
    return ballot


def ballot_insert_and_count(ballot: Ballot) -> None:
    """Insert the ballot and increment its choice's counter in one SQL statement.

    One statement is one transaction on its own, and one round trip: no BEGIN and COMMIT
    around an INSERT and an UPDATE. The counter is still incremented by the database
    (votes = votes + 1), and a ballot refused by a unique constraint counts nothing.
    The choice's new count, this ballot included, is left in ballot.choice_votes.
    """
    fields = [field for field in Ballot._meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    values = [field.get_db_prep_save(field.pre_save(ballot, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH ballot AS ("
            f" INSERT INTO {quote(Ballot._meta.db_table)}"
            f" ({', '.join(quote(field.column) for field in fields)})"
            f" VALUES ({', '.join(['%s'] * len(fields))}) RETURNING id, choice_id)"
            f" UPDATE {quote(Choice._meta.db_table)} SET votes = votes + 1 FROM ballot"
            f" WHERE {quote(Choice._meta.db_table)}.id = ballot.choice_id"
            f" RETURNING ballot.id, {quote(Choice._meta.db_table)}.votes",
            values,
        )
        ballot.pk, ballot.choice_votes = cursor.fetchone()
    ballot._state.adding = False
    ballot._state.db = connection.alias


def ballot_for(*, poll: Poll, voter_hash: str | None) -> Ballot | None:
    if voter_hash is None:
        return None
    return Ballot.objects.filter(poll=poll, voter_hash=voter_hash).select_related("choice").first()
