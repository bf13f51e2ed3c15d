"""A reader votes in a real Chromium, with and without JavaScript."""

import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from polls.models import Article, Ballot, Poll
from tests.helpers import make_article, make_poll

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"


@pytest.fixture
def interview(live_server) -> Article:
    call_command("seed")
    return Article.objects.get(poll__isnull=False)


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_a_reader_votes_from_the_article_and_stays_on_it_with_the_results(
    browser, live_server, interview, javascript
):
    context = browser.new_context(java_script_enabled=javascript)
    page = context.new_page()
    second_tab = context.new_page()
    poll = interview.poll
    article_url = live_server.url + interview.get_absolute_url()

    page.goto(article_url)
    second_tab.goto(article_url)
    page.get_by_role("group", name=poll.question).wait_for()
    page.get_by_label("What recent turmoil?").check()
    page.get_by_role("button", name="Vote").click()

    # The reader stays on the article, scrolled to the poll, the results in place of the form.
    page.wait_for_url(article_url + "#poll")
    assert page.get_by_role("heading", name=interview.title).is_visible()
    assert page.get_by_text("Thank you, your vote has been counted.").is_visible()
    assert page.get_by_text("You have voted in this poll.").is_visible()
    assert page.locator("#poll").is_visible()
    assert page.get_by_role("radio").count() == 0
    mine = page.locator("#poll .poll-result.is-mine")
    assert mine.locator(".poll-result__text").inner_text().startswith("What recent turmoil?")
    assert mine.locator(".poll-result__percent").inner_text() == "100%"
    assert page.locator("#poll .poll-result__bar").count() == 4
    assert mine.locator(".poll-result__fill").get_attribute("width") == "100"
    sidebar = page.get_by_role("complementary")
    assert sidebar.get_by_role("listitem").count() == 5

    # The tab opened before voting still shows the form: its vote is refused, on the article.
    second_tab.get_by_role("radio").first.check()
    second_tab.get_by_role("button", name="Vote").click()
    # With JavaScript the form is sent once vote.js has the voter id: wait for the answer.
    second_tab.get_by_text("You have already voted in this poll.").wait_for()
    counted_once = "Your vote, “What recent turmoil?”, was counted once."
    assert second_tab.get_by_text(counted_once).is_visible()
    assert second_tab.get_by_role("heading", name=interview.title).is_visible()

    ballot = Ballot.objects.get()
    assert (ballot.choice.text, ballot.source, ballot.article) == (
        "What recent turmoil?",
        Ballot.Source.ARTICLE,
        interview,
    )
    assert sum(choice.votes for choice in poll.choices.all()) == 1
    context.close()


def test_a_reader_votes_on_the_poll_page(page, live_server):
    poll = make_poll("Which proxy do you run at the edge?")
    make_article("Edge proxies compared", poll=poll, topics=("Proxies",))
    page.goto(live_server.url + poll.get_absolute_url())
    page.get_by_label("HAProxy").check()
    page.get_by_role("button", name="Vote").click()
    page.wait_for_url(live_server.url + poll.get_results_url())
    assert (
        page.locator(".poll-result.is-mine .poll-result__text").inner_text().startswith("HAProxy")
    )
    assert Ballot.objects.get().source == Ballot.Source.POLL_PAGE


def test_a_closed_poll_shows_results_without_a_form(page, live_server):
    poll = make_poll(state="closed")
    page.goto(live_server.url + poll.get_absolute_url())
    page.wait_for_url(live_server.url + poll.get_results_url())
    assert page.get_by_text("This poll is closed.").is_visible()
    assert page.get_by_role("radio").count() == 0


@pytest.mark.parametrize(
    ("device", "width", "height"), [("phone", 390, 844), ("desktop", 1366, 900)]
)
def test_screenshots_of_the_reader_pages(browser, live_server, interview, device, width, height):
    """Not an assertion of looks: pictures for a person to check, plus the layout rules."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    poll: Poll = interview.poll

    page.goto(live_server.url + interview.get_absolute_url())
    page.screenshot(path=SCREENSHOTS / f"article-{device}.png", full_page=True)
    page.goto(live_server.url + poll.get_absolute_url())
    page.screenshot(path=SCREENSHOTS / f"poll-{device}.png", full_page=True)
    page.get_by_label("No change in plans, though we will keep an eye on the situation.").check()
    page.get_by_role("button", name="Vote").click()
    page.wait_for_url(live_server.url + poll.get_results_url())
    page.screenshot(path=SCREENSHOTS / f"results-{device}.png", full_page=True)

    no_horizontal_scroll = page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    assert no_horizontal_scroll
    results_box = page.locator(".poll-results").bounding_box()
    sidebar_box = page.get_by_role("complementary").bounding_box()
    if device == "phone":
        assert sidebar_box["y"] > results_box["y"] + results_box["height"]
    else:
        assert sidebar_box["x"] > results_box["x"] + results_box["width"]
    page.goto(live_server.url + "/")
    page.screenshot(path=SCREENSHOTS / f"index-{device}.png", full_page=True)
    context.close()


def relative_luminance(css_rgb: str) -> float:
    red, green, blue = (
        int(part) / 255 for part in css_rgb[css_rgb.index("(") + 1 : -1].split(",")[:3]
    )
    linear = [
        c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (red, green, blue)
    ]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, other: str) -> float:
    lighter, darker = sorted((relative_luminance(one), relative_luminance(other)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_your_vote_is_marked_in_a_colour_that_does_not_read_as_an_error(
    browser, live_server, scheme
):
    poll = make_poll()
    context = browser.new_context(color_scheme=scheme)
    page = context.new_page()
    page.goto(live_server.url + poll.get_absolute_url())
    page.get_by_label("NGINX").check()
    page.get_by_role("button", name="Vote").click()
    page.wait_for_url(live_server.url + poll.get_results_url())
    colours = page.evaluate(
        """() => {
            const style = (selector) => getComputedStyle(document.querySelector(selector));
            return {
                fill: style('.is-mine .poll-result__fill').fill,
                track: style('.is-mine .poll-result__bar').backgroundColor,
                label: style('.poll-result__mine').color,
                page: style('body').backgroundColor,
            };
        }"""
    )
    red, green, blue = (int(p) for p in colours["fill"][4:-1].split(","))
    assert not (red > green + 40 and red > blue + 40), f"reddish: {colours['fill']}"
    assert contrast(colours["fill"], colours["track"]) >= 3
    assert contrast(colours["label"], colours["page"]) >= 4.5
    context.close()


def test_a_vote_whose_answer_was_lost_cannot_be_counted_again(browser, live_server):
    """The connection drops after the vote was counted: the reader, seeing an error, votes
    again. vote.js fetched their voter id before the first try, so the second is a repeat."""
    poll = make_poll("Lost answers?", ("Yes", "No"))
    page = browser.new_context().new_page()
    page.goto(live_server.url + poll.get_absolute_url())
    assert "pollsite_voter" not in str(page.context.cookies())  # no cookie with the page
    other_tab = page.context.new_page()
    other_tab.goto(live_server.url + poll.get_absolute_url())

    def count_then_drop(route):
        route.fetch()  # the server counts the vote...
        route.abort("connectionreset")  # ...and its answer never arrives

    page.route("**/vote/", count_then_drop)
    page.get_by_label("Yes").check()
    with page.expect_event("requestfailed"):
        page.get_by_role("button", name="Vote").click()
    assert Ballot.objects.count() == 1

    page.unroute("**/vote/")
    page.goto(live_server.url + poll.get_absolute_url())
    # The reader is known now: the poll page sends them to the results with their vote.
    page.get_by_text("Your vote: Yes").wait_for()
    assert page.url == live_server.url + poll.get_results_url()
    # And the same form, still open in another tab, is refused as a repeat.
    other_tab.get_by_label("No").check()
    other_tab.get_by_role("button", name="Vote").click()
    other_tab.get_by_text("You have already voted in this poll.").wait_for()
    assert Ballot.objects.count() == 1


def test_a_page_served_from_a_shared_copy_still_votes_with_a_fresh_token(browser, live_server):
    """A cache gave this reader a copy whose token another reader has spent: vote.js fetches
    a fresh one just before the form is sent."""
    poll = make_poll("Shared copies?", ("Yes", "No"))
    page = browser.new_context().new_page()
    page.goto(live_server.url + poll.get_absolute_url())
    spent = page.locator("input[name=token]").input_value()
    other = Client().post(
        f"/polls/{poll.slug}/vote/", {"choice": poll.choices.get(text="No").pk, "token": spent}
    )
    assert other.status_code == 303
    page.get_by_label("Yes").check()
    page.get_by_role("button", name="Vote").click()
    page.get_by_text("Your vote: Yes").wait_for()
    assert sorted(Ballot.objects.values_list("choice__text", flat=True)) == ["No", "Yes"]
    page.context.close()


def test_a_hostile_page_cannot_vote_for_its_visitors(browser, live_server, host_site):
    """Another site's page posts our form, with a token scraped from our page, from its
    visitor's browser: refused, whatever the token."""
    poll = make_poll("Forged votes?", ("Yes", "No"))
    token = re.search(
        r'name="token" value="([^"]+)"', Client().get(poll.get_absolute_url()).content.decode()
    ).group(1)
    trap = host_site.article(
        "/trap.html",
        f'<form id="trap" method="post" action="{live_server.url}/polls/{poll.slug}/vote/">'
        f'<input name="choice" value="{poll.choices.get(text="Yes").pk}">'
        f'<input name="token" value="{token}"></form>'
        '<script>document.getElementById("trap").submit()</script>',
    )
    page = browser.new_context().new_page()
    with page.expect_response(lambda response: response.url.endswith("/vote/")) as answer:
        page.goto(trap)
    assert answer.value.status == 403
    page.get_by_text("Votes can only be cast from our own pages.").wait_for()
    assert Ballot.objects.count() == 0
    page.context.close()
    # Nothing was spent: the same token still votes from our own page.
    mine = Client().post(
        f"/polls/{poll.slug}/vote/", {"choice": poll.choices.get(text="No").pk, "token": token}
    )
    assert mine.status_code == 303 and Ballot.objects.count() == 1
