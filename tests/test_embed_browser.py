"""The widget on another site, in Chromium: the host page on http://127.0.0.1:<port> and the
poll site (the live server) on http://localhost:<port> are different sites, so the widget is a
cross-site iframe and Chromium withholds third-party cookies from it."""

from pathlib import Path

import pytest
from django.test import Client

from polls import api
from polls.models import Ballot
from polls.services import ballot_cast
from polls.snippets import iframe_snippet, loader_snippet
from tests.helpers import make_poll

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"


def loader(live_server, poll) -> str:
    return loader_snippet(live_server.url, poll)


def widget_frame(page, index: int = 0):
    page.wait_for_function(f"document.querySelectorAll('iframe').length > {index}")
    return page.frame_locator("iframe").nth(index)


def iframe_fits_its_content(page, index: int = 0) -> bool:
    """The iframe is as tall as the widget's document: no scrollbar, no empty space."""
    for _ in range(50):
        outer = page.locator("iframe").nth(index).bounding_box()["height"]
        inner = page.frames[index + 1].evaluate("document.documentElement.scrollHeight")
        if abs(outer - inner) <= 1:
            return True
        page.wait_for_timeout(100)
    return False


def test_a_reader_votes_in_the_widget_on_another_site_with_third_party_cookies_blocked(
    browser, live_server, host_site
):
    poll = make_poll("Which proxy do you run at the edge?")
    article_url = host_site.article("/2024/mesh.html", loader(live_server, poll))
    context = browser.new_context()
    page = context.new_page()

    # A first-party visit leaves a SameSite=None cookie on the poll site...
    page.goto(live_server.url + "/embed.js")
    page.evaluate("document.cookie = 'probe=1; SameSite=None; Secure; Path=/'")
    assert "probe=1" in page.evaluate("document.cookie")

    page.goto(article_url)
    other_tab = context.new_page()
    other_tab.goto(article_url)
    frame = widget_frame(page)
    frame.get_by_role("group", name=poll.question).wait_for()
    # ...which the cross-site widget cannot see: third-party cookies are blocked.
    assert "probe" not in page.frames[1].evaluate("document.cookie")
    assert iframe_fits_its_content(page)

    frame.get_by_label("HAProxy").check()
    frame.get_by_role("button", name="Vote").click()
    frame.get_by_text("Thank you, your vote was counted.").wait_for()
    assert frame.locator(".poll-result.is-mine").get_by_text("HAProxy").is_visible()
    assert iframe_fits_its_content(page)
    ballot = Ballot.objects.get()
    assert (ballot.source, ballot.host_origin, ballot.host_path, ballot.choice.text) == (
        Ballot.Source.EMBED,
        host_site.url,
        "/2024/mesh.html",
        "HAProxy",
    )

    # Reloading the host page shows the results, not the form.
    page.reload()
    frame = widget_frame(page)
    frame.locator(".widget__results").wait_for(state="visible")
    assert frame.locator("form").is_hidden()
    assert frame.locator(".poll-result.is-mine").get_by_text("HAProxy").is_visible()

    # The tab that still shows the form cannot vote again: the partitioned cookie knows.
    other = widget_frame(other_tab)
    other.get_by_label("Envoy").check()
    other.get_by_role("button", name="Vote").click()
    other.get_by_text("You have already voted in this poll.").wait_for()
    assert other.locator(".poll-result.is-mine").get_by_text("HAProxy").is_visible()
    assert Ballot.objects.count() == 1
    assert sum(choice.votes for choice in poll.choices.all()) == 1
    context.close()


def test_two_polls_on_one_host_page_work_independently(browser, live_server, host_site):
    first = make_poll("First poll?", ("Yes", "No"))
    second = make_poll("Second poll?", ("Left", "Right"))
    url = host_site.article("/two.html", loader(live_server, first) + loader(live_server, second))
    page = browser.new_context().new_page()
    page.goto(url)
    one, two = widget_frame(page, 0), widget_frame(page, 1)
    one.get_by_label("Yes").check()
    one.get_by_role("button", name="Vote").click()
    one.get_by_text("Thank you, your vote was counted.").wait_for()
    assert two.get_by_role("group", name="Second poll?").is_visible()
    two.get_by_label("Right").check()
    two.get_by_role("button", name="Vote").click()
    two.get_by_text("Thank you, your vote was counted.").wait_for()
    assert sorted(Ballot.objects.values_list("choice__text", flat=True)) == ["Right", "Yes"]
    page.reload()
    widget_frame(page, 0).locator(".widget__results").wait_for(state="visible")
    widget_frame(page, 1).locator(".widget__results").wait_for(state="visible")
    page.context.close()


def test_the_plain_iframe_works_with_javascript_disabled(browser, live_server, host_site):
    poll = make_poll("Plain iframe poll?", ("Yes", "No"))
    url = host_site.article("/plain.html", iframe_snippet(live_server.url, poll))
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(url)
    frame = page.frame_locator("iframe")
    frame.get_by_label("No").check()
    # Without the widget's script nobody can tell whether the frame was seen (a transparent
    # frame over a decoy looks the same): the reader confirms on our own page, in a new tab.
    with context.expect_page() as opened:
        frame.get_by_role("button", name="Vote").click()
    poll_page = opened.value
    poll_page.wait_for_load_state()
    assert poll_page.url.startswith(f"{live_server.url}/polls/{poll.slug}/?choice=")
    assert not Ballot.objects.exists()
    assert poll_page.get_by_label("No").is_checked()
    poll_page.get_by_role("button", name="Vote").click()
    poll_page.get_by_text("Thank you, your vote has been counted.").wait_for()
    ballot = Ballot.objects.get()
    assert (ballot.source, ballot.choice.text) == (Ballot.Source.POLL_PAGE, "No")
    context.close()


def test_a_host_outside_the_allowed_origins_cannot_frame_the_widget(
    browser, live_server, host_site, settings
):
    poll = make_poll()
    url = host_site.article("/framed.html", iframe_snippet(live_server.url, poll))
    page = browser.new_context().new_page()

    settings.EMBED_ALLOWED_ORIGINS = ["https://news.example"]
    page.goto(url, wait_until="load")
    assert page.frames[1].locator("main[data-poll]").count() == 0

    settings.EMBED_ALLOWED_ORIGINS = ["https://news.example", host_site.url]
    page.goto(url, wait_until="load")
    assert page.frames[1].locator("main[data-poll]").count() == 1
    page.context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [320, 800])
def test_screenshots_of_the_widget_on_a_host_page(browser, live_server, host_site, scheme, width):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    poll = make_poll(
        "How has the recent turmoil within the OpenAI offices changed your plans to use GPT in "
        "a business process or product in 2024?",
        (
            "Increased uncertainty means we are more likely to evaluate alternative AI chatbots "
            "and LLMs.",
            "No change in plans, though we will keep an eye on the situation.",
            "With Sam Altman back in charge, we are more likely to go all-in with GPT and LLMs.",
            "What recent turmoil?",
        ),
    )
    url = host_site.article("/shot.html", loader(live_server, poll))
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
    page = context.new_page()
    page.goto(url)
    frame = widget_frame(page)
    frame.get_by_role("button", name="Vote").wait_for()
    assert iframe_fits_its_content(page)
    page.screenshot(path=SCREENSHOTS / f"embed-form-{width}-{scheme}.png", full_page=True)
    frame.get_by_label("What recent turmoil?").check()
    frame.get_by_role("button", name="Vote").click()
    frame.get_by_text("Thank you, your vote was counted.").wait_for()
    assert iframe_fits_its_content(page)
    no_horizontal_scroll = page.frames[1].evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    assert no_horizontal_scroll
    page.screenshot(path=SCREENSHOTS / f"embed-results-{width}-{scheme}.png", full_page=True)
    context.close()


def test_visible_results_refresh_live_with_conditional_requests(
    browser, live_server, host_site, monkeypatch
):
    poll = make_poll("Live poll?", ("Yes", "No"))
    url = host_site.article("/live.html", loader(live_server, poll))
    page = browser.new_context().new_page()
    # Recorded by the server (the live server runs in this process): what the browser sent.
    conditional: list[str | None] = []
    answer = api.shared_response

    def recording_shared_response(request, etag, build):
        if "/api/polls/" in request.path:
            conditional.append(request.headers.get("If-None-Match"))
        return answer(request, etag, build)

    monkeypatch.setattr(api, "shared_response", recording_shared_response)
    page.goto(url)
    frame = widget_frame(page)
    frame.get_by_label("Yes").check()
    frame.get_by_role("button", name="Vote").click()
    frame.get_by_text("1 vote in total", exact=True).wait_for()
    # Refreshes come 5 s apart and the first has no ETag yet: the second is conditional.
    for _ in range(250):
        if any(conditional):
            break
        page.wait_for_timeout(100)
    # The refresh revalidates with the ETag, which the server answers with a bodiless 304 when
    # nothing changed.
    etag = Client().get(f"/api/polls/{poll.slug}/results")["ETag"]
    assert etag in conditional, conditional

    ballot_cast(poll=poll, choice=poll.choices.get(text="No"), voter_hash="another-reader")
    frame.get_by_text("2 votes in total", exact=True).wait_for(timeout=15_000)
    no_row = frame.locator(f'[data-choice="{poll.choices.get(text="No").pk}"]')
    assert no_row.locator("[data-percent]").inner_text() == "50%"
    assert no_row.locator("[data-fill]").get_attribute("width") == "50"
    assert frame.locator("[data-announce]").inner_text() == "Results updated: 2 votes in total."
    page.context.close()


def test_a_refresh_older_than_the_readers_vote_does_not_undo_it(browser, live_server, host_site):
    poll = make_poll("Live poll?", ("Yes", "No"))
    ballot_cast(poll=poll, choice=poll.choices.get(text="No"), voter_hash="an-earlier-reader")
    url = host_site.article("/behind.html", loader(live_server, poll))
    context = browser.new_context()
    # The results as a CDN kept them (or another worker a moment behind): from before this
    # reader's vote.
    older = Client().get(f"/api/polls/{poll.slug}/results").content
    served_older: list[str] = []

    def results_from_before_the_vote(route):
        if served_older is not None:
            served_older.append(route.request.url)
            route.fulfill(status=200, content_type="application/json", body=older)
        else:
            route.continue_()

    context.route("**/api/polls/*/results", results_from_before_the_vote)
    page = context.new_page()
    page.goto(url)
    frame = widget_frame(page)
    frame.get_by_label("Yes").check()
    frame.get_by_role("button", name="Vote").click()
    frame.get_by_text("2 votes in total", exact=True).wait_for()
    for _ in range(100):  # live refreshes come 5 s apart
        if served_older:
            break
        page.wait_for_timeout(100)
    assert served_older, "the widget never refreshed its results"
    page.wait_for_timeout(500)
    yes_row = frame.locator(f'[data-choice="{poll.choices.get(text="Yes").pk}"]')
    assert yes_row.locator("[data-count]").inner_text() == "1 vote"
    assert frame.get_by_text("2 votes in total", exact=True).is_visible()

    # Newer results are still drawn.
    served_older = None
    ballot_cast(poll=poll, choice=poll.choices.get(text="No"), voter_hash="a-later-reader")
    frame.get_by_text("3 votes in total", exact=True).wait_for(timeout=15_000)
    assert yes_row.locator("[data-count]").inner_text() == "1 vote"
    context.close()
