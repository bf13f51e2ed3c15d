from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q, Sum, prefetch_related_objects
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from polls import contrast


class CountersKeptByTheDatabase(models.Model):
    """A model whose counter fields only the database increments (UPDATE ... SET n = n + 1).

    Saving a loaded instance (an editor's admin form, say) must never write its counters back:
    the values it read may be stale by then, and writing them would erase votes cast meanwhile.
    """

    counter_fields: tuple[str, ...] = ()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                field.name
                for field in self._meta.concrete_fields
                if not field.primary_key and field.name not in self.counter_fields
            ]
        super().save(*args, **kwargs)


def poll_path(view: str, slug: str) -> str:
    """reverse(view, args=[slug]), worked out once per poll: every vote's answer links its poll."""
    return reversed_once(view, slug, get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)


@lru_cache(maxsize=4096)
def reversed_once(view: str, slug: str, prefix: str, urlconf: str) -> str:
    return reverse(view, args=[slug], urlconf=urlconf)


class PollQuerySet(models.QuerySet):
    def visible(self, now: datetime | None = None) -> PollQuerySet:
        """Polls a reader may see: published and already opened."""
        now = now or timezone.now()
        return self.filter(status=Poll.Status.PUBLISHED, opens_at__lte=now)

    def scheduled(self, now: datetime | None = None) -> PollQuerySet:
        """Published polls that open later: other sites may embed them already."""
        now = now or timezone.now()
        return self.filter(status=Poll.Status.PUBLISHED, opens_at__gt=now)

    def open(self, now: datetime | None = None) -> PollQuerySet:
        now = now or timezone.now()
        return self.visible(now).filter(Q(closes_at__isnull=True) | Q(closes_at__gt=now))

    def closed(self, now: datetime | None = None) -> PollQuerySet:
        now = now or timezone.now()
        return self.visible(now).filter(closes_at__lte=now)

    def visible_with_choices(self, slug: str, now: datetime | None = None) -> Poll | None:
        """The visible poll with this slug, and its choices, in one hand-written query.

        The widget, its 304, the results JSON and every vote start here. The choices come as a
        JSON array on the poll's row (prefetch_related would send a second query), and the SQL
        is written out because compiling the equivalent ORM query cost several times more CPU
        than PostgreSQL spends running it. The rule is visible()'s.
        """
        polls = self.raw(
            "SELECT p.*,"
            " (SELECT coalesce(jsonb_agg(jsonb_build_object('id', c.id, 'poll_id', c.poll_id,"
            " 'text', c.text, 'position', c.position, 'votes', c.votes, 'stays_last', c.stays_last,"
            " 'is_write_in', c.is_write_in)"
            " ORDER BY c.position, c.id), '[]') FROM polls_choice c WHERE c.poll_id = p.id)"
            " AS choice_rows,"
            " (SELECT count(*) FROM polls_refusedvoter r WHERE r.poll_id = p.id"
            "  AND r.reason = %s) AS repeat_readers,"
            " (SELECT count(*) FROM polls_refusedvoter r WHERE r.poll_id = p.id"
            "  AND r.reason = %s) AS over_limit_networks,"
            # A poll with several answers shows shares of its voters: one ballot each.
            " CASE WHEN p.max_answers > 1 THEN"
            " (SELECT count(*) FROM polls_ballot b WHERE b.poll_id = p.id) END AS voters"
            " FROM polls_poll p WHERE p.slug = %s AND p.status = %s AND p.opens_at <= %s",
            [
                RefusedVoter.Reason.REPEAT,
                RefusedVoter.Reason.OVER_LIMIT,
                slug,
                Poll.Status.PUBLISHED,
                now or timezone.now(),
            ],
        )
        fields = [field.attname for field in Choice._meta.concrete_fields]
        for poll in polls:
            # Django leaves JSON decoding to JSONField, so a raw query's jsonb arrives as text.
            rows = json.loads(poll.choice_rows)
            poll.loaded_choices = [
                Choice.from_db(polls.db, fields, [row[name] for name in fields]) for row in rows
            ]
            for choice in poll.loaded_choices:
                choice.poll = poll
            poll.refusals = Refusals(poll.repeat_readers, poll.over_limit_networks)
            return poll
        return None

    def with_total_votes(self) -> PollQuerySet:
        return self.annotate(total_votes=Sum("choices__votes", default=0))


MAX_ANSWERS = 20
# The longest answer a reader may write in; longer is refused, not cut (polls/forms.py).
WRITE_IN_MAX_LENGTH = 100


class Poll(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    question = models.CharField(max_length=300)
    slug = models.SlugField(max_length=120, unique=True)
    status = models.CharField(max_length=10, choices=Status, default=Status.DRAFT)
    opens_at = models.DateTimeField(
        default=timezone.now, help_text="Readers see the poll and can vote from this time on."
    )
    closes_at = models.DateTimeField(
        null=True, blank=True, help_text="Leave empty to keep the poll open until you close it."
    )

    class ResultsShown(models.TextChoices):
        ALWAYS = "always", "Always, also next to the vote form"
        AFTER_VOTING = "after_voting", "After the reader has voted"
        AFTER_CLOSE = "after_close", "Only once the poll has closed"

    results_shown = models.CharField(
        "readers see the results",
        max_length=12,
        choices=ResultsShown,
        default=ResultsShown.AFTER_VOTING,
        help_text="“Only once the poll has closed” shows no count anywhere until then: not on "
        "our pages, in the widget, in the JSON or in the page previews of other sites.",
    )
    max_answers = models.PositiveSmallIntegerField(
        "answers a reader may pick",
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_ANSWERS)],
        help_text="1: one answer (round buttons). More: up to that many (check boxes); each "
        "answer's percentage is then its share of the voters, so they add up to more than 100.",
    )
    shuffle_choices = models.BooleanField(
        "shuffle the answers",
        default=False,
        help_text="Each reader sees the answers in an order of their own, the same on every "
        "visit, which evens out the pull of the first answer. Answers marked “always last” "
        "stay at the end.",
    )
    percentages_only = models.BooleanField(
        "percentages only",
        default=False,
        help_text="Readers see each answer's share, never the number of votes. This keeps "
        "the counts out of sight, not secret: a reader who votes and watches the shares move "
        "can work them out. To keep them secret, show results only once the poll has closed.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PollQuerySet.as_manager()

    class Meta:
        ordering = ["-opens_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(closes_at__isnull=True) | Q(closes_at__gt=models.F("opens_at")),
                name="poll_closes_after_opens",
                violation_error_message="The poll must close after it opens.",
            )
        ]

    def __str__(self) -> str:
        return self.question

    def get_absolute_url(self) -> str:
        return poll_path("polls:detail", self.slug)

    def get_results_url(self) -> str:
        return poll_path("polls:results", self.slug)

    def state(self, now: datetime | None = None) -> str:
        """draft, scheduled, open or closed."""
        now = now or timezone.now()
        if self.status == self.Status.DRAFT:
            return "draft"
        if self.opens_at > now:
            return "scheduled"
        if self.closes_at is not None and self.closes_at <= now:
            return "closed"
        return "open"

    def is_visible(self, now: datetime | None = None) -> bool:
        return self.state(now) in ("open", "closed")

    def is_open(self, now: datetime | None = None) -> bool:
        return self.state(now) == "open"

    def is_closed(self, now: datetime | None = None) -> bool:
        return self.state(now) == "closed"

    @property
    def allows_several_answers(self) -> bool:
        return self.max_answers > 1

    def voter_total(self) -> int:
        """Readers who have voted: one ballot each, whatever they picked."""
        voters = getattr(self, "voters", None)  # loaded with the poll by visible_with_choices
        return self.ballots.count() if voters is None else voters

    @property
    def shows_results_before_voting(self) -> bool:
        return self.results_shown == self.ResultsShown.ALWAYS

    def results_withheld(self, now: datetime | None = None) -> bool:
        """True while "only once the poll has closed" holds back every count, from everyone."""
        return self.results_shown == self.ResultsShown.AFTER_CLOSE and not self.is_closed(now)

    @property
    def shows_counts(self) -> bool:
        return not self.percentages_only

    # The choices read with the poll (visible_with_choices, the poll cache), so that readers of
    # a kept poll send no query; None on a poll read without them. Read only once loaded: a kept
    # poll's choices are shared by its copies (with_counts) and the threads that read them.
    loaded_choices: list[Choice] | None = None
    # Counts votes returned since the choices were read (choice id -> votes), shown by results()
    # over the loaded choices' own. Replaced, never changed in place.
    counted_votes: dict[int, int] = {}

    def with_counts(self, counts: dict[int, int]) -> Poll:
        """This poll as a new object whose counts are raised to counts (choice id -> votes);
        readers holding this one see it unchanged. Counts only grow with votes: two threads'
        votes may arrive in either order."""
        poll = copy.copy(self)
        poll.counted_votes = self.counted_votes | {
            pk: max(votes, self.counted_votes.get(pk, 0)) for pk, votes in counts.items()
        }
        return poll

    def ordered_choices(self) -> list[Choice]:
        """The choices in the editor's order: those loaded with the poll, or else read now."""
        if self.loaded_choices is not None:
            return list(self.loaded_choices)  # a kept poll's list is shared between threads
        return list(self.choices.all())

    def form_choices(self) -> list[Choice]:
        """The choices in the order the vote form lists them: the editor's, with the "always
        last" ones at the end when the answers are shuffled. Each reader's shuffle is applied in
        their browser (static/js/vote.js, static/embed/widget.js), so the page stays shared."""
        choices = self.ordered_choices()
        if not self.shuffle_choices:
            return choices
        return [c for c in choices if not c.stays_last] + [c for c in choices if c.stays_last]

    @property
    def write_in_choice(self) -> Choice | None:
        """The "Other" choice whose readers may write their own answer, if the poll has one."""
        return next((choice for choice in self.ordered_choices() if choice.is_write_in), None)

    def ballot_problem(self, picked: list[Choice], write_in: str = "") -> BallotProblem | None:
        """What keeps these picks from being one ballot of this poll, for the reader: the one
        statement of these rules, which the vote form shows at its field and the vote service
        enforces for every caller."""
        if not picked or any(choice.poll_id != self.pk for choice in picked):
            return BallotProblem("choice", _("That choice does not belong to this poll."))
        if len(picked) > self.max_answers or len({choice.pk for choice in picked}) != len(picked):
            message = ngettext(
                "Please pick at most %(count)d answer.",
                "Please pick at most %(count)d answers.",
                self.max_answers,
            ) % {"count": self.max_answers}
            return BallotProblem("choice", message)
        if write_in and not any(choice.is_write_in for choice in picked):
            other = self.write_in_choice
            if other is None:
                return BallotProblem(None, _("This poll takes no written answers."))
            message = _("Your own answer counts only with “%(choice)s” picked.")
            return BallotProblem("write_in", message % {"choice": other.text})
        return None

    def results(self, just_counted: dict[int, int] | None = None) -> PollResults:
        """just_counted: counts a vote has just returned (choice id -> votes), which no
        reader of this poll may have seen yet: the answer to that vote shows them."""
        voters = self.voter_total() if self.allows_several_answers else None
        choices = self.ordered_choices()
        counted = self.counted_votes | just_counted if just_counted else self.counted_votes
        counts = [max(choice.votes, counted.get(choice.pk, 0)) for choice in choices]
        return PollResults.from_choices(choices, counts, voters=voters)

    @cached_property
    def refusals(self) -> Refusals:
        """The integrity line's figures (visible_with_choices reads them with the poll)."""
        return Refusals.of(self.refused_voters.all())

    def related_articles(self, limit: int = 5) -> list[Article]:
        """The articles that carry this poll, then the articles related to them."""
        hosts = list(self.articles.published().order_by("-published_on", "-id"))
        related = hosts[:limit]
        for host in hosts:
            if len(related) >= limit:
                break
            related += [a for a in host.related_articles(limit) if a not in related]
        # The sidebar lists each article's topics: one query for all of them, not one each.
        prefetch_related_objects(related[:limit], "topics")
        return related[:limit]


class Choice(CountersKeptByTheDatabase):
    counter_fields = ("votes",)

    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="choices")
    text = models.CharField(max_length=200)
    position = models.PositiveSmallIntegerField(
        default=0, help_text="Choices are shown in ascending order of position."
    )
    stays_last = models.BooleanField(
        "always last",
        default=False,
        help_text="Kept at the end when the answers are shuffled: “Other”, “None of these”.",
    )
    is_write_in = models.BooleanField(
        "write-in",
        default=False,
        help_text=f"“Other”: readers who pick it may type their own answer (up to "
        f"{WRITE_IN_MAX_LENGTH} characters). Nothing they write is shown publicly; you read, "
        "approve, reject or merge it into a new choice under the poll's write-ins. Always last.",
    )
    # Kept by the vote service with an atomic UPDATE ... SET votes = votes + 1; the ballots are
    # the audit trail the counts can be checked against.
    votes = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["poll", "text"], name="choice_text_unique_per_poll"),
            models.UniqueConstraint(
                fields=["poll"],
                condition=Q(is_write_in=True),
                name="one_write_in_choice_per_poll",
                violation_error_message="A poll has at most one write-in choice.",
            ),
            # "Other" stays after the answers it is the alternative to, shuffled or not.
            models.CheckConstraint(
                condition=Q(is_write_in=False) | Q(stays_last=True),
                name="write_in_choice_stays_last",
            ),
        ]

    def __str__(self) -> str:
        return self.text

    def clean(self) -> None:
        if self.is_write_in:
            self.stays_last = True


@dataclass(frozen=True)
class BallotProblem:
    field: str | None  # the vote form's field it belongs to; None for the whole form
    message: str


@dataclass(frozen=True)
class ChoiceResult:
    choice: Choice
    votes: int
    percent: int
    leading: bool = False  # the most votes, alone or tied; no choice leads before the first vote


@dataclass(frozen=True)
class PollResults:
    rows: list[ChoiceResult]
    total: int
    # Polls with several answers: readers who voted. Each percentage is then a share of them.
    voters: int | None = None

    @classmethod
    def from_choices(
        cls, choices: list[Choice], counts: list[int] | None = None, voters: int | None = None
    ) -> PollResults:
        counts = [choice.votes for choice in choices] if counts is None else counts
        percents = whole_percentages(counts) if voters is None else shares_of(counts, voters)
        top = max(counts, default=0)
        rows = [
            ChoiceResult(
                choice=choice, votes=votes, percent=percent, leading=bool(top) and votes == top
            )
            for choice, votes, percent in zip(choices, counts, percents, strict=True)
        ]
        return cls(rows=rows, total=sum(counts), voters=voters)

    @property
    def leading(self) -> set[int]:
        """Ids of the choices with the most votes (none before the first vote)."""
        return {row.choice.pk for row in self.rows if row.leading}


def shares_of(counts: list[int], voters: int) -> list[int]:
    """Each count as a whole-number percentage of the voters (rounded half up, at most 100):
    with several answers each, they add up to more than 100."""
    if voters <= 0:
        return [0 for _ in counts]
    return [min(100, (count * 200 + voters) // (voters * 2)) for count in counts]


def whole_percentages(counts: list[int]) -> list[int]:
    """Whole-number percentages that add up to exactly 100 (largest remainder method).

    Rounding each share on its own can show 33 + 33 + 33 = 99; readers notice.
    """
    total = sum(counts)
    if total == 0:
        return [0 for _ in counts]
    exact = [count * 100 / total for count in counts]
    floors = [int(share) for share in exact]
    shortfall = 100 - sum(floors)
    by_remainder = sorted(
        range(len(counts)), key=lambda i: (exact[i] - floors[i], counts[i]), reverse=True
    )
    for index in by_remainder[:shortfall]:
        floors[index] += 1
    return floors


class Ballot(models.Model):
    class Source(models.TextChoices):
        POLL_PAGE = "poll_page", "Poll page"
        ARTICLE = "article", "Article page"
        EMBED = "embed", "Embedded widget"
        # Voted from a host that sandboxes the widget (WordPress's oEmbed iframe): the browser
        # cannot say which site framed it, so the host origin is only what the widget read.
        EMBED_SANDBOXED = "embed_sandboxed", "Embedded widget, sandboxed host"
        # Voted on our poll page, opened from a link in a newsletter (the link only picks the
        # answer: the reader's Vote counts it).
        NEWSLETTER = "newsletter", "Newsletter"

    # No index of its own: one_ballot_per_voter and ballot_poll_cast_at both start with the
    # poll, and serve every lookup by poll; a third would only slow each vote down.
    poll = models.ForeignKey(Poll, on_delete=models.PROTECT, related_name="ballots", db_index=False)
    # The answer of a one-answer poll. A poll with several answers keeps them in picks
    # (BallotChoice), one row each, and leaves this empty.
    choice = models.ForeignKey(
        Choice, null=True, blank=True, on_delete=models.PROTECT, related_name="ballots"
    )
    # A keyed hash (HMAC) of the reader's opaque voter id: stable per reader, useless if leaked.
    voter_hash = models.CharField(max_length=64)
    cast_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=20, choices=Source, default=Source.POLL_PAGE)
    article = models.ForeignKey(
        "Article", null=True, blank=True, on_delete=models.SET_NULL, related_name="ballots"
    )
    # For votes cast in the embedded widget: the page that framed it, e.g.
    # "https://news.example" and "/2024/03/envoy-interview".
    host_origin = models.CharField(max_length=200, blank=True)
    host_path = models.CharField(max_length=500, blank=True)

    class FrameVisibility(models.TextChoices):
        VISIBLE = "visible", "Visible"
        CONFIRMED = "confirmed", "Confirmed after the widget was hidden or covered"
        UNKNOWN = "unknown", "The browser could not tell"

    # For embedded votes: whether the browser saw the widget's frame really visible when the
    # reader voted (IntersectionObserver v2), against clickjacking. See docs/embedding.md.
    # The database's default too: bulk loads written in SQL (bench/run.py) need not name it.
    frame_visibility = models.CharField(
        max_length=10, blank=True, default="", db_default="", choices=FrameVisibility
    )
    # The nonce of the single-use token the vote's form carried (see polls/voters.py).
    # NULL, not "", for ballots cast without a form: the unique constraint must ignore them.
    token_nonce = models.CharField(  # noqa: DJ001
        max_length=64, null=True, blank=True, editable=False
    )

    class WriteInStatus(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        # Moved to a choice of its own (WriteInMove says when, by whom and where to).
        MERGED = "merged", "Merged into a choice"

    # What a reader wrote with the poll's write-in ("Other") choice, cleaned of control and
    # direction characters (polls/forms.py). Never shown publicly; editors moderate it.
    # Database defaults, like frame_visibility's, for ballots written in SQL.
    write_in = models.CharField(
        max_length=WRITE_IN_MAX_LENGTH, blank=True, default="", db_default=""
    )
    write_in_status = models.CharField(
        max_length=10, blank=True, default="", db_default="", choices=WriteInStatus
    )

    class Meta:
        ordering = ["-cast_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["poll", "voter_hash"], name="one_ballot_per_voter"),
            models.UniqueConstraint(fields=["token_nonce"], name="vote_token_used_once"),
            models.CheckConstraint(
                condition=Q(write_in="", write_in_status="")
                | (~Q(write_in="") & ~Q(write_in_status="")),
                name="write_in_has_a_status",
            ),
        ]
        indexes = [
            models.Index(fields=["poll", "cast_at"], name="ballot_poll_cast_at"),
            # The moderation list; partial, so a vote without a write-in writes no entry.
            models.Index(
                fields=["poll", "write_in_status"],
                condition=~Q(write_in_status=""),
                name="ballot_write_ins",
            ),
        ]
        permissions = [("moderate_write_ins", "Can approve, reject and merge write-ins")]

    def __str__(self) -> str:
        return f"{self.answer_text} ({self.cast_at:%Y-%m-%d %H:%M})"

    @cached_property
    def picked(self) -> list[Choice]:
        """The choices this reader picked, in the poll's order."""
        if self.choice_id is not None:
            return [self.choice]
        picks = sorted(self.picks.all(), key=lambda pick: (pick.choice.position, pick.choice_id))
        return [pick.choice for pick in picks]

    @property
    def choice_ids(self) -> list[int]:
        return [choice.pk for choice in self.picked]

    @property
    def answer_text(self) -> str:
        return ", ".join(choice.text for choice in self.picked)


class BallotChoice(models.Model):
    """One answer of a ballot in a poll with several answers; the ballot stays the one per
    reader."""

    # No index of its own: one_pick_per_choice starts with the ballot.
    ballot = models.ForeignKey(
        Ballot, on_delete=models.CASCADE, related_name="picks", db_index=False
    )
    choice = models.ForeignKey(Choice, on_delete=models.PROTECT, related_name="picks")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ballot", "choice"], name="one_pick_per_choice")
        ]

    def __str__(self) -> str:
        return str(self.choice)


class WriteInMove(models.Model):
    """The audit trail of a merge: these write-in ballots' votes moved from one choice (the
    poll's "Other") to another, by this editor, at this time. Never changed or deleted."""

    poll = models.ForeignKey(Poll, on_delete=models.PROTECT, related_name="write_in_moves")
    from_choice = models.ForeignKey(Choice, on_delete=models.PROTECT, related_name="+")
    to_choice = models.ForeignKey(Choice, on_delete=models.PROTECT, related_name="+")
    ballots = models.ManyToManyField(Ballot, related_name="write_in_moves")
    # The username too: the move stays attributed should the account be deleted.
    moved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    moved_by_username = models.CharField(max_length=150)
    moved_at = models.DateTimeField(default=timezone.now)
    votes_moved = models.PositiveIntegerField()

    class Meta:
        ordering = ["-moved_at", "-id"]

    def __str__(self) -> str:
        return f"{self.votes_moved} from “{self.from_choice}” to “{self.to_choice}”"


class Topic(models.Model):
    name = models.CharField(max_length=80, unique=True)
    slug = models.SlugField(max_length=80, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ArticleQuerySet(models.QuerySet):
    def published(self) -> ArticleQuerySet:
        return self.filter(published_on__lte=timezone.localdate())


class Article(models.Model):
    title = models.CharField(max_length=250)
    slug = models.SlugField(max_length=250, unique=True)
    author = models.CharField(max_length=120)
    published_on = models.DateField()
    summary = models.TextField(help_text="One or two sentences, shown in lists and the sidebar.")
    body = models.TextField(blank=True, help_text="Paragraphs separated by a blank line.")
    topics = models.ManyToManyField(Topic, blank=True, related_name="articles")
    poll = models.ForeignKey(
        Poll,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="articles",
        help_text="The poll shown at the top of the article.",
    )
    pinned_related = models.ManyToManyField(
        "self",
        symmetrical=False,
        blank=True,
        related_name="pinned_by",
        help_text="Shown first in the related-articles sidebar, before articles on shared topics.",
    )

    objects = ArticleQuerySet.as_manager()

    class Meta:
        ordering = ["-published_on", "-id"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("polls:article", args=[self.slug])

    def paragraphs(self) -> list[str]:
        return [p.strip() for p in self.body.split("\n\n") if p.strip()]

    def related_articles(self, limit: int = 5) -> list[Article]:
        """Pinned articles first, then articles sharing a topic, newest first."""
        pinned = list(self.pinned_related.published().exclude(pk=self.pk).order_by("-published_on"))
        if len(pinned) >= limit:
            return pinned[:limit]
        sharing_topics = (
            Article.objects.published()
            .filter(topics__in=self.topics.all())
            .exclude(pk__in=[self.pk, *[a.pk for a in pinned]])
            .distinct()
            .order_by("-published_on", "-id")[: limit - len(pinned)]
        )
        related = pinned + list(sharing_topics)
        prefetch_related_objects(related, "topics")  # shown in the sidebar
        return related


class RefusedVoter(models.Model):
    """A reader refused a second vote on a poll, or a network (client address) refused a vote
    for sending too many: the figures of the integrity line under the results.

    Each is counted once per poll however often it tries, so one client cannot inflate the
    line, and the row lives off the poll's: a refusal changes no poll or choice row, so it
    never changes the widget's ETag nor makes the workers drop their kept poll.
    """

    class Reason(models.TextChoices):
        REPEAT = "repeat", "Second vote by a reader"
        OVER_LIMIT = "over_limit", "Over the rate limit"

    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="refused_voters")
    reason = models.CharField(max_length=10, choices=Reason)
    # The keyed hash of the reader's voter id (REPEAT) or of the client address (OVER_LIMIT).
    who_hash = models.CharField(max_length=64)
    first_refused_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["poll", "reason", "who_hash"], name="one_refusal_per_voter_and_reason"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()}: {self.who_hash[:12]}"

    @classmethod
    def record(cls, *, poll: Poll, reason: str, who_hash: str) -> None:
        # INSERT ... ON CONFLICT DO NOTHING: a second refusal of the same reader writes nothing.
        cls.objects.bulk_create(
            [cls(poll=poll, reason=reason, who_hash=who_hash)], ignore_conflicts=True
        )


@dataclass(frozen=True)
class Refusals:
    repeat_readers: int
    over_limit_networks: int

    @classmethod
    def of(cls, refused: models.QuerySet[RefusedVoter]) -> Refusals:
        counts = dict(
            refused.values_list("reason").annotate(n=models.Count("pk")).values_list("reason", "n")
        )
        return cls(
            counts.get(RefusedVoter.Reason.REPEAT, 0), counts.get(RefusedVoter.Reason.OVER_LIMIT, 0)
        )


class RecentVoteAttempts(models.Model):
    """When an address made its recent vote attempts, for the rate limit (a sliding log).

    An attempt is admitted while fewer than N were admitted in the W seconds before it, so "at
    most N in any W seconds" holds whenever they fall; a fixed window let 2N through across
    its boundary. Only the admitted attempts of the last W seconds are kept, and rows idle for
    longer are deleted (see polls/rate_limit.py). The address is stored only as a keyed hash.

    The log counts admitted attempts per second (admitted_at, rounded up to the whole second,
    with admitted_count): a row holds at most min(N, W) entries, however many votes one
    address (a newsroom behind one NAT) sends, and each attempt rewrites that much. Rounding
    up keeps an attempt in the window a fraction of a second longer, never shorter.
    """

    address_hash = models.CharField(max_length=64, unique=True)
    admitted_at = ArrayField(models.DateTimeField())
    admitted_count = ArrayField(models.IntegerField())
    last_attempt_at = models.DateTimeField(db_index=True)
    # Equal to last_attempt_at when the last attempt was admitted.
    last_admitted_at = models.DateTimeField(null=True)

    class Meta:
        verbose_name_plural = "recent vote attempts"

    def __str__(self) -> str:
        return f"{self.address_hash[:12]}: {sum(self.admitted_count)} admitted"


HEX_COLOUR = RegexValidator(r"^#[0-9a-fA-F]{6}$", "A colour as #rrggbb, such as #0b5cad.")
# Font names only: the stack is written into a stylesheet, so nothing that could end its
# declaration (; { } \ < >) gets in.
FONT_STACK = RegexValidator(
    r"^[A-Za-z0-9 ,\"'-]+$",
    "Font names separated by commas, with quotes around names that have spaces, such as "
    'Georgia, "Times New Roman", serif.',
)
HOST_ORIGIN = RegexValidator(
    r"^https?://[a-z0-9.-]+(:[0-9]{1,5})?$",
    "A site's origin: https://, its host name and no path, such as https://news.example.",
)


def colour_field(label: str, default: str) -> models.CharField:
    return models.CharField(label, max_length=7, default=default, validators=[HEX_COLOUR])


class Theme(models.Model):
    """The widget in a publisher's colours and type (see docs/embedding.md, "Themes").

    A theme is chosen per embed (?theme=slug), per site that embeds (by the host page's origin),
    or as the default (polls/themes.py); its colours are refused when they fail WCAG 2.2 AA
    (contrast_failures). The defaults are the widget's own look (static/embed/widget.css)."""

    class Scheme(models.TextChoices):
        AUTO = "auto", "The reader's setting (light or dark)"
        LIGHT = "light", "Light"
        DARK = "dark", "Dark"

    class BarStyle(models.TextChoices):
        ROUNDED = "rounded", "Rounded bars"
        SQUARE = "square", "Square bars"
        THIN = "thin", "Thin lines"

    # The widget's colour for the reader's own answer ("Your vote"): the same in every theme.
    MINE = {"light": "#b3261e", "dark": "#ff8a80"}

    name = models.CharField(max_length=80, unique=True)
    slug = models.SlugField(
        max_length=60,
        unique=True,
        help_text="What publishers write to pick this theme: ?theme=… on the iframe, "
        'data-theme="…" on the loader.',
    )
    is_default = models.BooleanField(
        "default theme",
        default=False,
        help_text="Used wherever neither the embed nor its site picks a theme.",
    )
    host_origins = ArrayField(
        models.CharField(max_length=200, validators=[HOST_ORIGIN]),
        blank=True,
        default=list,
        verbose_name="sites that use it",
        help_text="One origin a line, such as https://news.example: polls embedded on these "
        "sites take this theme unless the embed picks another.",
    )
    color_scheme = models.CharField(
        "colour scheme",
        max_length=5,
        choices=Scheme,
        default=Scheme.AUTO,
        help_text="Unless the embed asks for one (?scheme=light, dark or auto).",
    )
    text_light = colour_field("text (light)", "#1b1f23")
    background_light = colour_field("background (light)", "#ffffff")
    accent_light = colour_field("accent (light)", "#0b5cad")
    text_dark = colour_field("text (dark)", "#e6e8ea")
    background_dark = colour_field("background (dark)", "#16191d")
    accent_dark = colour_field("accent (dark)", "#5aa9f5")
    font_stack = models.CharField(
        max_length=200,
        default='system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
        validators=[FONT_STACK],
        help_text="Fonts the reader's device has, or that the host page already loads: the "
        "widget fetches no font.",
    )
    corner_radius = models.PositiveSmallIntegerField(
        "corner radius (px)", default=8, validators=[MaxValueValidator(24)]
    )
    bar_style = models.CharField(max_length=7, choices=BarStyle, default=BarStyle.ROUNDED)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True),
                name="one_default_theme",
                violation_error_message="Another theme is the default already: untick it there "
                "first.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def colours(self, scheme: str) -> dict[str, str]:
        """The widget's colour variables in one scheme ("light" or "dark"): those the editor
        picked, and those worked out from them."""
        text = getattr(self, f"text_{scheme}").lower()
        background = getattr(self, f"background_{scheme}").lower()
        accent = getattr(self, f"accent_{scheme}").lower()
        return {
            "bg": background,
            "fg": text,
            "muted": contrast.readable_mix(text, background, 0.75),
            "line": contrast.mix(text, background, 0.3),
            "accent": accent,
            "track": contrast.mix(text, background, 0.15),
            "mine": self.MINE[scheme],
            "focus": accent,
            "on-accent": background,  # the Vote button's label
            "notice": contrast.mix(accent, background, 0.1),  # color-mix() in widget.css
        }

    def contrast_failures(self) -> list[str]:
        """The pairs of colours the widget shows together that fail WCAG 2.2 AA, as
        "Text on background (dark): 2.9:1, needs 4.5:1"."""
        failures = []
        for scheme in ("light", "dark"):
            c = self.colours(scheme)
            pairs = [
                ("Text on background", c["fg"], c["bg"], contrast.TEXT_RATIO),
                # Links, the kicker, and the Vote button, whose label is the background colour.
                ("Accent on background", c["accent"], c["bg"], contrast.TEXT_RATIO),
                ("Text on a notice", c["fg"], c["notice"], contrast.TEXT_RATIO),
                ("“Your vote” marker on background", c["mine"], c["bg"], contrast.TEXT_RATIO),
                ("Result bar on its track", c["accent"], c["track"], contrast.GRAPHIC_RATIO),
                ("“Your vote” bar on its track", c["mine"], c["track"], contrast.GRAPHIC_RATIO),
            ]
            for label, first, second, needed in pairs:
                ratio = contrast.contrast_ratio(first, second)
                if ratio < needed:
                    failures.append(
                        f"{label} ({scheme}): {contrast.shown_ratio(ratio)}, needs {needed:g}:1"
                    )
        return failures

    def clean(self) -> None:
        super().clean()
        self.host_origins = sorted({origin.lower().rstrip("/") for origin in self.host_origins})
        taken = Theme.objects.exclude(pk=self.pk).filter(host_origins__overlap=self.host_origins)
        for other in taken if self.host_origins else []:
            both = ", ".join(sorted(set(other.host_origins) & set(self.host_origins)))
            raise ValidationError({"host_origins": f"{both} uses the theme “{other}” already."})
        colours = [
            getattr(self, f"{part}_{scheme}")
            for scheme in ("light", "dark")
            for part in ("text", "background", "accent")
        ]
        # A malformed colour has its own error on its field.
        well_formed = all(HEX_COLOUR.regex.fullmatch(colour or "") for colour in colours)
        if well_formed and (failures := self.contrast_failures()):
            raise ValidationError(["Too little contrast (WCAG 2.2 AA):", *failures])

    def stylesheet(self) -> str:
        """The theme as the widget's CSS custom properties (static/embed/widget.css reads
        them): both schemes, the one shown picked by the page's data-scheme, or else by the
        reader's setting."""

        def declarations(scheme: str) -> str:
            # "mine" is the same in every theme, and widget.css mixes "notice" from the
            # theme's accent and background itself: neither costs the stylesheet a byte.
            colours = self.colours(scheme)
            del colours["mine"], colours["notice"]
            return ";".join(f"--{name}:{value}" for name, value in colours.items())

        bar_height, compact_bar_height, bar_radius = {
            self.BarStyle.ROUNDED: (12, 8, 6),
            self.BarStyle.SQUARE: (12, 8, 0),
            self.BarStyle.THIN: (4, 4, 2),
        }[self.bar_style]
        shape = (
            f"--radius:{self.corner_radius}px;--bar-h:{bar_height}px;"
            f"--bar-hc:{compact_bar_height}px;--bar-r:{bar_radius}px;--font:{self.font_stack}"
        )
        dark = declarations("dark")
        return (
            f":root{{{declarations('light')};{shape}}}\n"
            f"@media (prefers-color-scheme:dark){{:root:not([data-scheme=light]){{{dark}}}}}\n"
            f":root[data-scheme=dark]{{{dark}}}\n"
        )

    @property
    def version(self) -> str:
        """Changes with anything the stylesheet says: the widget links the stylesheet with it,
        so that browsers and CDNs may keep a stylesheet for good."""
        return hashlib.sha256(self.stylesheet().encode()).hexdigest()[:12]


class SeenCount(models.Model):
    """How many times a poll was seen on one page in one hour (polls/engagement.py).

    Seen: half of the poll on screen for a second, in a visible tab, once per page view. A page
    is where the vote records it was cast: on our own site (embedded false) the path of the poll
    page or article; in the widget the host site and its page, "" for a page unknown. Nothing
    about the reader is stored. Each worker adds its beacons up in memory and writes a row at
    most once per flush.
    """

    poll = models.ForeignKey(
        Poll, on_delete=models.CASCADE, related_name="seen_counts", db_index=False
    )
    embedded = models.BooleanField()
    host_origin = models.CharField(max_length=200, blank=True)
    host_path = models.CharField(max_length=500, blank=True)
    hour = models.DateTimeField()
    seen = models.BigIntegerField()

    class Meta:
        constraints = [
            # The flush's INSERT … ON CONFLICT names these columns; its first column also serves
            # every lookup by poll.
            models.UniqueConstraint(
                fields=["poll", "embedded", "host_origin", "host_path", "hour"],
                name="one_seen_count_per_page_and_hour",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.host_origin}{self.host_path or ' (page unknown)'}: {self.seen}"
