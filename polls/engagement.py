"""How many readers saw a poll, and how many of them voted: the engagement rate.

The widget and our own pages' poll box send a beacon once per page view, when at least half of
the poll has been on screen for a second in a visible tab (static/embed/widget.js,
static/js/vote.js). The beacon names the page as the vote records it, and nothing about the
reader: no cookie is read or set, and the address is only counted against a per-minute cap for
its network (rate_limit.client_network), in memory, never stored.

A front-page burst sends beacons at the rate of page views, not votes, so a beacon writes
nothing: each worker adds them up in memory (SeenTally) and its upkeep thread writes them
every SEEN_FLUSH_SECONDS (polls/upkeep.py) with one INSERT … ON CONFLICT DO UPDATE, one row
per poll, site, page and hour, and once more when the worker exits (gunicorn's worker_exit). A
worker killed outright (SIGKILL, out of memory) loses what it counted since its last flush.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import unquote_plus

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Count, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from polls import poll_cache
from polls.forms import host_origin_refusal, host_path_refusal
from polls.models import Article, Ballot, Poll, SeenCount
from polls.rate_limit import client_address, client_network

logger = logging.getLogger(__name__)

# A worker on its way out tries its last flush this often before its counts are lost.
EXIT_FLUSH_TRIES = 3
EXIT_FLUSH_PAUSE = 0.5

# A beacon is a few short fields; anything longer is not ours.
MAX_BEACON_BYTES = 1024
# Beacons whose reading is kept: one per page that shows the poll, about 1 MB at most.
BEACONS_KEPT = 1024
# Well-known crawlers and link previewers that run scripts or fetch pages like a browser (not
# "HeadlessChrome": readers' own tools and our tests run it).
CRAWLERS = re.compile(
    r"bot\b|crawler|spider|slurp|Lighthouse|facebookexternalhit|Google-InspectionTool"
    r"|Mediapartners-Google|AdsBot|bingpreview|Applebot|GPTBot|PerplexityBot",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class SeenPage:
    """Where a poll was seen, as its vote would record where it was cast."""

    embedded: bool
    host_origin: str = ""
    host_path: str = ""  # "" in the widget: a page unknown (only its site is known)


class SeenTally:
    """One worker's beacons since its last flush, and this minute's per network."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[int, bool, str, str, datetime]] = Counter()
        self._minute: datetime | None = None
        self._per_network: Counter[str] = Counter()
        self.flushes = 0

    def count(self, poll: Poll, page: SeenPage, network: str, at: datetime) -> bool:
        """Count one beacon, unless its network already sent SEEN_PER_MINUTE this minute."""
        minute = at.replace(second=0, microsecond=0)
        hour = minute.replace(minute=0).astimezone(UTC)
        with self._lock:
            if minute != self._minute:
                self._minute, self._per_network = minute, Counter()
            if self._per_network[network] >= settings.SEEN_PER_MINUTE:
                return False
            self._per_network[network] += 1
            self._counts[(poll.pk, page.embedded, page.host_origin, page.host_path, hour)] += 1
        return True

    def take(self) -> Counter:
        with self._lock:
            counts, self._counts = self._counts, Counter()
        return counts

    def give_back(self, counts: Counter) -> None:
        """Counts a flush could not write, kept for the next one."""
        with self._lock:
            self._counts.update(counts)

    def pending(self) -> bool:
        with self._lock:
            return bool(self._counts)

    def flush(self) -> int:
        """Write what was counted, one row per poll, site, page and hour; returns the rows."""
        counts = self.take()
        if not counts:
            return 0
        try:
            seen_counts_add(counts)
        except DatabaseError:
            # The database is away: count on, and write it all with a later flush.
            self.give_back(counts)
            logger.warning("seen counts not written (kept for the next flush)", exc_info=True)
            return 0
        self.flushes += 1
        return len(counts)


tally = SeenTally()

# Every row a flush has, in one statement: the rows are unique per key (a Counter's keys), so no
# row is written twice by it. The rows go in key order: two workers flushing at once then wait for
# each other's rows in the same order, where in any order they deadlock and one flush fails
# (PostgreSQL aborts it). Parameters: arrays of poll ids, embedded, origins, paths, hours,
# counts.
ADD_SEEN = (
    f"INSERT INTO {SeenCount._meta.db_table} AS counted"
    " (poll_id, embedded, host_origin, host_path, hour, seen)"
    " SELECT * FROM unnest(%s::bigint[], %s::boolean[], %s::varchar[], %s::varchar[],"
    " %s::timestamptz[], %s::bigint[]) AS new (poll_id, embedded, host_origin, host_path, hour,"
    " seen)"
    # A poll deleted since its beacons were counted: its counts go with it.
    f" WHERE new.poll_id IN (SELECT id FROM {Poll._meta.db_table})"
    " ON CONFLICT (poll_id, embedded, host_origin, host_path, hour)"
    " DO UPDATE SET seen = counted.seen + excluded.seen"
)


def seen_counts_add(counts: Counter) -> None:
    rows = sorted(counts.items())
    columns = list(zip(*(key for key, _ in rows), strict=True))
    with connection.cursor() as cursor:
        cursor.execute(ADD_SEEN, [*map(list, columns), [seen for _, seen in rows]])


def flush_at_exit() -> None:
    """The worker's last flush (gunicorn's worker_exit): what it counted since the last one.
    A failed flush keeps its counts, so it is tried again before they are lost with the worker."""
    try:
        for _ in range(EXIT_FLUSH_TRIES):
            tally.flush()
            if not tally.pending():
                break
            time.sleep(EXIT_FLUSH_PAUSE)
    finally:
        connection.close()


# --- the beacon ---------------------------------------------------------------------------


def is_prefetch_or_bot(request: HttpRequest) -> bool:
    """A prerendered or prefetched page (which nobody may ever see), or a crawler."""
    # From META: the beacon reads too few headers to pay for request.headers' mapping.
    purpose = request.META.get("HTTP_SEC_PURPOSE", "") or request.META.get("HTTP_PURPOSE", "")
    if "prefetch" in purpose.lower():
        return True
    return bool(CRAWLERS.search(request.META.get("HTTP_USER_AGENT", "")))


def refusal(status: int, message: str) -> HttpResponse:
    response = HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


BEACON_FIELDS = {"source", "host_origin", "host_path", "article"}
MAX_FIELDS = len(BEACON_FIELDS)
SLUG = re.compile(r"[-a-zA-Z0-9_]{1,250}")


def form_pairs(text: str) -> list[tuple[str, str]] | None:
    """A form body's name-value pairs, as parse_qsl(strict_parsing=True, keep_blank_values=True)
    reads them (tests/test_engagement.py checks that), or None past MAX_FIELDS fields or for a
    part without "=". By hand: parse_qsl's generality costs more than the rest of the view."""
    if not text:
        return []
    parts = text.split("&", MAX_FIELDS)
    if len(parts) > MAX_FIELDS:
        return None
    pairs = []
    for part in parts:
        name, equals, value = part.partition("=")
        if not equals:
            return None
        pairs.append((unquote_plus(name), unquote_plus(value)))
    return pairs


@dataclass(frozen=True)
class Beacon:
    """What a beacon says: which kind of page saw the poll, and which page."""

    source: str  # "embed", "poll_page" or "article"
    host_origin: str = ""
    host_path: str = ""
    article: str = ""


@lru_cache(maxsize=BEACONS_KEPT)
def beacon_parse(body: bytes) -> Beacon | str:
    """What a beacon's body says, or why it is no beacon of ours. Strict: a field it does not
    know, or one sent twice, is refused. Parsed by hand, not with a Django form (it runs for
    every page view, and a form's set-up costs more than the rest of the request), and once per
    distinct body: every reader of one page sends the same. What depends on the settings or
    the database (seen_page) is checked per beacon."""
    try:
        pairs = form_pairs(body.decode())
    except UnicodeDecodeError:
        return "Not a form-encoded beacon."
    if pairs is None:
        return "Not a form-encoded beacon."
    fields = dict(pairs)
    if len(fields) != len(pairs) or not fields.keys() <= BEACON_FIELDS:
        return "Unknown or repeated fields."
    source = fields.get("source")
    origin, path = fields.get("host_origin", ""), fields.get("host_path", "")
    article = fields.get("article", "")
    if source == "embed" and not article:
        return Beacon(source, origin, path)
    if origin or path:
        return "Only the widget's beacon names a host page."
    if source == "poll_page" and not article:
        return Beacon(source)
    if source == "article" and SLUG.fullmatch(article):
        return Beacon(source, article=article)
    return "Name the poll page, an article, or the widget's host page."


def seen_page(poll: Poll, beacon: Beacon) -> SeenPage | str:
    """The page where the beacon's reader saw the poll, or why it cannot have been there."""
    if beacon.source == "embed":
        origin, path = beacon.host_origin, beacon.host_path
        if refusal := host_origin_refusal(origin) or host_path_refusal(path):
            return refusal
        return SeenPage(True, origin, path)
    if beacon.source == "poll_page":
        return SeenPage(False, "", poll.get_absolute_url())
    if not Article.objects.published().filter(slug=beacon.article, poll=poll).exists():
        return "That article does not carry this poll."
    return SeenPage(False, "", reverse("polls:article", args=[beacon.article]))


@csrf_exempt  # changes nothing but a counter; no cookie is read
@require_POST
def seen(request: HttpRequest, slug: str) -> HttpResponse:
    """A poll was seen (see the module's docstring): 204, counted or not; 4xx for a beacon
    that is not ours. Nothing is ever answered but the status."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return refusal(400, "Bad Content-Length.")
    if length > MAX_BEACON_BYTES:
        return refusal(413, "Too long for a beacon.")
    if length and request.content_type != "application/x-www-form-urlencoded":
        return refusal(415, "Expected a form-encoded beacon.")
    try:
        poll = poll_cache.shared_poll_or_404(slug)
    except Http404:
        return refusal(404, "No such poll.")
    beacon = beacon_parse(request.body)
    page = beacon if isinstance(beacon, str) else seen_page(poll, beacon)
    if isinstance(page, str):
        return refusal(400, page)
    if not is_prefetch_or_bot(request):
        network = client_network(client_address(request))
        if not tally.count(poll, page, network, timezone.now()):
            return refusal(429, "Too many beacons from this network this minute.")
    response = HttpResponse(status=204)
    response["Cache-Control"] = "no-store"
    return response


# --- what editors read --------------------------------------------------------------------

OUR_SITE = "Our site"
PAGE_UNKNOWN = "page unknown"
TOP_PAGES = 20


@dataclass(frozen=True)
class EngagementRow:
    label: str
    seen: int
    votes: int

    @property
    def rate(self) -> float | None:
        """Votes per reader who saw the poll; None before anyone was counted seeing it."""
        return self.votes / self.seen if self.seen else None

    @property
    def rate_text(self) -> str:
        return "-" if self.rate is None else f"{self.rate:.1%}"


@dataclass(frozen=True)
class Engagement:
    total: EngagementRow
    by_site: list[EngagementRow]
    by_page: list[EngagementRow]  # the TOP_PAGES most seen (or voted)


def site_label(embedded: bool, host_origin: str) -> str:
    if not embedded:
        return OUR_SITE
    return host_origin or "(host site unknown)"


def page_label(embedded: bool, host_origin: str, host_path: str) -> str:
    if not embedded:
        return f"{OUR_SITE}: {host_path}"
    if not host_path:
        return f"{host_origin or '(host site unknown)'} ({PAGE_UNKNOWN})"
    return host_origin + host_path


def votes_by_page(poll: Poll) -> Counter[tuple[bool, str, str]]:
    """Ballots per page, keyed as SeenCount is: where each vote was cast."""
    votes: Counter[tuple[bool, str, str]] = Counter()
    groups = (
        Ballot.objects.filter(poll=poll)
        .values_list("source", "article__slug", "host_origin", "host_path")
        .annotate(n=Count("id"))
        .order_by()
    )
    for source, article_slug, host_origin, host_path, n in groups:
        if source in (Ballot.Source.EMBED, Ballot.Source.EMBED_SANDBOXED):
            votes[(True, host_origin, host_path)] += n
        elif source == Ballot.Source.ARTICLE and article_slug:
            votes[(False, "", reverse("polls:article", args=[article_slug]))] += n
        elif source == Ballot.Source.ARTICLE:
            votes[(False, "", "")] += n  # the article was deleted
        else:
            votes[(False, "", poll.get_absolute_url())] += n
    return votes


def poll_engagement_pages(poll: Poll) -> list[tuple[str, EngagementRow]]:
    """Every page the poll was seen or voted on, with its site, the most seen first."""
    seen = Counter(
        {
            (embedded, origin, path): n
            for embedded, origin, path, n in SeenCount.objects.filter(poll=poll)
            .values_list("embedded", "host_origin", "host_path")
            .annotate(n=Sum("seen"))
            .order_by()
        }
    )
    votes = votes_by_page(poll)
    pages = [
        (site_label(*key[:2]), EngagementRow(page_label(*key), seen[key], votes[key]))
        for key in seen.keys() | votes.keys()
    ]
    return sorted(pages, key=lambda page: (-page[1].seen, -page[1].votes, page[1].label))


def poll_engagement(poll: Poll) -> Engagement:
    pages = poll_engagement_pages(poll)
    sites: dict[str, tuple[int, int]] = {}
    for site, page in pages:
        seen, votes = sites.get(site, (0, 0))
        sites[site] = (seen + page.seen, votes + page.votes)
    by_site = sorted(
        (EngagementRow(label, seen, votes) for label, (seen, votes) in sites.items()),
        key=lambda row: (-row.seen, -row.votes, row.label),
    )
    total = EngagementRow(
        "All", sum(page.seen for _, page in pages), sum(page.votes for _, page in pages)
    )
    return Engagement(total=total, by_site=by_site, by_page=[page for _, page in pages[:TOP_PAGES]])


def seen_per_hour(poll: Poll, hours: list[datetime]) -> list[int]:
    """How many saw the poll in each of these hours (their starts, in UTC)."""
    counted = dict(
        SeenCount.objects.filter(poll=poll, hour__in=hours)
        .values_list("hour")
        .annotate(n=Sum("seen"))
        .order_by()
    )
    return [counted.get(hour, 0) for hour in hours]
