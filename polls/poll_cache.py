"""The polls readers see, kept in each worker's memory and dropped the moment they change.

A front-page burst reads one poll thousands of times a minute through the widget, its 304 and
the results JSON, while its counts change only when a vote lands. PostgreSQL tells every worker
when that happens: triggers on polls and choices (migration 0007) send NOTIFY poll_changed with
the poll's id when the changing transaction commits, and a thread per worker LISTENs for it and
drops that poll. A vote's notification carries the choice's new count instead (migration 0009),
which the worker writes into the poll it keeps: a burst of votes does not send every worker
back to the database after each one. So a cached poll is never older than the last committed
change (plus the notification's way through one socket), across workers and replicas alike,
with no new service.

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
RECONNECT_SECONDS = 1

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    poll: Poll
    expires: float  # time.monotonic()
    # Pages rendered from this poll that every reader without a vote sees alike: key ->
    # (body, whether it shows counts).
    renderings: dict[tuple, tuple[bytes, bool]] = field(default_factory=dict)
    # Counts announced since the poll was read: choice id -> votes. Applied by the next reader,
    # not by the listener, so a burst of votes costs each worker one update per read, not one
    # per vote.
    new_counts: dict[int, int] = field(default_factory=dict)

    def counted(self) -> Entry:
        """This entry with its new counts, in a new Poll (readers may hold the old one),
        keeping only the pages that show no count."""
        choices = [copy.copy(choice) for choice in self.poll.choices.all()]
        for choice in choices:
            choice.votes = self.new_counts.get(choice.pk, choice.votes)
        poll = copy.copy(self.poll)
        poll.cache_choices(choices)
        for choice in choices:
            choice.poll = poll
        countless = {key: page for key, page in self.renderings.items() if not page[1]}
        return Entry(poll, self.expires, countless)


class PollCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, Entry] = {}
        # Bumped by every edit announced: a poll read from the database before an edit was
        # announced must not be stored after it.
        self._generation = 0
        # Votes are announced too often for that (a poll read while votes keep landing would
        # never be stored): the last count announced for each choice is kept, numbered, and a
        # poll read meanwhile is stored with the counts announced since its read began.
        self._counts_announced = 0
        self._last_counts: dict[tuple[int, int], tuple[int, int]] = {}  # -> (number, votes)
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
        if entry is not None and entry.expires > time.monotonic():
            return entry.poll
        generation, counts_announced = self._generation, self._counts_announced
        poll = load(slug)
        if poll is not None:
            with self._lock:
                if self.listening and generation == self._generation:
                    entry = Entry(poll, time.monotonic() + seconds_to_keep(poll))
                    for (poll_id, choice_id), (number, votes) in self._last_counts.items():
                        if poll_id == poll.pk and number > counts_announced:
                            entry.new_counts[choice_id] = votes
                    # Its voters changed too, and no notification says how many: read again.
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

    def count_changed(self, poll_id: int, choice_id: int, votes: int) -> None:
        """A vote's new count: kept polls take it without going back to the database.

        Notifications arrive in commit order, and a choice's count is updated under its row's
        lock, so the last count announced for a choice is its current one."""
        with self._lock:
            self._site_changed()
            self._counts_announced += 1
            self._last_counts[poll_id, choice_id] = (self._counts_announced, votes)
            for slug, entry in list(self._entries.items()):
                if entry.poll.pk != poll_id:
                    continue
                if entry.poll.allows_several_answers:
                    # Shares of voters: a vote changes how many voted, which the notification
                    # does not carry, so the poll is read again, voters and counts together.
                    del self._entries[slug]
                else:
                    entry.new_counts[choice_id] = votes

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
        """Follow one notification: a new count, one poll's id, or nothing (drop all)."""
        parts = payload.split()
        if len(parts) == 3 and all(part.isdigit() for part in parts):
            self.count_changed(*(int(part) for part in parts))
        else:
            self.forget(poll_id_from(payload))

    def listen(self, stop: threading.Event) -> None:
        """Follow the notifications until stop is set, reconnecting after a failure."""
        while not stop.is_set():
            try:
                with psycopg.Connection.connect(**listener_params(), autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    # Whatever changed while nobody listened.
                    self.forget()
                    self.listening = True
                    while not stop.is_set():
                        for notice in conn.notifies(timeout=KEEPALIVE_SECONDS):
                            self.notified(notice.payload)
                        conn.execute("SELECT 1")  # raises if the server went away quietly
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
