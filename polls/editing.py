"""What an editor does to a poll besides filling in its form: close, reopen, duplicate."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from polls.models import Choice, Poll

COPY_MARK = " (copy)"


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
    """A new draft with the question marked as a copy, the same settings and choices, and no
    votes."""
    max_length = Poll._meta.get_field("question").max_length
    copy = Poll.objects.create(
        # Told apart from the original in the poll list, in search and in the history.
        question=f"{poll.question[: max_length - len(COPY_MARK)]}{COPY_MARK}",
        slug=free_slug(f"{poll.slug}-copy"),
        status=Poll.Status.DRAFT,
        max_answers=poll.max_answers,
        shuffle_choices=poll.shuffle_choices,
        results_shown=poll.results_shown,
        percentages_only=poll.percentages_only,
    )
    Choice.objects.bulk_create(
        Choice(poll=copy, text=choice.text, position=choice.position, stays_last=choice.stays_last)
        for choice in poll.choices.all()
    )
    return copy


def free_slug(wanted: str) -> str:
    max_length = Poll._meta.get_field("slug").max_length
    base = slugify(wanted)[: max_length - 4].strip("-")
    slug, number = base, 2
    while Poll.objects.filter(slug=slug).exists():
        slug, number = f"{base}-{number}", number + 1
    return slug
