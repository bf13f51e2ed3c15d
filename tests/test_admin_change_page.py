"""A poll's page in the admin: results, charts, where votes came from, snippets, preview."""

import html
import re

import pytest
from django.test import Client
from django.urls import reverse

from polls import voters
from polls.models import Ballot, Poll
from polls.services import ballot_cast
from polls.snippets import SNIPPET_SIZING_WIDTH, widget_height
from tests.helpers import editor_client, make_article, make_poll, vote

pytestmark = pytest.mark.django_db


def change_page(poll) -> str:
    response = editor_client().get(reverse("admin:polls_poll_change", args=[poll.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_it_shows_the_results_with_counts_and_percentages():
    poll = make_poll(choices=("Envoy", "NGINX", "HAProxy"))
    vote(poll, "Envoy", voter="reader-1")
    vote(poll, "Envoy", voter="reader-2")
    vote(poll, "HAProxy", voter="reader-3")
    page = change_page(poll)
    rows = re.findall(
        r'admin-results__text">([^<]+)</span>\s*<span class="admin-results__figures">'
        r'<strong class="admin-results__percent">(\d+)%</strong> '
        r'<span class="admin-results__count">(\d+) votes?</span>',
        page,
    )
    assert rows == [("Envoy", "67", "2"), ("NGINX", "0", "0"), ("HAProxy", "33", "1")]
    assert "3 votes</strong>" in page


def test_it_breaks_votes_down_by_page_article_and_host_site():
    poll = make_poll(choices=("Yes", "No"))
    article = make_article("Edge proxies compared", poll=poll)
    vote(poll, "Yes", voter="r1")
    vote(poll, "Yes", voter="r2", source=Ballot.Source.ARTICLE, article=article)
    vote(poll, "No", voter="r3", source=Ballot.Source.ARTICLE, article=article)
    embedded = [vote(poll, "No", voter=f"e{i}", source=Ballot.Source.EMBED) for i in range(3)]
    # The embed view on main records the host page; set it here as it will.
    Ballot.objects.filter(pk__in=[b.pk for b in embedded[:2]]).update(
        host_origin="https://news.example"
    )
    Ballot.objects.filter(pk=embedded[2].pk).update(host_origin="https://blog.example")
    sandboxed = vote(poll, "Yes", voter="s1", source=Ballot.Source.EMBED_SANDBOXED)
    Ballot.objects.filter(pk=sandboxed.pk).update(host_origin="https://wp.example")
    page = change_page(poll)
    table = page[page.index('class="poll-sources"') :]
    rows = re.findall(
        r"<tr><td>([^<]+)</td><td>([^<]+)</td>"
        r'<td class="numeric">(\d+)</td><td class="numeric">(\d+)%</td></tr>',
        table,
    )
    # Votes from sandboxed frames stand apart: their host is what the widget read, unverified.
    assert rows == [
        ("Article", "Edge proxies compared", "2", "29"),
        ("Embedded widget", "https://news.example", "2", "29"),
        ("Embedded widget", "https://blog.example", "1", "14"),
        (
            "Embedded widget, sandboxed host",
            "https://wp.example (as the widget read it)",
            "1",
            "14",
        ),
        ("Poll page", "Our poll page", "1", "14"),
    ]


def test_it_offers_the_three_embed_snippets_with_copy_buttons():
    poll = make_poll("Is <b>this</b> “safe”?", slug="safe-question")
    page = change_page(poll)
    site = "http://testserver"
    snippets = {
        key: html.unescape(code)
        for key, code in re.findall(
            r'<textarea id="snippet-(\w+)"[^>]*>(.*?)</textarea>', page, flags=re.S
        )
    }
    snippets.update(
        (key, html.unescape(code))
        for key, code in re.findall(
            r'<input type="text" id="snippet-(\w+)"[^>]*value="([^"]*)"', page
        )
    )
    assert snippets == {
        "script": f'<div data-poll="safe-question"><a href="{site}/polls/safe-question/">'
        "Is &lt;b&gt;this&lt;/b&gt; “safe”?</a></div>\n"
        f'<script src="{site}/embed.js" async></script>',
        "iframe": f'<iframe src="{site}/polls/safe-question/embed/" '
        'title="Reader poll: Is &lt;b&gt;this&lt;/b&gt; “safe”?" width="100%" '
        f'height="{widget_height(poll, SNIPPET_SIZING_WIDTH)}" '
        'loading="lazy" style="border:0;max-width:100%"></iframe>',
        "oembed_url": f"{site}/polls/safe-question/",
    }
    for key in snippets:
        assert f'data-copy-target="snippet-{key}"' in page


def test_the_preview_shows_the_reader_widget_in_a_sandbox_that_cannot_submit_a_vote():
    poll = make_poll(choices=("Envoy", "NGINX"))
    page = change_page(poll)
    frames = re.findall(r"<iframe ([^>]*)></iframe>", page)
    previews = [f for f in frames if "widget-preview__iframe" in f]
    assert len(previews) == 2
    for frame in previews:
        # allow-same-origin only: no allow-forms (no submission), no allow-scripts.
        assert 'sandbox="allow-same-origin"' in frame
    before = html.unescape(re.search(r'srcdoc="([^"]*)"', previews[0]).group(1))
    assert "<body inert>" in before
    assert "Envoy" in before and 'type="radio"' in before
    after = html.unescape(re.search(r'srcdoc="([^"]*)"', previews[1]).group(1))
    assert "poll-results" in after and 'type="radio"' not in after


@pytest.mark.parametrize("results_before_voting", [False, True])
def test_the_preview_before_voting_shows_results_only_when_readers_will_see_them(
    results_before_voting,
):
    poll = make_poll(choices=("Envoy", "NGINX"))
    if results_before_voting:
        poll.results_shown = Poll.ResultsShown.ALWAYS
    poll.save()
    frames = re.findall(r'srcdoc="([^"]*)"', change_page(poll))
    before = html.unescape(frames[0])
    assert 'type="radio"' in before
    assert ("poll-results" in before) is results_before_voting
    # No inline style: the Content-Security-Policy (style-src 'self') would block it.
    assert "<style" not in before and "style=" not in before
    assert "admin_polls/widget_preview." in before


@pytest.mark.parametrize("state", ["draft", "scheduled"])
def test_editors_preview_drafts_and_scheduled_polls_as_readers_will_see_them(state):
    poll = make_poll(choices=("Envoy", "NGINX"), state=state)
    page = change_page(poll)
    preview_url = reverse("admin:polls_poll_preview", args=[poll.pk])
    assert f'href="{preview_url}"' in page  # "View on site"
    response = editor_client().get(preview_url)
    assert response.status_code == 200
    preview = response.content.decode()
    assert poll.question in preview and 'type="radio"' in preview
    assert "No vote can be cast here." in preview and "disabled>Vote</button>" in preview
    assert "embed-snippets" not in preview
    # Readers still cannot see it.
    assert Client().get(poll.get_absolute_url()).status_code == 404
    assert Client().get(preview_url).status_code == 302  # to the sign-in


def test_an_open_poll_is_viewed_on_the_site_itself():
    poll = make_poll()
    assert reverse("admin:polls_poll_preview", args=[poll.pk]) not in change_page(poll)


def test_it_charts_votes_over_time_as_svg_with_one_bar_per_hour():
    poll = make_poll()
    vote(poll, "Envoy", voter="r1")
    page = change_page(poll)
    assert "By hour, the first two days" in page
    chart = re.search(r'<svg class="votes-chart"[^>]*aria-label="([^"]*)"', page)
    assert chart.group(1).startswith("Votes per hour, first two days: 1 vote in ")
    assert "<title>" in page and ": 1 vote</title>" in page


def test_a_draft_that_has_not_opened_says_so_instead_of_a_chart():
    poll = make_poll(state="scheduled")
    page = change_page(poll)
    assert "The poll has not opened yet." in page
    assert "No votes yet." in page


def test_it_links_to_both_csv_downloads():
    poll = make_poll()
    page = change_page(poll)
    assert reverse("admin:polls_poll_results_csv", args=[poll.pk]) in page
    assert reverse("admin:polls_poll_ballots_csv", args=[poll.pk]) in page


def test_the_add_page_has_no_report():
    response = editor_client().get(reverse("admin:polls_poll_add"))
    assert response.status_code == 200
    assert "poll-report" not in response.content.decode()


def test_it_names_the_sites_whose_widget_was_hidden_when_readers_voted():
    poll = make_poll(choices=("Yes", "No"))
    assert "poll-hidden-frames" not in change_page(poll)
    for reader, visibility in (("a", "confirmed"), ("b", "confirmed"), ("c", "visible")):
        ballot = vote(poll, "Yes", voter=reader, source=Ballot.Source.EMBED)
        Ballot.objects.filter(pk=ballot.pk).update(
            host_origin="https://prizes.example", frame_visibility=visibility
        )
    page = change_page(poll)
    table = page[page.index('class="poll-sources poll-hidden-frames"') :]
    rows = re.findall(r'<tr><td>([^<]+)</td><td class="numeric">(\d+)</td></tr>', table)
    assert rows[0] == ("https://prizes.example", "2")


def test_a_poll_with_several_answers_counts_voters_and_answers_apart_everywhere():
    poll = make_poll(choices=("Envoy", "NGINX", "HAProxy"))
    poll.max_answers = 2
    poll.save()
    picks = [("Envoy", "NGINX"), ("Envoy", "HAProxy"), ("Envoy",)]
    for n, texts in enumerate(picks):
        choices = [poll.choices.get(text=text) for text in texts]
        ballot_cast(poll=poll, choices=choices, voter_hash=voters.voter_hash(f"reader-{n}"))
    page = change_page(poll)
    assert '<strong class="poll-report__figures">3 voters, 5 answers</strong>' in page
    assert "Each percentage is the share of the 3 voters who picked that answer" in page
    envoy = re.search(r'Envoy</span>.*?admin-results__count">([^<]+)<', page, re.S).group(1)
    assert envoy == "3 voters"
    assert "Where voters came from" in page and "Voters over time" in page
    assert 'aria-label="Voters per hour, first two days: 3 voters in ' in page
    listing = editor_client().get(reverse("admin:polls_poll_changelist")).content.decode()
    assert '<td class="field-total_votes">3 voters, 5 answers</td>' in listing


def test_a_poll_with_one_answer_speaks_of_votes():
    poll = make_poll()
    vote(poll, "Envoy", voter="reader-1")
    page = change_page(poll)
    assert '<strong class="poll-report__figures">1 vote</strong>' in page
    assert "Where votes came from" in page and "Votes over time" in page
    assert "Each percentage is the share" not in page


def test_a_draft_s_page_says_it_is_a_draft_not_that_it_opened():
    draft = make_poll(state="draft")
    page = change_page(draft)
    assert "A draft: readers see it once you publish it." in page and "Opened " not in page
    draft.max_answers = 2
    draft.save()
    assert "Each percentage is the share of the" not in change_page(draft)  # no voters yet
