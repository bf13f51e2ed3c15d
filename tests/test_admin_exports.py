"""CSV exports: results per choice and every ballot, checked row by row against the database."""

import re
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from polls.models import Ballot, Poll
from tests.helpers import (
    csv_rows,
    editor_client,
    export,
    make_article,
    make_poll,
    vote,
    write_in_poll,
)

pytestmark = pytest.mark.django_db


def action(name: str, *polls: Poll):
    return editor_client().post(
        reverse("admin:polls_poll_changelist"),
        {"action": name, "_selected_action": [str(p.pk) for p in polls]},
    )


@pytest.fixture
def voted_poll() -> Poll:
    poll = make_poll("Which proxy?", choices=("Envoy", "NGINX", "HAProxy"), slug="which-proxy")
    article = make_article("Edge proxies", poll=poll)
    vote(poll, "Envoy", voter="reader-a")
    vote(poll, "NGINX", voter="reader-b", source=Ballot.Source.ARTICLE, article=article)
    embedded = vote(poll, "Envoy", voter="reader-c", source=Ballot.Source.EMBED)
    Ballot.objects.filter(pk=embedded.pk).update(
        host_origin="https://news.example", host_path="/2024/edge"
    )
    return poll


def test_the_results_csv_has_one_row_per_choice(voted_poll):
    response = export("admin:polls_poll_results_csv", voted_poll)
    assert 'filename="poll-which-proxy-results-' in response["Content-Disposition"]
    assert csv_rows(response) == [
        [
            "Poll",
            "Position",
            "Choice",
            "Votes",
            "Percent",
            "Voters",
            "Seen",
            "Engagement rate (%)",
        ],
        # Nobody counted seeing it (no beacons): no rate.
        ["Which proxy?", "1", "Envoy", "2", "67", "3", "0", ""],
        ["Which proxy?", "2", "NGINX", "1", "33", "3", "0", ""],
        ["Which proxy?", "3", "HAProxy", "0", "0", "3", "0", ""],
    ]


def test_the_ballots_csv_matches_the_ballots_row_by_row(voted_poll, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    table = csv_rows(export("admin:polls_poll_ballots_csv", voted_poll))
    assert table[0] == [
        "Poll",
        "Cast at (Europe/Berlin)",
        "Answer",
        "Where",
        "Article",
        "Host site",
        "Host page",
        "Voter",
        "Widget visibility",
        "Write-in",
        "Write-in status",
    ]
    ballots = list(Ballot.objects.filter(poll=voted_poll).order_by("cast_at", "id"))
    assert len(table) == 1 + len(ballots) == 4
    for row, ballot in zip(table[1:], ballots, strict=True):
        assert row[:7] == [
            "Which proxy?",
            ballot.cast_at.astimezone(ZoneInfo("Europe/Berlin")).strftime("%Y-%m-%d %H:%M:%S"),
            ballot.choice.text,
            ballot.get_source_display(),
            ballot.article.title if ballot.article else "",
            ballot.host_origin,
            ballot.host_path,
        ]
    assert [row[3] for row in table[1:]] == ["Poll page", "Article page", "Embedded widget"]
    assert table[2][4] == "Edge proxies"


def test_a_spreadsheet_reads_the_times_as_dates_and_the_codes_as_words():
    poll = write_in_poll(max_answers=2)
    ballot = vote(poll, "Envoy", "Other", voter="a", write_in="Linkerd")
    Ballot.objects.filter(pk=ballot.pk).update(frame_visibility="confirmed")
    table = csv_rows(export("admin:polls_poll_ballots_csv", poll))
    header, row = table
    cast = dict(zip(header, row, strict=True))["Cast at (UTC)"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", cast)
    assert {name: value for name, value in zip(header, row, strict=True)} | {
        "Cast at (UTC)": "",
        "Voter": "",
    } == {
        "Poll": poll.question,
        "Cast at (UTC)": "",
        "Answer": "Envoy; Other",
        "Envoy": "1",
        "NGINX": "0",
        "Other": "1",
        "Where": "Poll page",
        "Article": "",
        "Host site": "",
        "Host page": "",
        "Voter": "",
        "Widget visibility": "Confirmed after the widget was hidden or covered",
        "Write-in": "Linkerd",
        "Write-in status": "Pending",
    }


def test_several_polls_with_several_answers_each_get_their_choice_columns():
    first = write_in_poll(max_answers=2)
    second = make_poll("Which mesh?", choices=("Istio", "Linkerd"), slug="mesh")
    second.max_answers = 2
    second.save()
    vote(first, "NGINX", "Other", voter="a", write_in="Linkerd")
    vote(second, "Istio", "Linkerd", voter="b")
    table = csv_rows(action("export_ballots_csv", first, second))
    header = table[0]
    # Polls in the order of their questions: "Which mesh?" first.
    assert header[3:10] == [
        "Which mesh?: Istio",
        "Which mesh?: Linkerd",
        f"{first.question}: Envoy",
        f"{first.question}: NGINX",
        f"{first.question}: Other",
        "Where",
        "Article",
    ]
    by_poll = {row[0]: row[3:8] for row in table[1:]}
    assert by_poll == {
        "Which mesh?": ["1", "1", "", "", ""],
        first.question: ["", "", "0", "1", "1"],
    }


def test_the_voter_column_is_a_fresh_hash_never_the_stored_one(voted_poll):
    vote(make_poll("Other?", choices=("Yes", "No"), slug="other"), "Yes", voter="reader-a")
    first = csv_rows(action("export_ballots_csv", voted_poll, Poll.objects.get(slug="other")))
    stored = set(Ballot.objects.values_list("voter_hash", flat=True))
    voters = [row[7] for row in first[1:]]
    assert not stored & set(voters)
    assert all(len(v) == 20 for v in voters)
    # reader-a voted in both polls: one id within the file; other readers: other ids.
    by_poll_and_choice = {(row[0], row[2]): row[7] for row in first[1:]}
    assert by_poll_and_choice[("Other?", "Yes")] in voters[1:]
    assert len(set(voters)) == 3
    second = csv_rows(action("export_ballots_csv", voted_poll))
    assert not {row[7] for row in second[1:]} & set(voters)


def test_the_export_actions_cover_the_selected_polls_only(voted_poll):
    other = make_poll("Other?", choices=("Yes", "No"), slug="other")
    vote(other, "No", voter="reader-z")
    make_poll("Not selected?", slug="not-selected")
    table = csv_rows(action("export_results_csv", voted_poll, other))
    assert {row[0] for row in table[1:]} == {"Which proxy?", "Other?"}
    assert len(table) == 1 + 3 + 2
    table = csv_rows(action("export_ballots_csv", other))
    assert [row[2] for row in table[1:]] == ["No"]


def test_cells_that_a_spreadsheet_would_run_as_formulas_are_defused():
    poll = make_poll("=cmd|' /C calc'!A0", choices=("+1", "@SUM(A1)"), slug="formula")
    vote(poll, "+1", voter="reader")
    Ballot.objects.update(host_path='=HYPERLINK("http://evil.example")')
    results = csv_rows(export("admin:polls_poll_results_csv", poll))
    assert results[1][0] == "'=cmd|' /C calc'!A0"
    assert [row[2] for row in results[1:]] == ["'+1", "'@SUM(A1)"]
    ballots = csv_rows(export("admin:polls_poll_ballots_csv", poll))
    assert ballots[1][6] == '\'=HYPERLINK("http://evil.example")'


@pytest.mark.parametrize(
    "lead",
    [
        "  ",
        "\u00a0",
        "\t ",
        "\u2003",
        "\u200b",
        " \ufeff\u00a0",
        # Every invisible format character (Unicode Cf) is skipped too, not a list of some.
        "\u2062",
        " \u2062 ",
        "\U000e0041\U000e007f",
        "\u00ad",
        "\u180e",
        "\u2064\u206f",
    ],
    ids=repr,
)
@pytest.mark.parametrize("sign", ["=", "+", "-", "@"])
def test_formulas_behind_spaces_or_invisible_characters_are_defused_too(lead, sign):
    poll = make_poll(f"{lead}{sign}1+1", choices=(f"{lead}{sign}A1", "Plain"), slug="lead")
    results = csv_rows(export("admin:polls_poll_results_csv", poll))
    assert results[1][0] == f"'{lead}{sign}1+1"
    assert [row[2] for row in results[1:]] == [f"'{lead}{sign}A1", "Plain"]


def test_a_write_in_behind_an_invisible_operator_is_defused_in_the_ballots_csv():
    poll = write_in_poll()
    ballot = vote(poll, "Other", voter="a", write_in="Linkerd")
    Ballot.objects.filter(pk=ballot.pk).update(write_in='\u2062=HYPERLINK("https://evil.example")')
    header, row = csv_rows(export("admin:polls_poll_ballots_csv", poll))
    cell = dict(zip(header, row, strict=True))["Write-in"]
    assert cell == '\'\u2062=HYPERLINK("https://evil.example")'


def test_an_unknown_poll_is_a_404():
    response = editor_client().get(reverse("admin:polls_poll_ballots_csv", args=[999999]))
    assert response.status_code == 404


def test_the_exports_are_also_actions_on_the_polls_page(voted_poll):
    response = editor_client().post(
        reverse("admin:polls_poll_change", args=[voted_poll.pk]),
        {"CHANGE_FORM-action": "export_ballots_csv", "_selected_action": [str(voted_poll.pk)]},
    )
    assert [row[2] for row in csv_rows(response)[1:]] == ["Envoy", "NGINX", "Envoy"]


def test_votes_from_sandboxed_hosts_keep_their_own_source_in_the_csv():
    poll = make_poll("Sandboxed?", choices=("Yes", "No"), slug="sandboxed")
    vote(poll, "Yes", voter="reader-a", source=Ballot.Source.EMBED)
    vote(poll, "No", voter="reader-b", source=Ballot.Source.EMBED_SANDBOXED)
    table = csv_rows(export("admin:polls_poll_ballots_csv", poll))
    assert sorted(row[2:4] for row in table[1:]) == [
        ["No", "Embedded widget, sandboxed host"],
        ["Yes", "Embedded widget"],
    ]
