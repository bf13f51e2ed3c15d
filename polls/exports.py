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
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef, QuerySet, StringAgg, Subquery, TextField, Value
from django.db.models.functions import Coalesce
from django.http import StreamingHttpResponse
from django.utils import timezone

from polls.engagement import EngagementRow, poll_engagement, poll_engagement_pages
from polls.models import Ballot, BallotChoice, Poll

# Written for spreadsheet users: headers and cells in words, not codes; times as a spreadsheet
# reads a date and time (2026-12-06 08:54:41) in the newsroom's zone, which the header names.
# With several answers per reader, percent is the share of the poll's voters (one ballot each).
# Seen: readers who had the poll on screen (polls/engagement.py); the engagement rate is the
# poll's voters per reader who saw it, in percent, empty before anyone was counted seeing it.
RESULTS_HEADER = [
    "Poll",
    "Position",
    "Choice",
    "Votes",
    "Percent",
    "Voters",
    "Seen",
    "Engagement rate (%)",
]
ENGAGEMENT_HEADER = ["Site", "Page", "Seen", "Votes", "Engagement rate (%)"]
SPREADSHEET_TIME = "%Y-%m-%d %H:%M:%S"


# Spreadsheet programs run a cell that starts with one of these as a formula; texts come from
# editors and (host pages) from other sites, so they are defused with a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    if isinstance(value, str) and (
        value.startswith(FORMULA_STARTS) or first_seen(value) in FORMULA_STARTS
    ):
        return "'" + value
    return value


def first_seen(text: str) -> str:
    """The first character a spreadsheet looks at: spreadsheets skip spaces and invisible format
    characters (Unicode category Cf: zero-width spaces, U+2062, tag characters...) before the
    formula sign, so " =1+1" and "\u2062=1+1" run too. "" for none."""
    return next(
        (c for c in text if not c.isspace() and unicodedata.category(c) != "Cf"),
        "",
    )


def results_rows(polls: Iterable[Poll]) -> Iterator[list]:
    yield RESULTS_HEADER
    for poll in polls:
        results = poll.results()
        voters = results.total if results.voters is None else results.voters
        engagement = poll_engagement(poll).total
        for row in results.rows:
            yield [
                poll.question,
                row.choice.position,
                row.choice.text,
                row.votes,
                row.percent,
                voters,
                engagement.seen,
                rate_percent(engagement),
            ]


def rate_percent(row: EngagementRow) -> float | str:
    return "" if row.rate is None else round(row.rate * 100, 1)


def engagement_rows(poll: Poll) -> Iterator[list]:
    """Seen, votes and the engagement rate per site and per page (every page, not the top)."""
    yield ENGAGEMENT_HEADER
    for site, page in poll_engagement_pages(poll):
        yield [site, page.label, page.seen, page.votes, rate_percent(page)]


@dataclass(frozen=True)
class ChoiceColumn:
    """A choice of a poll with several answers: its column says 1 if a ballot picked it."""

    poll_id: int
    choice_id: int
    header: str


def choice_columns(polls: list[Poll]) -> list[ChoiceColumn]:
    several = [poll for poll in polls if poll.allows_several_answers]
    return [
        ChoiceColumn(
            poll.pk,
            choice.pk,
            choice.text if len(polls) == 1 else f"{poll.question}: {choice.text}",
        )
        for poll in several
        for choice in poll.choices.all()
    ]


def ballot_rows(polls: list[Poll], voter_key: bytes) -> Iterator[list]:
    zone = timezone.get_current_timezone()
    columns = choice_columns(polls)
    yield [
        "Poll",
        f"Cast at ({zone})",
        "Answer",
        *(column.header for column in columns),
        "Where",
        "Article",
        "Host site",
        "Host page",
        "Voter",
        "Widget visibility",
        "Write-in",
        "Write-in status",
    ]
    # The answers of a ballot in a poll with several: "Envoy; NGINX", in the poll's order.
    picks = BallotChoice.objects.filter(ballot=OuterRef("pk"))
    answers = (
        picks.values("ballot")
        .annotate(texts=StringAgg("choice__text", Value("; "), order_by="choice__position"))
        .values("texts")
    )
    ballots = (
        Ballot.objects.filter(poll__in=[poll.pk for poll in polls])
        .annotate(
            answers=Coalesce("choice__text", Subquery(answers), output_field=TextField()),
            picked=ArraySubquery(picks.values("choice_id")),
        )
        .order_by("poll__question", "poll_id", "cast_at", "id")
        .values_list(
            "poll_id",
            "poll__question",
            "cast_at",
            "answers",
            "picked",
            "source",
            "article__title",
            "host_origin",
            "host_path",
            "voter_hash",
            "frame_visibility",
            "write_in",
            "write_in_status",
        )
    )
    words = {
        "source": dict(Ballot.Source.choices),
        "frame_visibility": dict(Ballot.FrameVisibility.choices),
        "write_in_status": dict(Ballot.WriteInStatus.choices),
    }
    for row in ballots.iterator(chunk_size=2000):
        (poll_id, question, cast_at, answer, picked, source, article, origin, path, voter_hash,
         visibility, write_in, write_in_status) = row  # fmt: skip
        yield [
            question,
            timezone.localtime(cast_at, zone).strftime(SPREADSHEET_TIME),
            answer,
            *(
                (int(column.choice_id in picked) if column.poll_id == poll_id else "")
                for column in columns
            ),
            words["source"].get(source, source),
            article or "",
            origin,
            path,
            export_voter_id(voter_hash, voter_key),
            words["frame_visibility"].get(visibility, visibility),
            write_in,  # a reader's text: defused like every cell (spreadsheet_safe)
            words["write_in_status"].get(write_in_status, write_in_status),
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
    polls = list(polls.prefetch_related("choices").order_by("question", "id"))
    filename = export_filename(polls, "ballots")
    return csv_response(ballot_rows(polls, new_voter_key()), filename)


def engagement_csv_response(poll: Poll) -> StreamingHttpResponse:
    return csv_response(engagement_rows(poll), export_filename([poll], "engagement"))
