"""CSV exports of polls: the results per choice, and every ballot.

The ballots export streams: rows are read from PostgreSQL in chunks (QuerySet.iterator) and
written to the response as they come, so a poll with millions of ballots never sits in memory.

The voter column is not the stored voter hash but a keyed hash of it with a random key made
for each export: within one file the same reader has the same id (so analysts can count
distinct voters across the polls in it), but ids cannot be matched across two exports, nor
against the database.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Iterator
from datetime import UTC

from django.db.models import OuterRef, QuerySet, StringAgg, Subquery, TextField, Value
from django.db.models.functions import Coalesce
from django.http import StreamingHttpResponse
from django.utils import timezone

from polls.models import Ballot, BallotChoice, Poll

# With several answers per reader, percent is the share of the poll's voters (one ballot each).
RESULTS_HEADER = ["poll", "question", "position", "choice", "votes", "percent", "voters"]
BALLOTS_HEADER = [
    "poll",
    "cast_at_utc",
    "choice",
    "source",
    "article",
    "host_origin",
    "host_path",
    "voter",
    "frame_visibility",
    "write_in",
    "write_in_status",
]
# Spreadsheet programs run a cell that starts with one of these as a formula; texts come from
# editors and (host pages) from other sites, so they are defused with a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# Spreadsheets skip these before the formula sign: " =1+1" and "\u00a0=1+1" run too.
INVISIBLE_LEAD = "\u200b\u200c\u200d\u2060\ufeff"


def spreadsheet_safe(value: object) -> object:
    if isinstance(value, str):
        lead_stripped = value.lstrip().lstrip(INVISIBLE_LEAD).lstrip()
        if value.startswith(FORMULA_STARTS) or lead_stripped.startswith(FORMULA_STARTS):
            return "'" + value
    return value


def results_rows(polls: Iterable[Poll]) -> Iterator[list]:
    yield RESULTS_HEADER
    for poll in polls:
        results = poll.results()
        voters = results.total if results.voters is None else results.voters
        for row in results.rows:
            yield [
                poll.slug,
                poll.question,
                row.choice.position,
                row.choice.text,
                row.votes,
                row.percent,
                voters,
            ]


def ballot_rows(polls: QuerySet[Poll], voter_key: bytes) -> Iterator[list]:
    yield BALLOTS_HEADER
    # The answers of a ballot in a poll with several: "Envoy; NGINX", in the poll's order.
    picks = (
        BallotChoice.objects.filter(ballot=OuterRef("pk"))
        .values("ballot")
        .annotate(texts=StringAgg("choice__text", Value("; "), order_by="choice__position"))
        .values("texts")
    )
    ballots = (
        Ballot.objects.filter(poll__in=polls)
        .annotate(answers=Coalesce("choice__text", Subquery(picks), output_field=TextField()))
        .order_by("poll__slug", "cast_at", "id")
        .values_list(
            "poll__slug",
            "cast_at",
            "answers",
            "source",
            "article__slug",
            "host_origin",
            "host_path",
            "voter_hash",
            "frame_visibility",
            "write_in",
            "write_in_status",
        )
    )
    for row in ballots.iterator(chunk_size=2000):
        # The rest: frame_visibility, write_in and write_in_status, as stored.
        slug, cast_at, choice, source, article, origin, path, voter_hash, *rest = row
        yield [
            slug,
            cast_at.astimezone(UTC).isoformat(timespec="seconds"),
            choice,
            source,
            article or "",
            origin,
            path,
            export_voter_id(voter_hash, voter_key),
            *rest,  # a reader's write-in among them: defused like every cell (spreadsheet_safe)
        ]


def export_voter_id(voter_hash: str, voter_key: bytes) -> str:
    return hmac.new(voter_key, voter_hash.encode(), hashlib.sha256).hexdigest()[:20]


def new_voter_key() -> bytes:
    return secrets.token_bytes(32)


class _Line:
    """A file-like object that hands back what the csv writer writes to it."""

    def write(self, value: str) -> str:
        return value


def csv_response(rows: Iterable[list], filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Line())

    def lines() -> Iterator[str]:
        # A byte order mark, so that Excel reads the file as UTF-8 (accents, quotes, emoji).
        yield "\ufeff"
        for row in rows:
            yield writer.writerow([spreadsheet_safe(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def export_filename(polls: list[Poll] | QuerySet[Poll], kind: str) -> str:
    """e.g. poll-which-proxy-ballots-20250301.csv, or polls-3-ballots-20250301.csv."""
    stamp = timezone.localdate().strftime("%Y%m%d")
    polls = list(polls)
    subject = f"poll-{polls[0].slug}" if len(polls) == 1 else f"polls-{len(polls)}"
    return f"{subject}-{kind}-{stamp}.csv"


def results_csv_response(polls: QuerySet[Poll]) -> StreamingHttpResponse:
    polls = list(polls.prefetch_related("choices").order_by("slug"))
    return csv_response(results_rows(polls), export_filename(polls, "results"))


def ballots_csv_response(polls: QuerySet[Poll]) -> StreamingHttpResponse:
    filename = export_filename(polls.only("slug"), "ballots")
    return csv_response(ballot_rows(polls, new_voter_key()), filename)
