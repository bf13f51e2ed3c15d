"""The polls readers see, kept in each worker's memory and dropped the moment they change.

A front-page burst reads one poll thousands of times a minute through the widget, its 304 and
the results JSON, while its counts change only when a vote lands. PostgreSQL tells every worker
when that happens: triggers on polls and choices (migration 0007) send NOTIFY poll_changed with
the poll's id when the changing transaction commits, and a thread per worker LISTENs for it and
drops that poll. So a kept poll is never older than the last committed edit (plus the
notification's way through one socket), across workers and replicas alike, with no new service.

Votes are announced by the workers instead (migration 0020 takes the vote statement out of the
trigger): one NOTIFY per vote made every worker's listener handle every vote, and serialised
the votes' commits on PostgreSQL's notification queue. A worker applies the counts its own votes
return to the poll it keeps at once, and announces "<poll id> votes" at most every
ANNOUNCE_SECONDS, however many votes it took; the other workers read that poll again on its
next use, keeping its pages that show no count. Their counts are then at most ANNOUNCE_SECONDS
(plus a read) behind the database; a worker killed before it announced leaves them behind until
the next announcement of that poll, or MAX_AGE_SECONDS.

Until the listener is connected, and whenever it loses its connection, nothing is cached and
every read goes to the database, as it would without this module. Entries also expire after
MAX_AGE_SECONDS, and when the poll closes, since its state changes with the clock.

The cached Poll objects are shared by a worker's threads: callers only read them.

This is also the one store of rendered pages. A page every reader without a vote of their own
sees alike (the poll page, the article page, the results page, the widget, the JSON) is kept
with the poll it was rendered from, under one key scheme (page_key), and dropped with it; a page
that shows no count (a vote form without results) outlives a vote. Pages of the whole site (the
home page) are kept until anything changes. Without the listener nothing is kept.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from django.db import connection
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.translation import get_language

from polls.context_processors import site_origin
from polls.models import Poll

CHANNEL = "poll_changed"
APPLICATION_NAME = "pollsite poll cache"
MAX_AGE_SECONDS = 60
# What the kept pages tell a shared cache (a CDN): it may serve one copy for a few seconds.
SHARED_CACHE = "public, max-age=0, s-maxage=5, stale-while-revalidate=30"
# The home page lists the open polls: a poll that opens or closes on schedule shows there
# (or goes) within this many seconds, as it does in a shared cache (SHARED_CACHE's s-maxage).
SITE_PAGE_SECONDS = 5
# How long the listener waits for a notification before it checks that its connection lives.
KEEPALIVE_SECONDS = 5
# How often a worker tells the others that its readers voted: one notification per poll.
ANNOUNCE_SECONDS = 0.05
RECONNECT_SECONDS = 1

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    poll: Poll
    expires: float  # time.monotonic()
    # Pages rendered from this poll that every reader without a vote sees alike: key ->
    # (body, whether it shows counts).
    renderings: dict[tuple, tuple[bytes, bool]] = field(default_factory=dict)
    # Counts this worker's votes returned since the poll was read: choice id -> votes. Applied
    # by the next reader, so a burst of votes costs one update per read, not one per vote.
    new_counts: dict[int, int] = field(default_factory=dict)
    # Another worker announced votes: the poll is read again, keeping the countless pages.
    votes_elsewhere: bool = False

    def counted(self) -> Entry:
        """This entry with its new counts, in a new Poll (readers may hold the old one),
        keeping only the pages that show no count."""
        choices = [copy.copy(choice) for choice in self.poll.ordered_choices()]
        for choice in choices:
            # Two threads' votes may be applied in either order; counts only grow with votes
            # (an edit that lowers one drops the poll instead).
            choice.votes = max(choice.votes, self.new_counts.get(choice.pk, 0))
        poll = copy.copy(self.poll)
        poll.loaded_choices = choices
        for choice in choices:
            choice.poll = poll
        return Entry(
            poll, self.expires, self.countless_pages(), votes_elsewhere=self.votes_elsewhere
        )

    def countless_pages(self) -> dict[tuple, tuple[bytes, bool]]:
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
        # Polls this worker's votes changed since it last announced them.
        self._to_announce: set[int] = set()
        # Pages of the whole site, kept until any poll, article or count changes, or for
        # SITE_PAGE_SECONDS: polls open and close with the clock. key -> (body, expires)
        self._site_pages: dict[tuple, tuple[bytes, float]] = {}
        self._site_changes = 0
        # Which poll a published article carries (article slug -> poll slug), so that its kept
        # page is found without reading the article: dropped with any edit (an article's edit
        # is announced as a change of every poll).
        self._article_polls: dict[str, str] = {}
        self.listening = False

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
        """Read before what a page is rendered from is read outside this cache (an article):
        rendering(since=...) then keeps no page an edit meanwhile may have made stale."""
        return self._generation

    def rendering(
        self,
        poll: Poll,
        key: tuple,
        render: Callable[[], bytes],
        *,
        shows_counts: bool = True,
        since: int | None = None,
    ) -> bytes:
        """A page rendered from a poll this cache gave out, kept as long as the poll is, or,
        for a page that shows no count (shows_counts=False), until the poll is edited.

        A poll dropped while the page was being rendered keeps that page to itself, and the
        next reader renders anew: a page is never kept past a change it might have missed.
        """
        entry = self._entries.get(poll.slug)
        if not self.listening or entry is None or entry.poll is not poll:
            return render()
        if since is not None and since != self._generation:
            return render()
        page = entry.renderings.get(key)
        if page is None:
            page = entry.renderings[key] = (render(), shows_counts)
        return page[0]

    def article_poll(self, article_slug: str) -> str | None:
        """The slug of the poll a published article carries, when this cache knows it."""
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

    def forget(self, poll_id: int | None = None) -> None:
        """Drop one poll, or every poll when the id is unknown."""
        with self._lock:
            self._generation += 1
            self._site_changed()
            self._article_polls.clear()
            if poll_id is None:
                self._entries.clear()
                self._last_counts.clear()
            else:
                for slug in [s for s, e in self._entries.items() if e.poll.pk == poll_id]:
                    del self._entries[slug]
                for key in [key for key in self._last_counts if key[0] == poll_id]:
                    del self._last_counts[key]

    @property
    def announces_votes(self) -> bool:
        """Whether votes cast in this process are this cache's to announce (vote_counted):
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
            self._site_changed()
            if since != self._generation or poll.allows_several_answers:
                # Several answers: how many voted changed too, which no count says.
                self._drop_counts(poll.pk)
                return
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
            self._site_changed()
            self._votes_seen += 1
            self._votes_elsewhere[poll_id] = self._votes_seen
            self._drop_counts(poll_id)

    def _drop_counts(self, poll_id: int) -> None:
        """Mark the poll's entries for a new read; their pages without counts stay."""
        for slug, entry in list(self._entries.items()):
            if entry.poll.pk == poll_id:
                self._entries[slug] = Entry(
                    entry.poll, entry.expires, entry.countless_pages(), votes_elsewhere=True
                )

    def announce(self, conn: psycopg.Connection) -> None:
        """Tell the other workers which polls this one's votes changed: one notification per
        poll, however many votes it took."""
        with self._lock:
            poll_ids, self._to_announce = sorted(self._to_announce), set()
        if not poll_ids:
            return
        try:
            conn.execute(
                "SELECT pg_notify(%s, poll_id || ' votes') FROM unnest(%s::bigint[]) AS poll_id",
                [CHANNEL, poll_ids],
            )
        except Exception:
            with self._lock:  # sent once the listener is connected again
                self._to_announce.update(poll_ids)
            raise

    def _site_changed(self) -> None:
        self._site_changes += 1
        self._site_pages.clear()

    def _counted(self, slug: str) -> Entry | None:
        with self._lock:
            entry = self._entries.get(slug)
            if entry is not None and entry.new_counts:
                entry = self._entries[slug] = entry.counted()
            return entry

    def notified(self, payload: str) -> None:
        """Follow one notification: votes in another worker, one poll's edit, or (no id) an
        edit that may show on any poll's pages."""
        poll_id, _, what = payload.partition(" ")
        if what == "votes" and poll_id.isdigit():
            self.votes_announced(int(poll_id))
        else:
            self.forget(poll_id_from(payload))

    def listen(self, stop: threading.Event) -> None:
        """Follow the notifications until stop is set, and announce this worker's votes,
        reconnecting after a failure."""
        while not stop.is_set():
            try:
                with psycopg.Connection.connect(**listener_params(), autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    own_pid = conn.info.backend_pid
                    # Whatever changed while nobody listened.
                    self.forget()
                    self.listening = True
                    answered = time.monotonic()
                    while not stop.is_set():
                        for notice in conn.notifies(timeout=ANNOUNCE_SECONDS):
                            if notice.pid != own_pid:  # this worker's votes are in already
                                self.notified(notice.payload)
                        self.announce(conn)
                        if time.monotonic() - answered > KEEPALIVE_SECONDS:
                            conn.execute("SELECT 1")  # raises if the server went away quietly
                            answered = time.monotonic()
            except Exception as error:  # the thread must live on to reconnect
                if self.listening:
                    logger.warning("Poll cache off until PostgreSQL is back: %s", error)
            finally:
                self.listening = False
                self.forget()
            stop.wait(RECONNECT_SECONDS)


def page_key(request: HttpRequest, page: str) -> tuple:
    """The one key of a kept page: which page, at which address, for which site and language."""
    return (page, request.path, site_origin(request), get_language())


def seconds_to_keep(poll: Poll, now: datetime | None = None) -> float:
    now = now or timezone.now()
    if poll.closes_at and poll.closes_at > now:
        return min(MAX_AGE_SECONDS, (poll.closes_at - now).total_seconds())
    return MAX_AGE_SECONDS


def poll_id_from(payload: str) -> int | None:
    return int(payload) if payload.isdigit() else None


def listener_params() -> dict:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    # So that pg_stat_activity tells the listeners apart from the request connections.
    params["application_name"] = APPLICATION_NAME
    return params


polls = PollCache()


def start_listening() -> threading.Event:
    """Start this process's listener (gunicorn starts one per worker); set the event to stop."""
    stop = threading.Event()
    threading.Thread(target=polls.listen, args=(stop,), name="poll-cache", daemon=True).start()
    return stop


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
