"""The polls readers see, and the pages rendered from them, kept in each worker's memory.

The rule: a kept page is served while the poll it was rendered from is still the poll kept
here; a page that shows no count (an open poll's form) also outlives a poll kept anew only
because its counts changed. Every reason a poll is kept anew or dropped is in this module:
an edit (PostgreSQL's notification), votes (this worker's own, whose counts are applied at
once, or another worker's announcement, after which the poll is read again), the clock
(MAX_AGE_SECONDS, a poll's closing time), and the listener's connection (polls/poll_listener.py):
without it nothing is kept, and every read goes to the database.

A front-page burst reads one poll thousands of times a minute through the widget, its 304 and
the results JSON, while its counts change only when a vote lands: this worker's votes cost no
read at all, another worker's one read per announcement (at most every 50 ms), and a kept poll
is never older than the last committed edit, across workers and replicas alike, with no new
service. Pages of the whole site (the home page) are kept until anything changes, or for
SITE_PAGE_SECONDS, as polls open and close with the clock.

The kept Poll objects are shared by a worker's threads: callers only read them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.translation import get_language

from polls.context_processors import site_origin
from polls.models import Poll

MAX_AGE_SECONDS = 60
# What the kept pages tell a shared cache (a CDN): it may serve one copy for a few seconds.
SHARED_CACHE = "public, max-age=0, s-maxage=5, stale-while-revalidate=30"
# The home page lists the open polls: a poll that opens or closes on schedule shows there
# (or goes) within this many seconds, as it does in a shared cache (SHARED_CACHE's s-maxage).
SITE_PAGE_SECONDS = 5
# The pages (page_key's first part) that show an open poll's form and no count, unless the
# editor shows the results before voting.
FORM_PAGES = ("poll", "article")


def page_shows_counts(poll: Poll, page: str) -> bool:
    """Whether a page shows the poll's counts, which a vote changes."""
    return page not in FORM_PAGES or not poll.is_open() or poll.shows_results_before_voting


@dataclass
class Entry:
    """A kept poll and the pages rendered from it. Changed only under the store's lock; a
    poll kept anew is a new Entry, so a reader holding the old one reads it unchanged."""

    poll: Poll
    expires: float  # time.monotonic()
    # Pages every reader without a vote sees alike: key -> (the page, its bytes or a
    # SharedBody; whether it shows counts).
    renderings: dict[tuple, tuple[object, bool]] = field(default_factory=dict)
    # Counts this worker's votes returned since the poll was read: choice id -> votes. Applied
    # by the next reader, so a burst of votes costs one update per read, not one per vote.
    new_counts: dict[int, int] = field(default_factory=dict)
    # Another worker announced votes: the poll is read again, keeping the countless pages.
    votes_elsewhere: bool = False

    def counted(self) -> Entry:
        """This entry with its new counts, in a new Poll (readers may hold the old one),
        keeping only the pages that show no count. (An edit that lowers a count drops the poll
        instead: counts applied here only grow.)"""
        poll = self.poll.with_counts(self.new_counts)
        return Entry(
            poll, self.expires, self.countless_pages(), votes_elsewhere=self.votes_elsewhere
        )

    def countless_pages(self) -> dict[tuple, tuple[object, bool]]:
        return {key: page for key, page in self.renderings.items() if not page[1]}


class PollCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, Entry] = {}
        # Bumped by every edit announced: a poll read from the database before an edit was
        # announced must not be stored after it.
        self._generation = 0
        # Votes come too often for that (a poll read while votes keep landing would never be
        # stored): each is numbered instead. The last count this worker's votes returned for each
        # choice is kept, so that a poll read meanwhile is stored with them; a poll another
        # worker announced votes for while it was read is not stored.
        self._votes_seen = 0
        self._last_counts: dict[tuple[int, int], tuple[int, int]] = {}  # -> (number, votes)
        self._votes_elsewhere: dict[int, int] = {}  # poll id -> number of the last announcement
        # Polls this worker's votes changed since the listener last announced them.
        self._to_announce: set[int] = set()
        # Pages of the whole site, key -> (body, expires).
        self._site_pages: dict[tuple, tuple[bytes, float]] = {}
        self._site_changes = 0
        # Which poll a published article carries (article slug -> poll slug), so that its kept
        # page is found without reading the article.
        self._article_polls: dict[str, str] = {}
        # The editors' themes (polls/themes.py), read once and kept until anything is edited
        # (a theme's edit is announced as a change of every poll).
        self._themes: object | None = None
        self.listening = False

    # What readers ask for.

    def visible_poll(self, slug: str, load: Callable[[str], Poll | None]) -> Poll | None:
        """The poll load(slug) gives, kept until it changes; a missing one (None, or an
        exception such as Http404) is never kept."""
        if not self.listening:
            return load(slug)
        entry = self._entries.get(slug)
        if entry is not None and entry.new_counts:
            entry = self._counted(slug)
        now = time.monotonic()
        if entry is not None and entry.expires > now and not entry.votes_elsewhere:
            return entry.poll
        generation, votes_seen = self._generation, self._votes_seen
        poll = load(slug)
        if poll is not None:
            with self._lock:
                if (
                    self.listening
                    and generation == self._generation
                    and self._votes_elsewhere.get(poll.pk, 0) <= votes_seen
                ):
                    entry = Entry(poll, time.monotonic() + seconds_to_keep(poll))
                    kept = self._entries.get(slug)
                    if kept is not None and kept.votes_elsewhere and kept.expires > now:
                        # Only the counts changed since those pages were rendered.
                        entry.renderings.update(kept.countless_pages())
                    for (poll_id, choice_id), (number, votes) in self._last_counts.items():
                        if poll_id == poll.pk and number > votes_seen:
                            entry.new_counts[choice_id] = votes
                    # Its voters changed too, and no count says how many: read again.
                    if not (entry.new_counts and poll.allows_several_answers):
                        self._entries[slug] = entry
        return poll

    @property
    def generation(self) -> int:
        """Read before what a page is rendered from is read outside this store (an article):
        rendering(since=...) then keeps no page an edit meanwhile may have made stale."""
        return self._generation

    def rendering[Page](
        self, poll: Poll, key: tuple, render: Callable[[], Page], *, since: int | None = None
    ) -> Page:
        """A page (its bytes, or a SharedBody) rendered from a poll this store gave out (key:
        page_key), kept as long as the poll is, or, for a page that shows no count, until the
        poll is edited.

        A poll dropped while the page was being rendered keeps that page to itself, and the
        next reader renders anew: a page is never kept past a change it might have missed.
        """
        entry = self._entries.get(poll.slug)
        if not self.listening or entry is None or entry.poll is not poll:
            return render()
        page = entry.renderings.get(key)
        if page is not None:
            return page[0]
        body = render()
        with self._lock:
            if since is None or since == self._generation:
                entry.renderings[key] = (body, page_shows_counts(poll, key[0]))
        return body

    def article_poll(self, article_slug: str) -> str | None:
        """The slug of the poll a published article carries, when this store knows it."""
        return self._article_polls.get(article_slug) if self.listening else None

    def article_poll_found(self, article_slug: str, poll_slug: str, since: int) -> None:
        """Keep which poll an article carries, read when the generation was since."""
        with self._lock:
            if self.listening and since == self._generation:
                self._article_polls[article_slug] = poll_slug

    def site_rendering(self, key: tuple, render: Callable[[], bytes]) -> bytes:
        """A page of the whole site (polls and articles together), kept until anything
        changes: rendered once per change and worker."""
        if not self.listening:
            return render()
        page = self._site_pages.get(key)
        if page is not None and page[1] > time.monotonic():
            return page[0]
        changes = self._site_changes
        body = render()
        with self._lock:
            if self.listening and changes == self._site_changes:
                self._site_pages[key] = (body, time.monotonic() + SITE_PAGE_SECONDS)
        return body

    def kept_themes(self, load: Callable[[], object]) -> object:
        """What load() reads of the themes, kept until an edit that may show on every poll's
        pages (a theme's, an article's) is announced."""
        if not self.listening:
            return load()
        themes = self._themes
        if themes is None:
            generation = self._generation
            themes = load()
            with self._lock:
                if self.listening and generation == self._generation:
                    self._themes = themes
        return themes

    # What changes: each says what it drops, through _drop.

    def forget(self, poll_id: int | None = None) -> None:
        """An edit of one poll, or of anything that may show on any poll's pages (no id)."""
        with self._lock:
            self._drop(poll_id)

    @property
    def announces_votes(self) -> bool:
        """Whether votes cast in this process are this store's to announce (vote_counted):
        only while its listener is connected, which sends the announcements."""
        return self.listening

    def vote_counted(self, poll: Poll, counts: dict[int, int], *, since: int) -> None:
        """A vote cast in this process committed: its choices' new counts (as the vote's
        statement returned them) go into the poll kept here at once, and the vote is announced
        to the other workers with the next announcement.

        since: the generation read before the vote's statement ran. An edit announced since then
        may have committed after the vote, when its counts are no longer current: the poll is
        read again instead."""
        with self._lock:
            self._to_announce.add(poll.pk)
            if since != self._generation or poll.allows_several_answers:
                # Several answers: how many voted changed too, which no count says.
                self._drop(poll.pk, counts_only=True)
                return
            self._site_changed()
            for choice_id, votes in counts.items():
                self._votes_seen += 1
                last = self._last_counts.get((poll.pk, choice_id), (0, 0))[1]
                self._last_counts[poll.pk, choice_id] = (self._votes_seen, max(votes, last))
                for entry in self._entries.values():
                    if entry.poll.pk == poll.pk:
                        entry.new_counts[choice_id] = max(votes, entry.new_counts.get(choice_id, 0))

    def votes_announced(self, poll_id: int) -> None:
        """Another worker announced votes for this poll: it is read again on its next use."""
        with self._lock:
            self._votes_seen += 1
            self._votes_elsewhere[poll_id] = self._votes_seen
            self._drop(poll_id, counts_only=True)

    def connected(self) -> None:
        """The listener is connected: whatever changed while nobody listened is forgotten."""
        self.forget()
        self.listening = True

    def disconnected(self) -> None:
        self.listening = False
        self.forget()

    def announcements_take(self) -> list[int]:
        """The polls this worker's votes changed since the last call, for the listener."""
        with self._lock:
            poll_ids, self._to_announce = sorted(self._to_announce), set()
        return poll_ids

    def announcements_return(self, poll_ids: list[int]) -> None:
        with self._lock:
            self._to_announce.update(poll_ids)

    def _drop(self, poll_id: int | None, *, counts_only: bool = False) -> None:
        """The one place kept polls and pages go (under the lock): every page of the whole
        site; for an edit, the poll (or every poll) with its pages; for counts alone, the
        poll is marked to be read again and its pages that show no count stay."""
        self._site_changed()
        if counts_only:
            for slug, entry in list(self._entries.items()):
                if entry.poll.pk == poll_id:
                    self._entries[slug] = Entry(
                        entry.poll, entry.expires, entry.countless_pages(), votes_elsewhere=True
                    )
            return
        self._generation += 1
        # An article's edit is announced as a change of every poll (no id).
        self._article_polls.clear()
        if poll_id is None:
            self._themes = None  # a theme's edit is announced with no poll id
            self._entries.clear()
            self._last_counts.clear()
            return
        for slug in [slug for slug, entry in self._entries.items() if entry.poll.pk == poll_id]:
            del self._entries[slug]
        for key in [key for key in self._last_counts if key[0] == poll_id]:
            del self._last_counts[key]

    def _site_changed(self) -> None:
        self._site_changes += 1
        self._site_pages.clear()

    def _counted(self, slug: str) -> Entry | None:
        with self._lock:
            entry = self._entries.get(slug)
            if entry is not None and entry.new_counts:
                entry = self._entries[slug] = entry.counted()
            return entry


def page_key(request: HttpRequest, page: str, *, look: tuple = ()) -> tuple:
    """The one key of a kept page: which page, at which address, for which site and language,
    and in which theme and colour scheme (the widget's look, polls/themes.py)."""
    return (page, request.path, site_origin(request), get_language(), look)


def seconds_to_keep(poll: Poll, now: datetime | None = None) -> float:
    now = now or timezone.now()
    if poll.closes_at and poll.closes_at > now:
        return min(MAX_AGE_SECONDS, (poll.closes_at - now).total_seconds())
    return MAX_AGE_SECONDS


polls = PollCache()


def visible_poll_or_404(slug: str) -> Poll:
    """The poll readers may see, fresh from the database, with its choices (one query)."""
    poll = Poll.objects.visible_with_choices(slug)
    if poll is None:
        raise Http404("No poll matches the given query.")
    return poll


def shared_poll_or_404(slug: str) -> Poll:
    """visible_poll_or_404 for what every reader sees alike (the widget, the results JSON):
    the poll may come from this worker's memory, current to the last committed change, and
    is shared between threads, so it is only read."""
    return polls.visible_poll(slug, visible_poll_or_404)
