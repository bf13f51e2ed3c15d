"""CSV exports: results per choice and every ballot, checked row by row against the database."""

import csv
import io

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse

from polls.models import Ballot, Poll
from tests.conftest import make_article, make_poll
from tests.test_editor_helpers import editor_client, vote

pytestmark = pytest.mark.django_db


def rows(response) -> list[list[str]]:
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


def export(url_name: str, poll: Poll):
    return editor_client().get(reverse(url_name, args=[poll.pk]))


def action(name: str, *polls: Poll):
    return editor_client().post(
        reverse("admin:polls_poll_changelist"),
        {"action": name, "_selected_action": [str(p.pk) for p in polls]},
    )


@pytest.fixture
def voted_poll() -> Poll:
    poll = make_poll("Which proxy?", choices=("Envoy", "NGINX", "HAProxy"), slug="which-proxy")
    article = make_article("Edge proxies", poll=poll)
    vote(poll, "Envoy", "reader-a")
    vote(poll, "NGINX", "reader-b", source=Ballot.Source.ARTICLE, article=article)
    embedded = vote(poll, "Envoy", "reader-c", source=Ballot.Source.EMBED)
    Ballot.objects.filter(pk=embedded.pk).update(
        host_origin="https://news.example", host_path="/2024/edge"
    )
    return poll


def test_the_results_csv_has_one_row_per_choice(voted_poll):
    response = export("admin:polls_poll_results_csv", voted_poll)
    assert 'filename="poll-which-proxy-results-' in response["Content-Disposition"]
    assert rows(response) == [
        ["poll", "question", "position", "choice", "votes", "percent", "voters"],
        ["which-proxy", "Which proxy?", "1", "Envoy", "2", "67", "3"],
        ["which-proxy", "Which proxy?", "2", "NGINX", "1", "33", "3"],
        ["which-proxy", "Which proxy?", "3", "HAProxy", "0", "0", "3"],
    ]


def test_the_ballots_csv_matches_the_ballots_row_by_row(voted_poll):
    table = rows(export("admin:polls_poll_ballots_csv", voted_poll))
    assert table[0] == [
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
    ballots = list(Ballot.objects.filter(poll=voted_poll).order_by("cast_at", "id"))
    assert len(table) == 1 + len(ballots) == 4
    for row, ballot in zip(table[1:], ballots, strict=True):
        assert row[:7] == [
            "which-proxy",
            ballot.cast_at.astimezone(tz=None)
            .astimezone(ballot.cast_at.tzinfo)
            .isoformat(timespec="seconds"),
            ballot.choice.text,
            ballot.source,
            ballot.article.slug if ballot.article else "",
            ballot.host_origin,
            ballot.host_path,
        ]


def test_the_voter_column_is_a_fresh_hash_never_the_stored_one(voted_poll):
    vote(make_poll("Other?", choices=("Yes", "No"), slug="other"), "Yes", "reader-a")
    first = rows(action("export_ballots_csv", voted_poll, Poll.objects.get(slug="other")))
    stored = set(Ballot.objects.values_list("voter_hash", flat=True))
    voters = [row[7] for row in first[1:]]
    assert not stored & set(voters)
    assert all(len(v) == 20 for v in voters)
    # reader-a voted in both polls: one id within the file; other readers: other ids.
    by_poll_and_choice = {(row[0], row[2]): row[7] for row in first[1:]}
    assert by_poll_and_choice[("other", "Yes")] in voters[:3]
    assert len(set(voters)) == 3
    second = rows(action("export_ballots_csv", voted_poll))
    assert not {row[7] for row in second[1:]} & set(voters)


def test_the_export_actions_cover_the_selected_polls_only(voted_poll):
    other = make_poll("Other?", choices=("Yes", "No"), slug="other")
    vote(other, "No", "reader-z")
    make_poll("Not selected?", slug="not-selected")
    table = rows(action("export_results_csv", voted_poll, other))
    assert {row[0] for row in table[1:]} == {"which-proxy", "other"}
    assert len(table) == 1 + 3 + 2
    table = rows(action("export_ballots_csv", other))
    assert [row[2] for row in table[1:]] == ["No"]


def test_cells_that_a_spreadsheet_would_run_as_formulas_are_defused():
    poll = make_poll("=cmd|' /C calc'!A0", choices=("+1", "@SUM(A1)"), slug="formula")
    vote(poll, "+1", "reader")
    Ballot.objects.update(host_path='=HYPERLINK("http://evil.example")')
    results = rows(export("admin:polls_poll_results_csv", poll))
    assert results[1][1] == "'=cmd|' /C calc'!A0"
    assert [row[3] for row in results[1:]] == ["'+1", "'@SUM(A1)"]
    ballots = rows(export("admin:polls_poll_ballots_csv", poll))
    assert ballots[1][6] == '\'=HYPERLINK("http://evil.example")'


@pytest.mark.parametrize(
    "lead", ["  ", "\u00a0", "\t ", "\u2003", "\u200b", " \ufeff\u00a0"], ids=repr
)
@pytest.mark.parametrize("sign", ["=", "+", "-", "@"])
def test_formulas_behind_spaces_or_invisible_characters_are_defused_too(lead, sign):
    poll = make_poll(f"{lead}{sign}1+1", choices=(f"{lead}{sign}A1", "Plain"), slug="lead")
    results = rows(export("admin:polls_poll_results_csv", poll))
    assert results[1][1] == f"'{lead}{sign}1+1"
    assert [row[3] for row in results[1:]] == [f"'{lead}{sign}A1", "Plain"]


def test_an_unknown_poll_is_a_404():
    response = editor_client().get(reverse("admin:polls_poll_ballots_csv", args=[999999]))
    assert response.status_code == 404


def test_the_exports_are_also_actions_on_the_polls_page(voted_poll):
    response = editor_client().post(
        reverse("admin:polls_poll_change", args=[voted_poll.pk]),
        {"CHANGE_FORM-action": "export_ballots_csv", "_selected_action": [str(voted_poll.pk)]},
    )
    assert [row[2] for row in rows(response)[1:]] == ["Envoy", "NGINX", "Envoy"]


def test_votes_from_sandboxed_hosts_keep_their_own_source_in_the_csv():
    poll = make_poll("Sandboxed?", choices=("Yes", "No"), slug="sandboxed")
    vote(poll, "Yes", "reader-a", source=Ballot.Source.EMBED)
    vote(poll, "No", "reader-b", source=Ballot.Source.EMBED_SANDBOXED)
    table = rows(export("admin:polls_poll_ballots_csv", poll))
    assert sorted(row[2:4] for row in table[1:]) == [["No", "embed_sandboxed"], ["Yes", "embed"]]
