"""The poll in a newsletter: an email-safe block (tables, inline styles, no script, no form,
images by absolute address) whose answers are links to our poll page with that answer picked.
A link alone never counts: mail scanners open every link. The reader's Vote does, once, and the
ballot says it came from the newsletter."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from polls.models import Ballot, Poll
from polls.snippets import newsletter_block
from tests.helpers import make_poll, signed_in_editor_page, snapshot, validation_errors, vote_form

SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
# What link checkers in mail systems send (Microsoft Defender's Safe Links, Barracuda, Proofpoint
# URL Defense), and a plain HTTP library: they open every link of a message before its reader.
SCANNERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0 SafeLinks",
    "Barracuda Sentinel (EE)",
    "Proofpoint URL Defense",
    "python-requests/2.32.3",
]


class Block(HTMLParser):
    """The tags, links and images of a newsletter block."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str] = []
        self.images: list[str] = []
        self.style_attributes = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "a":
            self.links.append(attrs["href"])
        if tag == "img":
            self.images.append(attrs["src"])


def parsed(html: str) -> Block:
    block = Block()
    block.feed(html)
    return block


def blocks(poll: Poll, site: str = "http://testserver") -> dict[str, str]:
    return {
        "vote": newsletter_block(site, poll, with_results=False),
        "results": newsletter_block(site, poll, with_results=True),
    }


def as_document(block: str) -> str:
    """The block as a mail's HTML body carries it."""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Newsletter</title>'
        f"</head><body>{block}</body></html>"
    )


@pytest.mark.django_db
def test_the_block_is_tables_and_links_with_no_script_no_form_and_absolute_images():
    poll = make_poll("Which proxy do you run at the edge?", ("Envoy", "NGINX", "HAProxy"))
    for name, html in blocks(poll).items():
        block = parsed(html)
        assert "table" in block.tags
        assert not {"script", "form", "input", "button", "iframe", "style", "link"} & set(
            block.tags
        ), name
        assert not re.search(r"\son\w+=", html), "no event handlers"
        assert all(image.startswith("http://testserver/") for image in block.images)
        choice_links = [link for link in block.links if "choice=" in link]
        assert choice_links == [
            f"http://testserver{poll.get_absolute_url()}?choice={choice.pk}&source=newsletter"
            for choice in poll.choices.order_by("position")
        ]
    assert parsed(blocks(poll)["results"]).images == [
        f"http://testserver/polls/{poll.slug}/card.png"
    ]
    assert parsed(blocks(poll)["vote"]).images == []


@pytest.mark.django_db
def test_the_block_is_valid_html(checker, tmp_path):
    poll = make_poll("ما هو الخادم الوكيل الذي تستخدمه؟ <b>&amp;", ("Envoy & co", "NGINX"))
    pages = {f"newsletter-{name}": as_document(html) for name, html in blocks(poll).items()}
    assert validation_errors(checker, pages, tmp_path) == {}


@pytest.mark.django_db
def test_a_mail_scanner_that_opens_every_link_counts_nothing():
    poll = make_poll()
    before = snapshot()
    for agent in SCANNERS:
        scanner = Client(HTTP_USER_AGENT=agent)
        for html in blocks(poll).values():
            block = parsed(html)
            for url in block.links + block.images:
                path = url.removeprefix("http://testserver")
                for method in (scanner.get, scanner.head):
                    response = method(path, follow=True)
                    assert response.status_code == 200, (agent, url)
    assert snapshot() == before
    assert not Ballot.objects.exists()


@pytest.mark.django_db
def test_a_link_opens_the_poll_page_with_its_answer_picked_and_nothing_counted():
    poll = make_poll("Which proxy do you run at the edge?", ("Envoy", "NGINX", "HAProxy"))
    nginx = poll.choices.get(text="NGINX")
    html = Client().get(f"{poll.get_absolute_url()}?choice={nginx.pk}&source=newsletter")
    page = html.content.decode()
    assert re.search(rf'<input[^>]*value="{nginx.pk}"[^>]*checked', page)
    assert re.search(r'<input[^>]*name="source"[^>]*value="newsletter"', page)
    assert "Your choice from the newsletter is picked below" in page
    assert not Ballot.objects.exists()


@pytest.mark.django_db
def test_a_link_picks_its_answer_in_a_poll_with_several_answers_too():
    poll = make_poll("Which proxies do you run?", ("Envoy", "NGINX", "HAProxy"))
    Poll.objects.filter(pk=poll.pk).update(max_answers=2)
    nginx = poll.choices.get(text="NGINX")
    page = Client().get(f"{poll.get_absolute_url()}?choice={nginx.pk}&source=newsletter")
    checked = re.findall(
        r'<input type="checkbox"[^>]*value="(\d+)"[^>]*checked', page.content.decode()
    )
    assert checked == [str(nginx.pk)]


@pytest.mark.django_db
def test_a_vote_sent_from_the_newsletters_link_is_counted_once_as_newsletter():
    poll = make_poll("Which proxy do you run at the edge?", ("Envoy", "NGINX", "HAProxy"))
    envoy = poll.choices.get(text="Envoy")
    reader = Client()
    vote_url = reverse("polls:vote", args=[poll.slug])
    form = vote_form(poll, choice=envoy.pk, source="newsletter")
    assert reader.post(vote_url, form).status_code == 303
    again = reader.post(vote_url, vote_form(poll, choice=envoy.pk, source="newsletter"))
    assert again.status_code != 303
    ballot = Ballot.objects.get()
    assert (ballot.source, ballot.choice) == (Ballot.Source.NEWSLETTER, envoy)
    assert poll.choices.get(pk=envoy.pk).votes == 1


@pytest.mark.django_db
def test_a_source_no_link_carries_is_refused_and_counts_nothing():
    poll = make_poll()
    choice = poll.choices.first()
    url = reverse("polls:vote", args=[poll.slug])
    response = Client().post(url, vote_form(poll, choice=choice.pk, source="embed"))
    assert response.status_code == 400
    assert "This voting link is not valid" in response.content.decode()
    assert not Ballot.objects.exists()
    # On the page a link opens, an unknown source is simply not carried.
    page = Client().get(f"{poll.get_absolute_url()}?choice={choice.pk}&source=embed").content
    assert b'value="embed"' not in page


@pytest.mark.django_db
def test_the_polls_admin_page_has_the_blocks_and_counts_newsletter_votes_apart(admin_client):
    poll = make_poll()
    choice = poll.choices.first()
    url = reverse("polls:vote", args=[poll.slug])
    Client().post(url, vote_form(poll, choice=choice.pk, source="newsletter"))
    Client().post(url, vote_form(poll, choice=choice.pk))

    page = admin_client.get(reverse("admin:polls_poll_change", args=[poll.pk])).content.decode()
    assert 'id="poll-newsletter"' in page
    assert "source=newsletter" in page
    sources = re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td><td class=\"numeric\">(\d+)", page)
    assert ("Newsletter", "Our poll page, from a newsletter link", "1") in sources
    assert ("Poll page", "Our poll page", "1") in sources


@pytest.mark.django_db
def test_the_admin_previews_the_block_in_a_frame_of_its_own_that_runs_nothing(admin_client):
    poll = make_poll()
    url = reverse("admin:polls_poll_newsletter_preview", args=[poll.pk])
    page = admin_client.get(reverse("admin:polls_poll_change", args=[poll.pk])).content.decode()
    frames = re.findall(r'<iframe class="newsletter-preview"[^>]*>', page)
    assert [re.search(r'src="([^"]*)"', frame).group(1) for frame in frames] == [
        url,
        url + "?results=1",
    ]
    assert all('sandbox=""' in frame for frame in frames)

    preview = admin_client.get(url + "?results=1")
    assert preview.status_code == 200
    assert f"/polls/{poll.slug}/card.png" in preview.content.decode()
    policy = preview["Content-Security-Policy"]
    assert "style-src 'unsafe-inline'" in policy
    assert "script-src 'none'" in policy
    assert "frame-ancestors 'self'" in policy
    assert preview["X-Frame-Options"] == "SAMEORIGIN"
    # Readers are sent to sign in.
    assert Client().get(url).status_code == 302


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_reader_follows_a_link_from_the_mail_and_votes_once(browser, live_server, tmp_path):
    poll = make_poll("Which proxy do you run at the edge?", ("Envoy", "NGINX", "HAProxy"))
    Poll.objects.filter(pk=poll.pk).update(results_shown=Poll.ResultsShown.ALWAYS)
    mail = tmp_path / "newsletter.html"
    mail.write_text(as_document(newsletter_block(live_server.url, poll, with_results=True)))
    context = browser.new_context(viewport={"width": 700, "height": 900})
    page = context.new_page()

    # The mail as a static file, its image from our site.
    page.goto(mail.as_uri())
    card = page.get_by_role("img", name="Results so far: Which proxy do you run at the edge?")
    card.wait_for()
    page.wait_for_function("document.images[0].complete && document.images[0].naturalWidth > 0")
    assert page.evaluate("[document.images[0].naturalWidth, document.images[0].naturalHeight]") == [
        1200,
        630,
    ]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "newsletter-block.png", full_page=True)

    page.get_by_role("link", name="HAProxy").click()
    page.wait_for_url(re.compile(r"/polls/.+/\?choice=\d+&source=newsletter$"))
    assert page.get_by_label("HAProxy").is_checked()
    assert not Ballot.objects.exists(), "following the link counted nothing"
    page.screenshot(path=SCREENSHOTS / "newsletter-poll-page.png", full_page=True)

    page.get_by_role("button", name="Vote").click()
    page.get_by_text("Thank you, your vote has been counted.").wait_for()
    ballot = Ballot.objects.get()
    assert (ballot.source, ballot.choice.text) == (Ballot.Source.NEWSLETTER, "HAProxy")
    context.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("editors_group")
def test_an_editor_sees_the_block_with_its_card_beside_the_embed_snippets(browser, live_server):
    poll = make_poll("Which proxy do you run at the edge?", ("Envoy", "NGINX", "HAProxy"))
    context, page = signed_in_editor_page(browser, live_server)
    page.goto(live_server.url + reverse("admin:polls_poll_change", args=[poll.pk]))
    section = page.locator("#poll-newsletter")
    section.scroll_into_view_if_needed()
    preview = page.frame_locator("iframe.newsletter-preview").nth(1)
    card = preview.get_by_role("img", name="Results so far: Which proxy do you run at the edge?")
    card.wait_for()
    assert card.evaluate("image => image.complete && image.naturalWidth") == 1200
    assert preview.get_by_role("link", name="HAProxy").is_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    section.screenshot(path=SCREENSHOTS / "admin-newsletter.png")
    context.close()
