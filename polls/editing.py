"""What an editor does to a poll besides filling in its form: close, reopen, duplicate, and
moderate its write-ins."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from polls.forms import write_in_cleaned
from polls.models import Ballot, BallotChoice, Choice, Poll, WriteInMove


class EditRefused(Exception):
    """The change does not apply to this poll; the message says why, for the editor."""


def poll_close(*, poll: Poll, now: datetime | None = None) -> None:
    now = now or timezone.now()
    state = poll.state(now)
    if state != "open":
        raise EditRefused(f"“{poll}” is {state}, not open, so there is nothing to close.")
    poll.closes_at = now
    poll.save(update_fields=["closes_at", "updated_at"])


def poll_reopen(*, poll: Poll, now: datetime | None = None) -> None:
    """Open a closed poll again, with no closing time (the editor can set one)."""
    state = poll.state(now)
    if state != "closed":
        raise EditRefused(f"“{poll}” is {state}, not closed, so it cannot be reopened.")
    poll.closes_at = None
    poll.save(update_fields=["closes_at", "updated_at"])


@transaction.atomic
def poll_duplicate(*, poll: Poll) -> Poll:
    """A new draft with the same question, settings and choices, and no votes. Nothing marks
    it as a copy that readers could see: it is a draft, its history says where it came from,
    and its slug follows its question until it is published (PollAdminForm)."""
    copy = Poll.objects.create(
        question=poll.question,
        slug=free_slug(poll.question),
        status=Poll.Status.DRAFT,
        max_answers=poll.max_answers,
        shuffle_choices=poll.shuffle_choices,
        results_shown=poll.results_shown,
        percentages_only=poll.percentages_only,
    )
    Choice.objects.bulk_create(
        Choice(
            poll=copy,
            text=choice.text,
            position=choice.position,
            stays_last=choice.stays_last,
            is_write_in=choice.is_write_in,
        )
        for choice in poll.choices.all()
    )
    return copy


def free_slug(wanted: str, *, excluding: Poll | None = None) -> str:
    """A slug made of `wanted` that no other poll has: "which-proxy", else "which-proxy-2"..."""
    max_length = Poll._meta.get_field("slug").max_length
    base = slugify(wanted)[: max_length - 4].strip("-") or "poll"
    others = Poll.objects.exclude(pk=excluding.pk) if excluding and excluding.pk else Poll.objects
    slug, number = base, 2
    while others.filter(slug=slug).exists():
        slug, number = f"{base}-{number}", number + 1
    return slug


# Write-ins that an editor may still approve, reject or merge: a merged one has left "Other".
MODERATED = [
    Ballot.WriteInStatus.PENDING,
    Ballot.WriteInStatus.APPROVED,
    Ballot.WriteInStatus.REJECTED,
]


def write_ins_decide(*, poll: Poll, ballot_ids: Iterable[int], status: str) -> int:
    """Approve or reject these write-ins of the poll; returns how many changed. Nothing else of
    a ballot changes, and a merged write-in stays merged."""
    if status not in (Ballot.WriteInStatus.APPROVED, Ballot.WriteInStatus.REJECTED):
        raise EditRefused("A write-in can only be approved or rejected.")
    return Ballot.objects.filter(
        poll=poll, pk__in=list(ballot_ids), write_in_status__in=MODERATED
    ).update(write_in_status=status)


def same_choice_text(text: str) -> str:
    """A choice's text as two choices are compared, by what a reader sees: "Envoy", " envoy ",
    a fullwidth "\uff25nvoy" and "En\u200bvoy" are one choice. Compatibility forms folded (NFKC),
    case folded, invisible format characters (Unicode Cf) dropped, spaces collapsed."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return " ".join("".join(c for c in folded if unicodedata.category(c) != "Cf").split())


@dataclass(frozen=True)
class MergePlan:
    """What merging these write-ins would do, for the editor to confirm first."""

    text: str
    into: Choice | None  # an existing choice, or None for a new one
    ballots: int
    write_in_choice: Choice


def write_ins_merge_plan(*, poll: Poll, ballot_ids: Iterable[int], text: str) -> MergePlan:
    """Check a merge without making it: the choice it goes into, and how many ballots move."""
    text = write_in_cleaned(text)
    max_length = Choice._meta.get_field("text").max_length
    if not text:
        raise EditRefused("Type the choice to merge the selected write-ins into.")
    if len(text) > max_length:
        raise EditRefused(f"A choice has at most {max_length} characters.")
    choices = list(poll.choices.all())
    other = next((choice for choice in choices if choice.is_write_in), None)
    if other is None:
        raise EditRefused(f"“{poll}” has no write-in choice.")
    into = next((c for c in choices if same_choice_text(c.text) == same_choice_text(text)), None)
    if into is not None and into.pk == other.pk:
        raise EditRefused(
            f"“{other.text}” is where the write-ins are counted now: merge them into another "
            "choice."
        )
    ballots = Ballot.objects.filter(
        poll=poll, pk__in=list(ballot_ids), write_in_status__in=MODERATED
    ).count()
    if not ballots:
        raise EditRefused("None of these write-ins can be merged: they may have been merged.")
    return MergePlan(text=text, into=into, ballots=ballots, write_in_choice=other)


@transaction.atomic
def write_ins_merge(
    *, poll: Poll, ballot_ids: Iterable[int], text: str, editor: AbstractBaseUser
) -> WriteInMove:
    """Move these write-ins' votes from the poll's write-in choice ("Other") to the choice
    named `text`: an existing one (compared as same_choice_text does), or a new one made just
    before "Other". The counts move exactly, and a WriteInMove records who moved which
    ballots, and when.

    One transaction. The ballots are locked, so two editors merging the same write-ins at once
    move them once; the counters move by the rows actually moved, in SQL (votes = votes - n),
    so votes cast meanwhile are kept. The write-in choice's row is locked with FOR NO KEY
    UPDATE, which new ballots pointing at it do not wait for.
    """
    ballot_ids = list(ballot_ids)
    poll.choices.select_for_update(no_key=True).filter(is_write_in=True).first()
    plan = write_ins_merge_plan(poll=poll, ballot_ids=ballot_ids, text=text)
    other = plan.write_in_choice
    moving = list(
        Ballot.objects.select_for_update()
        .filter(poll=poll, pk__in=ballot_ids, write_in_status__in=MODERATED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not moving:
        raise EditRefused("None of these write-ins can be merged: they may have been merged.")
    choice = plan.into
    if choice is None:
        # The new choice takes "Other"'s place, which moves one down with what follows it.
        poll.choices.filter(position__gte=other.position).update(position=F("position") + 1)
        choice = Choice.objects.create(poll=poll, text=plan.text, position=other.position)
    moved = Ballot.objects.filter(pk__in=moving, choice=other).update(choice=choice)
    # With several answers, a reader may have picked the choice as well as writing it in:
    # their "Other" goes, and the choice keeps the one vote it had from them.
    picked_both = BallotChoice.objects.filter(ballot_id__in=moving, choice=choice)
    dropped, _ = BallotChoice.objects.filter(
        ballot_id__in=picked_both.values("ballot_id"), choice=other
    ).delete()
    moved += BallotChoice.objects.filter(ballot_id__in=moving, choice=other).update(choice=choice)
    Choice.objects.filter(pk=other.pk).update(votes=F("votes") - moved - dropped)
    Choice.objects.filter(pk=choice.pk).update(votes=F("votes") + moved)
    Ballot.objects.filter(pk__in=moving).update(write_in_status=Ballot.WriteInStatus.MERGED)
    move = WriteInMove.objects.create(
        poll=poll,
        from_choice=other,
        to_choice=choice,
        moved_by=editor,
        moved_by_username=editor.get_username(),
        votes_moved=moved,
    )
    move.ballots.set(moving)
    return move
