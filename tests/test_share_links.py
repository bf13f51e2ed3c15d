"""Share buttons: on the results page, plain links to each network's own share address, and the
browser's share sheet and "Copy link" where it has them; in the widget after a vote, the share
sheet or a link to those. No script or pixel of another site's, anywhere."""

import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from polls.models import Ballot
from tests.helpers import make_poll

# Chromium on Linux has no share sheet (navigator.share, and the "web-share" permission that
# lets a frame use it): a browser that has one, which records what it was asked to share.
SHARE_SHEET_STUB = """
window.__shared = [];
Object.defineProperty(navigator, "share", {
  value: function (data) { window.__shared.push(data); return Promise.resolve(); },
});
if (window.FeaturePolicy) {
  const allows = FeaturePolicy.prototype.allowsFeature;
  FeaturePolicy.prototype.allowsFeature = function (feature) {
    return feature === "web-share" || allows.apply(this, arguments);
  };
}
"""


class Resources(HTMLParser):
    """What a page loads (scripts, images, frames, styles) and where its links go."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        if tag in ("script", "img", "iframe") and attrs.get("src"):
            self.loaded.append(attrs["src"])
        if tag == "link" and attrs.get("rel") == "stylesheet":
            self.loaded.append(attrs["href"])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])


def resources(html: str) -> Resources:
    parser = Resources()
    parser.feed(html)
    return parser


@pytest.mark.django_db
def test_the_results_page_links_to_each_network_with_the_polls_address():
    poll = make_poll("Which proxy do you run at the edge?")
    html = Client().get(poll.get_results_url()).content.decode()
    page = resources(html)
    poll_url = "http://testserver" + poll.get_absolute_url()

    shares = {urlsplit(link).netloc or urlsplit(link).scheme: link for link in page.links}
    assert parse_qs(urlsplit(shares["x.com"]).query) == {
        "text": ["Which proxy do you run at the edge?"],
        "url": [poll_url],
    }
    assert parse_qs(urlsplit(shares["www.facebook.com"]).query) == {"u": [poll_url]}
    assert parse_qs(urlsplit(shares["www.linkedin.com"]).query) == {"url": [poll_url]}
    assert parse_qs(urlsplit(shares["wa.me"]).query)["text"][0].endswith(poll_url)
    assert shares["mailto"].startswith("mailto:?subject=Which%20proxy")
    # Nothing of theirs loads with the page: only our own files.
    assert page.loaded and all(src.startswith("/static/") for src in page.loaded), page.loaded
    assert 'data-share-url="' + poll_url + '"' in html


@pytest.mark.django_db
def test_the_widget_links_to_the_share_links_and_loads_nothing_of_theirs():
    poll = make_poll()
    html = Client().get(f"/polls/{poll.slug}/embed/").content.decode()
    page = resources(html)
    assert f"http://testserver{poll.get_results_url()}#share" in page.links
    assert all(src.startswith("/static/") for src in page.loaded), page.loaded
    assert not re.search(r"x\.com|facebook|linkedin|wa\.me", html)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_reader_shares_the_results_with_the_share_sheet_or_copies_the_link(browser, live_server):
    poll = make_poll("Which proxy do you run at the edge?")
    context = browser.new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    context.add_init_script(SHARE_SHEET_STUB)
    page = context.new_page()
    hosts = set()
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))

    page.goto(live_server.url + poll.get_results_url())
    share = page.locator("#share")
    share.get_by_role("button", name="Share…").click()
    poll_url = live_server.url + poll.get_absolute_url()
    assert page.evaluate("window.__shared.map(data => data.url)") == [poll_url]

    share.get_by_role("button", name="Copy link").click()
    share.get_by_text("Link copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == poll_url
    assert share.get_by_role("link", name="WhatsApp").is_visible()
    assert hosts == {urlsplit(live_server.url).netloc}
    context.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_without_a_share_sheet_the_results_page_offers_the_links_alone(browser, live_server):
    poll = make_poll()
    context = browser.new_context()
    context.add_init_script("delete Navigator.prototype.share;")
    page = context.new_page()
    page.goto(live_server.url + poll.get_results_url())
    share = page.locator("#share")
    for network in ("X", "Facebook", "LinkedIn", "WhatsApp", "Email"):
        assert share.get_by_role("link", name=network).is_visible()
    assert share.get_by_role("button", name="Share…").is_hidden()
    context.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_reader_shares_the_poll_from_the_widget_after_voting(browser, live_server, host_site):
    from polls.snippets import loader_snippet

    poll = make_poll("Which proxy do you run at the edge?")
    article_url = host_site.article("/2024/mesh.html", loader_snippet(live_server.url, poll))
    context = browser.new_context()
    context.add_init_script(SHARE_SHEET_STUB)
    page = context.new_page()
    page.goto(article_url)
    page.wait_for_function("document.querySelectorAll('iframe').length > 0")
    frame = page.frame_locator("iframe").first
    frame.get_by_label("HAProxy").check()
    frame.get_by_role("button", name="Vote").click()
    frame.get_by_text("Thank you, your vote was counted.").wait_for()
    assert Ballot.objects.count() == 1

    widget = page.frames[1]
    frame.get_by_role("link", name="Share this poll").click()
    assert widget.evaluate("window.__shared.map(data => data.url)") == [
        live_server.url + poll.get_absolute_url()
    ]
    assert len(context.pages) == 1, "the share sheet, not a new tab"
    context.close()
