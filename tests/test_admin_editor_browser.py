"""A newsroom editor's day in a real Chromium, on a desktop (1280 px) and a phone (390 px):
write-ins, the newsroom's time, the figures, the actions, embedding a scheduled poll,
duplicates, the phone layout and the spreadsheet export."""

import csv
import io
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from polls import editing, voters
from polls.models import Ballot, Poll, WriteInMove
from polls.services import ballot_cast
from tests.helpers import (
    counts,
    make_article,
    make_editor,
    make_poll,
    signed_in_editor_page,
    vote,
    write_in_poll,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("editors_group"),
]

DESKTOP, PHONE = 1280, 390


@pytest.mark.parametrize("width", [DESKTOP, PHONE])
def test_an_editor_merges_a_later_write_in_into_an_existing_choice(browser, live_server, width):
    poll = write_in_poll()
    first = vote(poll, "Other", voter="a", write_in="Platformer")
    context, page = signed_in_editor_page(browser, live_server, width=width)
    write_ins = live_server.url + reverse("admin:polls_poll_write_ins", args=[poll.pk])
    page.goto(write_ins)
    page.get_by_role("checkbox", name="Platformer").check()
    page.get_by_label("Merge the selected into").fill("Platformer")
    page.get_by_role("button", name="Merge…").click()
    page.get_by_text("1 ballot will move from “Other” (1 vote now) to a new choice").wait_for()
    page.get_by_role("button", name="Yes, merge 1 ballot into “Platformer”").click()
    page.get_by_text("1 write-in merged into “Platformer”").wait_for()

    later = [
        vote(poll, "Other", voter="b", write_in="platformer "),
        vote(poll, "Other", voter="c", write_in="PLATFORMER"),
    ]
    page.goto(write_ins)
    for ballot in later:
        page.locator(f"#write-in-{ballot.pk}").check()
    page.get_by_label("Merge the selected into").fill("Platformer")
    page.get_by_role("button", name="Merge…").click()
    page.get_by_text(
        "2 ballots will move from “Other” (2 votes now) to the existing choice “Platformer” "
        "(1 vote now)."
    ).wait_for()
    assert counts(poll)["Platformer"] == 1  # nothing moves before the editor confirms
    page.get_by_role("button", name="Yes, merge 2 ballots into “Platformer”").click()
    page.get_by_text("2 write-ins merged into “Platformer”: 2 votes moved there").wait_for()
    assert counts(poll) == {"Envoy": 0, "NGINX": 0, "Platformer": 3, "Other": 0}
    assert WriteInMove.objects.count() == 2
    assert {b.pk for b in WriteInMove.objects.get(votes_moved=2).ballots.all()} == {
        b.pk for b in later
    }
    assert first.pk not in [b.pk for b in later]
    context.close()


def test_the_admin_shows_and_takes_times_in_the_newsrooms_zone_and_names_it(
    browser, live_server, settings
):
    settings.TIME_ZONE = "Europe/Berlin"
    berlin = ZoneInfo("Europe/Berlin")
    poll = write_in_poll()
    ballot = vote(poll, "Other", voter="a", write_in="Linkerd")
    context, page = signed_in_editor_page(
        browser, live_server, width=DESKTOP, timezone_id="Europe/Berlin"
    )
    day = (timezone.now() + timedelta(days=3)).astimezone(berlin).date()
    seven = datetime.combine(day, time(7), berlin)
    page.goto(live_server.url + reverse("admin:polls_poll_add"))
    page.get_by_label("Question:").fill("Four-day week for the newsroom?")
    page.get_by_label("Question:").press("Tab")
    page.get_by_label("Status:").select_option("published")
    for index, text in enumerate(["Yes", "No"]):
        page.locator(f"#id_choices-{index}-text").fill(text)
    page.locator("#id_opens_at_0").fill(day.isoformat())
    page.locator("#id_opens_at_1").fill("07:00:00")
    assert "In Europe/Berlin time." in page.locator(".field-opens_at").inner_text()
    assert page.locator(".timezonewarning").count() == 0  # "You are 1 hour ahead" is gone
    page.get_by_role("button", name="Save and continue editing").click()
    page.get_by_text("was added successfully").wait_for()
    scheduled = Poll.objects.get(slug="four-day-week-for-the-newsroom")
    assert scheduled.opens_at == seven
    shown = f"{seven:%b} {day.day} {day.year}, 07:00 {seven.tzname()}"
    assert seven.tzname() in ("CET", "CEST")
    assert f"Opens {shown}, open until closed." in page.locator(".poll-report").inner_text()

    page.goto(live_server.url + reverse("admin:polls_poll_changelist"))
    row = page.locator("#result_list tr", has_text="Four-day week")
    assert f"{shown} → until closed" in row.inner_text()

    page.goto(live_server.url + reverse("admin:polls_poll_write_ins", args=[poll.pk]))
    cast = ballot.cast_at.astimezone(berlin)
    assert f"{cast:%H:%M} {cast.tzname()}" in page.locator(".write-ins__table").inner_text()
    page.goto(live_server.url + reverse("admin:polls_poll_change", args=[poll.pk]))
    assert "(times in Europe/Berlin)" in page.locator("#poll-over-time").inner_text()
    context.close()


def test_the_ballots_export_reads_in_a_spreadsheet_as_dates_words_and_a_column_per_choice(
    browser, live_server, settings, tmp_path
):
    settings.TIME_ZONE = "Europe/Berlin"
    poll = write_in_poll(max_answers=2)
    ballot = vote(poll, "Envoy", "Other", voter="a", write_in="Linkerd")
    article = make_article("Edge proxies compared", poll=poll)
    Ballot.objects.filter(pk=ballot.pk).update(source=Ballot.Source.ARTICLE, article=article)
    context, page = signed_in_editor_page(
        browser, live_server, width=DESKTOP, accept_downloads=True
    )
    page.goto(live_server.url + reverse("admin:polls_poll_change", args=[poll.pk]))
    with page.expect_download() as download:
        page.get_by_role("link", name="Every ballot").click()
    path = tmp_path / "ballots.csv"
    download.value.save_as(path)
    header, row = csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig")))
    cells = dict(zip(header, row, strict=True))
    cast = ballot.cast_at.astimezone(ZoneInfo("Europe/Berlin"))
    assert cells["Cast at (Europe/Berlin)"] == cast.strftime("%Y-%m-%d %H:%M:%S")
    assert (cells["Envoy"], cells["NGINX"], cells["Other"]) == ("1", "0", "1")
    assert (cells["Where"], cells["Article"]) == ("Article page", "Edge proxies compared")
    assert (cells["Write-in"], cells["Write-in status"]) == ("Linkerd", "Pending")
    context.close()


def in_first_screen(page, locator) -> bool:
    box = locator.bounding_box()
    return box is not None and box["y"] + box["height"] <= page.viewport_size["height"]


@pytest.mark.parametrize("width", [DESKTOP, PHONE])
def test_a_poll_s_actions_are_on_its_first_screen(browser, live_server, width):
    poll = make_poll("Which proxy do you run at the edge?", ("Envoy", "NGINX", "HAProxy", "None"))
    for n, text in enumerate(["Envoy", "NGINX", "Envoy", "None"]):
        vote(poll, text, voter=f"reader-{n}")
    context, page = signed_in_editor_page(browser, live_server, width=width)
    page.goto(live_server.url + reverse("admin:polls_poll_change", args=[poll.pk]))
    close = page.get_by_role("button", name="Close this poll now")
    assert in_first_screen(page, close)
    assert in_first_screen(page, page.get_by_role("button", name="Duplicate this poll"))
    close.click()
    page.get_by_text(f"“{poll}” is closed.").wait_for()
    assert Poll.objects.get(pk=poll.pk).state() == "closed"
    assert in_first_screen(page, page.get_by_role("button", name="Reopen this poll"))
    page.get_by_role("button", name="Duplicate this poll").click()
    page.get_by_text("Created the draft").wait_for()
    assert Poll.objects.count() == 2
    context.close()


@pytest.mark.parametrize("width", [DESKTOP, PHONE])
def test_a_poll_with_several_answers_shows_voters_and_answers_apart(browser, live_server, width):
    poll = make_poll("Which tools do you use?", ("Envoy", "NGINX", "HAProxy", "Traefik"))
    poll.max_answers = 3
    poll.save()
    picks = [("Envoy", "NGINX"), ("Envoy",), ("NGINX", "Traefik"), ("Envoy", "HAProxy"), ("Envoy",)]
    for n, texts in enumerate(picks):
        choices = [poll.choices.get(text=text) for text in texts]
        ballot_cast(poll=poll, choices=choices, voter_hash=voters.voter_hash(f"reader-{n}"))
    context, page = signed_in_editor_page(browser, live_server, width=width)
    page.goto(live_server.url + reverse("admin:polls_poll_changelist"))
    assert page.locator("td.field-total_votes").inner_text() == "5 voters, 8 answers"
    page.goto(live_server.url + reverse("admin:polls_poll_change", args=[poll.pk]))
    assert page.locator(".poll-report__figures").inner_text() == "5 voters, 8 answers"
    envoy = page.locator(".admin-results__row", has_text="Envoy")
    assert envoy.locator(".admin-results__figures").inner_text() == "80% 4 voters"
    assert "share of the 5 voters" in page.locator("#poll-results").inner_text()
    sources = page.locator("#poll-sources")
    assert sources.get_by_role("columnheader", name="Voters").count() == 1
    assert sources.locator("tbody td.numeric").first.inner_text() == "5"
    assert (
        page.locator("#poll-over-time svg")
        .first.get_attribute("aria-label")
        .startswith("Voters per hour, first two days: 5 voters in ")
    )
    context.close()


@pytest.mark.parametrize("width", [DESKTOP, PHONE])
def test_an_embed_sent_before_the_poll_opens_says_when_it_opens(
    browser, live_server, host_site, settings, width
):
    settings.TIME_ZONE = "Europe/Berlin"
    poll = make_poll("Four-day week for the newsroom?", ("Yes", "No"), state="scheduled")
    context, page = signed_in_editor_page(browser, live_server, width=width)
    page.goto(live_server.url + reverse("admin:polls_poll_change", args=[poll.pk]))
    panel = page.locator("#poll-embed")
    opens = poll.opens_at.astimezone(ZoneInfo("Europe/Berlin"))
    assert "Not open yet." in panel.inner_text()
    assert f"{opens:%H:%M} {opens.tzname()}" in panel.inner_text()
    iframe = panel.locator("#snippet-iframe").input_value()
    partner = context.new_page()
    partner.goto(host_site.article("/2026/four-day-week", iframe))
    widget = partner.frame_locator("iframe")
    widget.get_by_text("This poll opens ").wait_for()
    notice = widget.locator(".widget__notice").inner_text()
    assert notice.endswith(f"at {opens:%H:%M} {opens.tzname()}.")
    oembed = page.request.get(
        live_server.url + "/oembed", params={"url": live_server.url + poll.get_absolute_url()}
    )
    assert oembed.status == 200 and oembed.json()["type"] == "rich"
    context.close()


@pytest.mark.parametrize("width", [DESKTOP, PHONE])
def test_a_duplicate_s_slug_follows_its_retyped_question(browser, live_server, width):
    poll = make_poll("Which proxy do you run in 2026?", ("Envoy", "NGINX"), slug="proxy-2026")
    vote(poll, "Envoy", voter="reader")
    context, page = signed_in_editor_page(browser, live_server, width=width)
    page.goto(live_server.url + reverse("admin:polls_poll_change", args=[poll.pk]))
    page.get_by_role("button", name="Duplicate this poll").click()
    page.get_by_text("Created the draft").wait_for()
    assert page.get_by_label("Question:").input_value() == "Which proxy do you run in 2026?"
    question = page.get_by_label("Question:")
    question.fill("Which proxy do you run in 2027?")
    assert page.get_by_label("Slug:").input_value() == "which-proxy-do-you-run-in-2027"
    page.get_by_role("button", name="Save and continue editing").click()
    page.get_by_text("was changed successfully").wait_for()
    copy = Poll.objects.exclude(pk=poll.pk).get()
    assert (copy.question, copy.slug, copy.status) == (
        "Which proxy do you run in 2027?",
        "which-proxy-do-you-run-in-2027",
        Poll.Status.DRAFT,
    )
    context.close()


SMALL_OR_OFF_SCREEN = """(selector) => [...document.querySelectorAll(selector)]
    .filter((element) => element.offsetParent !== null)
    .map((element) => [element.outerHTML.slice(0, 80), element.getBoundingClientRect()])
    .filter(([, box]) => box.width < 24 || box.height < 24 || box.right > innerWidth)
    .map(([html, box]) => `${html} ${Math.round(box.width)}x${Math.round(box.height)}`)"""
TARGETS = "#content button, #content input[type=checkbox], #content .button, #content select"


def off_screen(page, selector: str) -> list[str]:
    return page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)]
        .filter((element) => element.getBoundingClientRect().right > innerWidth)
        .map((element) => element.outerHTML.slice(0, 80))""",
        selector,
    )


def test_the_poll_s_admin_pages_work_on_a_phone(browser, live_server):
    poll = write_in_poll()
    ballots = [
        vote(poll, "Other", voter=f"reader-{n}", write_in=f"Linkerd, as a sidecar, {n}")
        for n in range(3)
    ]
    vote(poll, "Envoy", voter="reader-9")
    editor = make_editor()
    editing.write_ins_merge(poll=poll, ballot_ids=[ballots[0].pk], text="Linkerd", editor=editor)
    context, page = signed_in_editor_page(browser, live_server, width=PHONE, user=editor)
    page.goto(live_server.url + reverse("admin:polls_poll_changelist"))
    for column in ("total_votes", "last_vote_at", "schedule"):
        cell = page.locator(f"#result_list td.field-{column}")
        assert cell.is_visible() and off_screen(page, f"#result_list td.field-{column}") == []
    assert page.locator("#result_list td.field-total_votes").inner_text() == "4"
    assert page.evaluate(SMALL_OR_OFF_SCREEN, TARGETS) == []

    page.goto(live_server.url + reverse("admin:polls_poll_change", args=[poll.pk]))
    assert off_screen(page, "#choices-group td, #choices-group input") == []
    assert page.locator("#choices-group td.field-votes").first.is_visible()
    other = page.locator("#choices-group tr", has=page.locator('input[value="Other"]'))
    write_in_box = other.get_by_role("checkbox", name="Write-in")
    assert write_in_box.is_visible() and write_in_box.is_checked()
    assert page.evaluate(SMALL_OR_OFF_SCREEN, TARGETS) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE

    page.goto(live_server.url + reverse("admin:polls_poll_write_ins", args=[poll.pk]))
    assert page.evaluate(SMALL_OR_OFF_SCREEN, TARGETS) == []
    assert off_screen(page, ".write-ins__table td") == []  # the write-ins and the moves
    assert page.locator(".write-ins__table").nth(1).get_by_text("Linkerd").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE
    context.close()
