"""Seen, in Chromium: the widget on another site and our article's poll box report once per page
view, when half the poll has been on screen for a second; a prerendered page and a hidden tab
report nothing; a vote shows in the engagement rate.

The live server runs in this process: its tally is flushed here (a worker's thread does it in
production). The host site is http://127.0.0.1:<port>, the poll site http://localhost:<port>.
"""

from pathlib import Path

import pytest

from polls import engagement
from polls.engagement import poll_engagement
from polls.models import SeenCount
from polls.snippets import loader_snippet
from tests.cms_hosts import widget_frame
from tests.helpers import eventually, make_article, make_poll

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots" / "seen"
# Longer than the second the poll must stay on screen, with room for a loaded machine: how
# long a test waits before it says that nothing was reported.
QUIET_MS = 3000
# Tall enough that the poll starts below the fold and can be scrolled out of view again.
SPACER = '<div style="height:2400px"></div>'


@pytest.fixture(autouse=True)
def empty_tally(monkeypatch):
    monkeypatch.setattr(engagement, "tally", engagement.SeenTally())


def seen_rows() -> list[tuple]:
    engagement.tally.flush()
    return sorted(SeenCount.objects.values_list("embedded", "host_origin", "host_path", "seen"))


def beacons_sent(page) -> list[str]:
    sent: list[str] = []
    page.on("request", lambda request: "/seen/" in request.url and sent.append(request.url))
    return sent


def test_the_widget_scrolled_in_and_out_of_view_is_seen_once_and_a_vote_shows_in_the_rate(
    browser, live_server, host_site
):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    poll = make_poll("Which proxy do you run at the edge?", ("Envoy", "NGINX"))
    url = host_site.article(
        "/2026/edge.html", SPACER + loader_snippet(live_server.url, poll) + SPACER
    )
    page = browser.new_context(viewport={"width": 1024, "height": 800}).new_page()
    sent = beacons_sent(page)
    page.goto(url)
    frame = widget_frame(page)
    frame.get_by_role("button", name="Vote").wait_for(state="attached")
    page.wait_for_timeout(QUIET_MS)
    assert sent == [] and seen_rows() == [], "reported while below the fold"

    slot = page.locator("iframe[data-poll-frame]")
    for _ in range(3):  # into view, out of view, into view again
        slot.scroll_into_view_if_needed()
        page.wait_for_timeout(QUIET_MS // 2)
        page.mouse.wheel(0, -5000)
        page.wait_for_timeout(QUIET_MS // 2)
    slot.scroll_into_view_if_needed()
    assert eventually(lambda: seen_rows() != [], seconds=10)
    page.wait_for_timeout(QUIET_MS)
    page.screenshot(path=str(SCREENSHOTS / "widget-in-view.png"))
    assert seen_rows() == [(True, host_site.url, "/2026/edge.html", 1)]
    assert len(sent) == 1

    frame.get_by_label("Envoy").check()
    frame.get_by_role("button", name="Vote").click()
    frame.get_by_text("Thank you, your vote was counted.").wait_for()
    total = poll_engagement(poll).total
    assert (total.seen, total.votes, total.rate_text) == (1, 1, "100.0%")


def test_our_articles_poll_box_is_seen_once_per_page_view(browser, live_server):
    poll = make_poll()
    article = make_article("Edge proxies", poll=poll)
    page = browser.new_context(viewport={"width": 1024, "height": 900}).new_page()
    for _ in range(2):
        page.goto(live_server.url + article.get_absolute_url())
        page.locator("#poll").wait_for()
        page.wait_for_timeout(QUIET_MS)
    assert eventually(
        lambda: seen_rows() == [(False, "", article.get_absolute_url(), 2)], seconds=15
    )


def test_a_hidden_tab_reports_nothing(browser, live_server, host_site):
    poll = make_poll()
    url = host_site.article("/2026/hidden.html", loader_snippet(live_server.url, poll))
    context = browser.new_context(viewport={"width": 1024, "height": 900})
    # A tab in the background, as the page and the widget's frame see it (headless Chromium
    # shows every tab).
    context.add_init_script(
        "Object.defineProperty(Document.prototype, 'visibilityState', {get: () => 'hidden'});"
        "Object.defineProperty(Document.prototype, 'hidden', {get: () => true});"
    )
    page = context.new_page()
    sent = beacons_sent(page)
    page.goto(url)
    frame = widget_frame(page)
    assert frame.evaluate("document.visibilityState") == "hidden"
    page.wait_for_timeout(QUIET_MS)
    assert sent == []
    assert seen_rows() == []


def test_a_prerendered_page_reports_nothing_until_the_reader_opens_it(
    browser, live_server, host_site
):
    poll = make_poll()
    url = host_site.article("/2026/next.html", loader_snippet(live_server.url, poll))
    context = browser.new_context(viewport={"width": 1024, "height": 900})
    # Prerendered, as the page and the widget's frame see it until the reader opens the page
    # (headless Chromium does not prerender speculation rules; a real prerender would not
    # even load the cross-site frame before then).
    context.add_init_script(
        "let prerendering = true;"
        "Object.defineProperty(Document.prototype, 'prerendering', {get: () => prerendering});"
        "window.activate = () => { prerendering = false;"
        " document.dispatchEvent(new Event('prerenderingchange')); };"
    )
    page = context.new_page()
    sent = beacons_sent(page)
    page.goto(url)
    frame = widget_frame(page)
    assert frame.evaluate("document.prerendering") is True
    page.wait_for_timeout(QUIET_MS)
    assert sent == [] and seen_rows() == [], "a prerendered page reported"
    frame.evaluate("activate()")
    assert eventually(
        lambda: seen_rows() == [(True, host_site.url, "/2026/next.html", 1)], seconds=15
    )


def test_a_prerender_or_prefetch_request_counts_nothing(browser, live_server, host_site):
    """What a browser marks as prerendering (Sec-Purpose) is not counted, whatever the page's
    script does."""
    poll = make_poll()
    url = host_site.article("/2026/prefetched.html", loader_snippet(live_server.url, poll))
    context = browser.new_context(viewport={"width": 1024, "height": 900})
    context.set_extra_http_headers({"Sec-Purpose": "prefetch;prerender"})
    page = context.new_page()
    sent = beacons_sent(page)
    page.goto(url)
    widget_frame(page)
    # Playwright reports requests while the test waits on the page, not in time.sleep.
    for _ in range(150):
        if sent:
            break
        page.wait_for_timeout(100)
    assert len(sent) == 1
    page.wait_for_timeout(QUIET_MS)
    assert seen_rows() == []
