"""Responses every reader gets alike (the widget, the results JSON): a CDN may hold them for a
few seconds, and they are answered with 304 while what they show is unchanged. They never read
or set cookies."""

import gzip
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_vary_headers
from django.utils.http import parse_etags
from django.utils.translation import get_language

from polls import poll_cache
from polls.models import Poll, PollResults


def results_etag(poll: Poll, results: PollResults, *, look: list | None = None) -> str:
    # Everything the widget and the JSON show, so that any change, even one made by a bulk
    # update that leaves updated_at alone, gives a new ETag and a new cached body. But the
    # integrity line's refusals: left out so that no refused vote can change the ETag; they
    # are brought up to date with the next vote or edit. The widget's look (polls/themes.py)
    # adds its theme's version and colour scheme, when it has one.
    fingerprint = [*poll_description(poll, results), shown_figures(poll, results)]
    return fingerprint_etag(fingerprint + (look or []))


def shown_figures(poll: Poll, results: PollResults) -> list:
    """The figures readers may see, and nothing else: an ETag, or a body cached under it, that
    changed with a vote would tell of a count the editor holds back."""
    if poll.results_withheld():
        return []
    if poll.shows_counts:
        return [row.votes for row in results.rows]
    return [(row.percent, row.leading) for row in results.rows]


def poll_description(poll: Poll, results: PollResults) -> list:
    description = [poll.pk, poll.updated_at.isoformat(), poll.state(), poll.question]
    description += [poll.results_shown, poll.percentages_only, str(poll.closes_at)]
    description += [get_language()]
    description += [(row.choice.pk, row.choice.text) for row in results.rows]
    return description


def fingerprint_etag(fingerprint: list) -> str:
    return '"' + hashlib.sha256(json.dumps(fingerprint).encode()).hexdigest()[:32] + '"'


def kept_etag(
    request: HttpRequest, poll: Poll, page: str, etag: Callable[[], str], *, look: tuple = ()
) -> str:
    """The ETag of a page every reader sees alike, computed once per state of the poll, and per
    address, site, language and look, and kept as that page is (poll_cache.rendering): a
    request for a kept page hashes nothing."""
    key = poll_cache.page_key(request, f"{page} etag", look=look)
    return poll_cache.polls.rendering(poll, key, etag)


def shared_response(request: HttpRequest, etag: str, build) -> HttpResponse:
    """A response a CDN may share between readers, answered with 304 when unchanged."""
    # From META: request.headers builds a mapping of every header to read one.
    if etag in parse_etags(request.META.get("HTTP_IF_NONE_MATCH", "")):
        response = HttpResponseNotModified()
    else:
        response = build()
    response["ETag"] = etag
    response["Cache-Control"] = poll_cache.SHARED_CACHE
    return response


@dataclass(frozen=True)
class SharedBody:
    """A body every reader gets alike, kept with its gzip encoding: compressed once when it is
    kept, not per response. It must hold nothing that is one reader's (a token, a cookie's
    value), or compression would let a page that reflects guesses read it (BREACH)."""

    plain: bytes
    gzipped: bytes

    @classmethod
    def of(cls, body: bytes) -> "SharedBody":
        return cls(body, gzip.compress(body, mtime=0))


# gzip named in Accept-Encoding (in any case, as HTTP's names are), but not refused with q=0.
ACCEPTS_GZIP = re.compile(r"\bgzip\b(?!\s*;\s*q\s*=\s*0(?:\.0{0,3})?\s*(?:,|$))", re.IGNORECASE)


def shared_body_response(request: HttpRequest, etag: str, body) -> HttpResponse:
    """shared_response for a SharedBody (body: a function that returns it), sent gzipped to
    the browsers that accept it. Each encoding has an ETag of its own, as HTTP asks."""
    gzipped = bool(ACCEPTS_GZIP.search(request.META.get("HTTP_ACCEPT_ENCODING", "")))
    if gzipped:
        etag = etag[:-1] + '-gzip"'

    def build() -> HttpResponse:
        kept = body()
        response = HttpResponse(kept.gzipped if gzipped else kept.plain)
        if gzipped:
            response["Content-Encoding"] = "gzip"
        return response

    response = shared_response(request, etag, build)
    patch_vary_headers(response, ["Accept-Encoding"])
    return response
