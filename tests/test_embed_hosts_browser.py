"""The poll where publishers paste it, each host rebuilt from what its CMS does with our oEmbed
answer or snippet, in Chromium with third-party cookies blocked (its default for a cross-site
frame). The hosts are on http://127.0.0.1:<port>, the poll site on http://localhost:<port>.

- WordPress: wp_filter_oembed_result() in wp-includes/embed.php filters the html of a provider
  not on its list (rebuilt in tests/cms_hosts.py), and WordPress 5.9+ loads
  wp-includes/js/wp-embed.js beside it, whose behaviour WP_EMBED_HOST_SCRIPT reproduces: a
  sandboxed frame without forms, cookies or an origin, kept hidden until it posts a message with
  its secret, then sized by its "height" messages (200 to 1000 px).
- Drupal core's media module: OEmbedFormatter renders an iframe of the host's own
  /media/oembed page, at the width and height of our answer, and that page holds our html as is.
- Ghost's embed card: our html as is, inside a <figure class="kg-card kg-embed-card">.
- Plain HTML: our iframe snippet, and the script loader, in columns from 320 to 720 px.

In each: the widget fits before the vote, a reader votes, the results fit without scrolling
inside the frame, a reload shows "Your vote", and a second vote from another tab is refused.
"""

import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.management import call_command
from django.utils import timezone

from polls.models import Ballot, Poll, Theme
from polls.services import ballot_cast
from polls.snippets import iframe_snippet, loader_snippet
from tests.cms_hosts import (
    drupal_host,
    fits,
    ghost_host,
    in_view,
    loader_host,
    oembed,
    plain_iframe_host,
    widget_frame,
    wordpress_filter_oembed_result,
    wordpress_host,
)
from tests.helpers import counts, make_poll

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots" / "hosts"
# What a real WordPress and phones showed: the classic embed, the frame without JavaScript.
PHONE_SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "embed-hosts"
QUESTION = (
    "How has the recent turmoil within the OpenAI offices changed your plans to use GPT in a "
    "business process or product in 2024?"
)
CHOICES = (
    "Increased uncertainty means we are more likely to evaluate alternative AI chatbots and LLMs.",
    "No change in plans, though we will keep an eye on the situation.",
    "With Sam Altman back in charge, we are more likely to go all-in with GPT and LLMs.",
    "What recent turmoil?",
)
HOSTS = {
    "wordpress": wordpress_host,
    "drupal": drupal_host,
    "ghost": ghost_host,
    "plain-iframe": plain_iframe_host,
    "script-loader": loader_host,
}


@pytest.mark.parametrize("host", HOSTS)
def test_a_reader_votes_in_each_cms_host(browser, live_server, host_site, host):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    poll = make_poll(QUESTION, CHOICES)
    url = HOSTS[host](host_site, live_server, poll)
    context = browser.new_context(viewport={"width": 1024, "height": 900})
    page, other_tab = context.new_page(), context.new_page()
    page.goto(url)
    other_tab.goto(url)

    frame = widget_frame(page)
    frame.get_by_role("group", name=QUESTION).wait_for()
    assert fits(frame), "the form does not fit its frame"
    assert in_view(frame, "vote")
    page.screenshot(path=SCREENSHOTS / f"{host}-form.png", full_page=True)

    frame.get_by_label("What recent turmoil?").check()
    frame.get_by_role("button", name="Vote").click()
    frame.get_by_text("Thank you, your vote was counted.").wait_for()
    assert frame.locator(".poll-result.is-mine").get_by_text("What recent turmoil?").is_visible()
    assert fits(frame), "the results do not fit their frame"
    assert in_view(frame, ".poll-results__total")
    page.screenshot(path=SCREENSHOTS / f"{host}-results.png", full_page=True)
    ballot = Ballot.objects.get()
    sandboxed = host == "wordpress"
    assert ballot.source == (Ballot.Source.EMBED_SANDBOXED if sandboxed else Ballot.Source.EMBED)
    assert ballot.host_origin == host_site.url
    assert counts(poll)["What recent turmoil?"] == 1

    page.reload()
    frame = widget_frame(page)
    frame.locator(".poll-result.is-mine").get_by_text("What recent turmoil?").wait_for()
    assert frame.locator("form").is_hidden()
    assert fits(frame)

    other = widget_frame(other_tab)
    other.get_by_label("No change in plans, though we will keep an eye on the situation.").check()
    other.get_by_role("button", name="Vote").click()
    other.get_by_text("You have already voted in this poll.").wait_for()
    assert other.locator(".poll-result.is-mine").get_by_text("What recent turmoil?").is_visible()
    assert Ballot.objects.count() == 1 and sum(counts(poll).values()) == 1
    context.close()


def test_a_keyboard_reader_votes_in_the_sandboxed_wordpress_frame(browser, live_server, host_site):
    poll = make_poll(QUESTION, CHOICES)
    url = wordpress_host(host_site, live_server, poll)
    page = browser.new_context().new_page()
    page.goto(url)
    frame = widget_frame(page)
    frame.get_by_role("group", name=QUESTION).wait_for()
    # The fallback link is hidden once the widget has spoken; the frame is shown.
    assert page.locator("blockquote.wp-embedded-content").is_hidden()
    assert page.locator("iframe.wp-embedded-content").get_attribute("style") is None
    for _ in range(12):
        page.keyboard.press("Tab")
        if frame.evaluate("document.activeElement.name") == "choice":
            break
    page.keyboard.press("ArrowDown")  # the second answer
    page.keyboard.press("Tab")
    assert frame.evaluate("document.activeElement.textContent") == "Vote"
    page.keyboard.press("Enter")
    frame.get_by_text("Thank you, your vote was counted.").wait_for()
    assert Ballot.objects.get().choice.text == CHOICES[1]
    # Focus moves to the results, so a keyboard or screen reader user lands on them.
    assert frame.evaluate("document.activeElement.getAttribute('aria-label')") == "Results"
    page.context.close()


def test_the_wordpress_frame_grows_to_the_results_and_links_through_the_host(
    browser, live_server, host_site
):
    poll = make_poll(QUESTION, CHOICES)
    url = wordpress_host(host_site, live_server, poll)
    page = browser.new_context(viewport={"width": 1024, "height": 900}).new_page()
    page.goto(url)
    frame = widget_frame(page)
    frame.get_by_role("group", name=QUESTION).wait_for()
    iframe = page.locator("iframe.wp-embedded-content")
    content = frame.evaluate("document.documentElement.scrollHeight")
    assert abs(int(iframe.get_attribute("height")) - content) <= 1
    frame.get_by_label(CHOICES[0]).check()
    frame.get_by_role("button", name="Vote").click()
    frame.get_by_text("Thank you, your vote was counted.").wait_for()
    assert fits(frame)
    # Live results work from the sandbox too: another reader's vote shows up.
    ballot_cast(poll=poll, choice=poll.choices.get(text=CHOICES[1]), voter_hash="another-reader")
    frame.get_by_text("2 votes in total", exact=True).wait_for(timeout=15_000)
    # A link asks the host to navigate the page: the sandbox allows no popups.
    with page.expect_navigation():
        frame.get_by_role("link", name="Full results and related articles").click()
    assert page.url == live_server.url + poll.get_results_url()
    page.context.close()


@pytest.mark.parametrize("column", [320, 375, 500, 600, 720])
def test_the_plain_iframe_fits_from_phones_to_wide_columns(browser, live_server, host_site, column):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    poll = make_poll(QUESTION, CHOICES)
    # The column is the frame's width: the article's padding is outside it.
    url = plain_iframe_host(host_site, live_server, poll, column=column)
    page = browser.new_context(viewport={"width": column + 32, "height": 900}).new_page()
    page.goto(url)
    frame = widget_frame(page)
    frame.get_by_role("group", name=QUESTION).wait_for()
    assert frame.frame_element().bounding_box()["width"] == pytest.approx(column, abs=1)
    assert fits(frame) and in_view(frame, "vote")
    frame.get_by_label(CHOICES[2]).check()
    frame.get_by_role("button", name="Vote").click()
    frame.get_by_text("Thank you, your vote was counted.").wait_for()
    assert fits(frame) and in_view(frame, ".poll-results__total")
    page.screenshot(path=SCREENSHOTS / f"plain-iframe-{column}.png", full_page=True)
    page.context.close()


def test_oembed_heights_fit_the_widget_at_the_width_they_were_asked_for(
    browser, live_server, host_site
):
    """A host that keeps our declared size exactly (Drupal's frame, a Ghost card) shows every
    state without compacting, at each width it may ask for."""
    poll = make_poll(QUESTION, CHOICES)
    context = browser.new_context(viewport={"width": 1024, "height": 1200})
    page = context.new_page()
    for width in (320, 375, 500, 600):
        answer = oembed(live_server, poll, maxwidth=str(width))
        frame_html = re.search(r"<iframe.*?</iframe>", answer["html"]).group(0)
        # The frame fills its column: a column of the width asked for.
        column = f'<div style="width:{answer["width"]}px">{frame_html}</div>'
        page.goto(host_site.article(f"/sized-{width}.html", column))
        frame = widget_frame(page)
        frame.get_by_role("group", name=QUESTION).wait_for()
        assert fits(frame), width
        assert not frame.evaluate("document.documentElement.className"), width
        frame.get_by_label(CHOICES[0]).check()
        frame.get_by_role("button", name="Vote").click()
        frame.locator(".widget__results").wait_for()
        assert fits(frame), width
        assert not frame.evaluate("document.documentElement.className"), width
        context.clear_cookies()


def test_every_widget_state_renders_inside_the_frame(browser, live_server, host_site):
    draft = make_poll("A draft?", ("Yes", "No"), state="draft")
    closed = make_poll("A closed poll?", ("Yes", "No"), state="closed")
    frames = "".join(
        f'<iframe src="{live_server.url}/polls/{slug}/embed/" title="{slug}" width="500"'
        ' height="300"></iframe>'
        for slug in ("no-such-poll", draft.slug, closed.slug)
    )
    page = browser.new_context().new_page()
    page.goto(host_site.article("/states.html", frames), wait_until="load")
    unknown, drafted, closed_frame = page.frames[1:4]
    for frame in (unknown, drafted):
        assert "This poll is not available" in frame.locator(".widget__notice").inner_text()
    assert "This poll is closed." in closed_frame.locator(".poll-results__total").inner_text()
    page.screenshot(path=SCREENSHOTS / "states.png", full_page=True)
    page.context.close()


def test_the_loader_leaves_a_link_where_it_cannot_run(browser, live_server, host_site):
    poll = make_poll(QUESTION, CHOICES)
    snippet = loader_snippet(live_server.url, poll)
    # A host whose Content-Security-Policy does not list the poll site's script.
    head = '<meta http-equiv="Content-Security-Policy" content="script-src \'self\'">'
    page = browser.new_context().new_page()
    page.goto(host_site.article("/strict.html", snippet, head=head), wait_until="load")
    link = page.get_by_role("link", name=QUESTION)
    assert link.get_attribute("href") == live_server.url + poll.get_absolute_url()
    assert page.locator("iframe").count() == 0

    # Where it runs, the frame is named by the poll's question, one title per poll.
    second = make_poll("Second poll on the page?", ("Yes", "No"))
    snippets = snippet + loader_snippet(live_server.url, second)
    page.goto(host_site.article("/two.html", snippets))
    widget_frame(page)
    page.wait_for_function("document.querySelectorAll('iframe[data-poll-frame]').length == 2")
    titles = [page.locator("iframe").nth(i).get_attribute("title") for i in range(2)]
    assert titles == [f"Reader poll: {QUESTION}", "Reader poll: Second poll on the page?"]
    page.context.close()


def test_a_page_that_posts_a_form_or_fetches_from_elsewhere_cannot_vote(browser, live_server):
    """A hostile page's own sandboxed frame sends Origin: null too, but only a script's fetch
    with a fresh single-use token counts; forms posted across sites are refused."""
    poll = make_poll("Hostile?", ("Yes", "No"))
    page = browser.new_context().new_page()
    page.goto(live_server.url + "/embed.js")  # any page of ours, for a same-site token fetch
    token = page.evaluate(
        "(url) => fetch(url, {method: 'POST'}).then(r => r.json()).then(b => b.token)",
        live_server.url + f"/polls/{poll.slug}/embed/token/",
    )
    choice = poll.choices.get(text="Yes").pk
    attack = f"""<form method="post" action="{live_server.url}/polls/{poll.slug}/embed/vote/">
      <input name="choice" value="{choice}"><input name="token" value="{token}"></form>
      <script>document.forms[0].submit()</script>"""
    page.goto("data:text/html," + quote(attack))
    page.wait_for_url(re.compile("/embed/vote/$"))
    assert "Votes can only be cast from the poll itself" in page.content()
    assert Ballot.objects.count() == 0
    page.context.close()


def test_sandboxed_votes_can_be_turned_off(browser, live_server, host_site, settings):
    settings.EMBED_SANDBOXED_VOTES = False
    poll = make_poll("Sandboxed?", ("Yes", "No"))
    page = browser.new_context().new_page()
    page.goto(wordpress_host(host_site, live_server, poll))
    frame = widget_frame(page)
    frame.get_by_label("Yes").check()
    frame.get_by_role("button", name="Vote").click()
    frame.get_by_text("Votes cannot be cast from this page. Nothing was counted.").wait_for()
    assert Ballot.objects.count() == 0
    page.context.close()


def test_the_wordpress_rebuild_matches_what_wordpress_makes_of_an_answer():
    result = (
        '<blockquote class="x"><a href="https://p.example/polls/a/">Q?</a></blockquote>'
        '<iframe src="https://p.example/polls/a/embed/" title="T" width="500" height="600"'
        ' loading="lazy" style="border:0"></iframe><script src="https://p.example/embed.js">'
        "</script>"
    )
    assert wordpress_filter_oembed_result(result, "abcdefghij") == (
        '<blockquote class="wp-embedded-content" data-secret="abcdefghij">'
        '<a href="https://p.example/polls/a/">Q?</a></blockquote>'
        '<iframe class="wp-embedded-content" sandbox="allow-scripts" security="restricted"'
        ' style="position: absolute; visibility: hidden;"'
        ' src="https://p.example/polls/a/embed/#?secret=abcdefghij" data-secret="abcdefghij"'
        ' title="T" width="500" height="600"></iframe>'
    )


def test_a_click_on_a_transparent_widget_casts_nothing_until_confirmed_on_a_visible_one(
    browser, live_server, host_site
):
    """Likejacking: a hostile page lays the widget, nearly transparent, under its own button."""
    poll = make_poll("Clickjacked?", ("Yes", "No"))
    frame_html = iframe_snippet(live_server.url, poll).replace(
        'style="border:0;max-width:100%"', 'id="poll" style="border:0;opacity:0.02"'
    )
    page = browser.new_context().new_page()
    page.goto(host_site.article("/prize.html", frame_html))
    frame = widget_frame(page)
    frame.get_by_label("Yes").check()
    page.wait_for_timeout(300)  # the visibility observer reports at most every 100 ms
    frame.locator("[data-vote]").click()
    frame.get_by_text("If you meant to vote, please confirm.").wait_for()
    # A second click while still invisible is refused too: nothing was sent.
    frame.get_by_role("button", name="Confirm my vote").click()
    frame.get_by_text("your vote cannot be confirmed here").wait_for()
    assert Ballot.objects.count() == 0

    # Once the reader can really see it, their confirmation counts, marked for the editors.
    page.evaluate("document.getElementById('poll').style.opacity = '1'")
    page.wait_for_timeout(300)
    frame.get_by_role("button", name="Confirm my vote").click()
    frame.get_by_text("Thank you, your vote was counted.").wait_for()
    ballot = Ballot.objects.get()
    assert ballot.frame_visibility == Ballot.FrameVisibility.CONFIRMED
    assert ballot.host_origin == host_site.url
    page.context.close()


def test_a_vote_on_a_visible_widget_is_recorded_as_seen(browser, live_server, host_site):
    poll = make_poll("Seen?", ("Yes", "No"))
    page = browser.new_context().new_page()
    page.goto(loader_host(host_site, live_server, poll))
    frame = widget_frame(page)
    frame.get_by_label("No").check()
    page.wait_for_timeout(300)
    frame.get_by_role("button", name="Vote").click()
    frame.get_by_text("Thank you, your vote was counted.").wait_for()
    assert Ballot.objects.get().frame_visibility == Ballot.FrameVisibility.VISIBLE
    page.context.close()


@pytest.mark.parametrize("width", [320, 375, 414])
def test_the_wordpress_classic_embed_fits_a_phone_without_a_border(
    browser, live_server, host_site, width
):
    """WordPress strips the frame's style (max-width, border): the frame's own attributes must
    keep it inside a phone's column and without the browser's inset border."""
    PHONE_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    poll = make_poll(QUESTION, CHOICES)
    url = wordpress_host(host_site, live_server, poll)
    page = browser.new_context(viewport={"width": width, "height": 800}).new_page()
    page.goto(url)
    frame = widget_frame(page)
    frame.get_by_role("group", name=QUESTION).wait_for()
    iframe = page.locator("iframe.wp-embedded-content")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    box = iframe.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width
    borders = iframe.evaluate(
        "(f) => ['Top', 'Right', 'Bottom', 'Left'].map((side) =>"
        " getComputedStyle(f)['border' + side + 'Width'])"
    )
    assert borders == ["0px"] * 4
    assert fits(frame)
    for choice in CHOICES:  # none cut at the frame's right edge
        label = frame.locator(".widget__choice", has_text=choice)
        right = label.evaluate("(e) => e.getBoundingClientRect().right")
        assert right <= box["width"]
    page.screenshot(path=PHONE_SCREENSHOTS / f"wordpress-classic-{width}.png", full_page=True)
    page.context.close()


def poll_in_state(state: str) -> Poll:
    """The seeded poll's texts in each state a frame without JavaScript can show."""
    poll = make_poll(QUESTION, CHOICES)
    if state == "results-always":
        poll.results_shown = Poll.ResultsShown.ALWAYS
        poll.save()
    for number, choice in enumerate(poll.choices.all()):
        for reader in range(number + 1):
            ballot_cast(poll=poll, choice=choice, voter_hash=f"reader-{number}-{reader}")
    return poll


def leave_state(poll: Poll, state: str) -> None:
    """What happens to a poll after its snippet was pasted: it closes, or is taken down."""
    if state == "closed":
        poll.closes_at = timezone.now() - timedelta(minutes=1)
        poll.save()
    elif state == "unavailable":
        poll.status = Poll.Status.DRAFT
        poll.save()


NO_SCRIPT_STATES = ("form", "results-always", "closed", "unavailable")


@pytest.mark.parametrize("width", [320, 375, 414])
def test_without_javascript_the_plain_iframe_shows_each_state_whole_on_a_phone(
    browser, live_server, host_site, width
):
    """The frame keeps the height the snippet declared; without script nothing compacts the
    widget, so its own CSS must fit every state into that height on a phone."""
    PHONE_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(
        viewport={"width": width, "height": 1400}, java_script_enabled=False
    )
    page = context.new_page()
    for state in NO_SCRIPT_STATES:
        poll = poll_in_state(state)
        snippet = iframe_snippet(live_server.url, poll)
        leave_state(poll, state)
        column = width - 32  # the article's padding
        page.goto(host_site.article(f"/no-script-{state}.html", snippet, column=column))
        frame = widget_frame(page)
        assert frame.frame_element().bounding_box()["width"] == pytest.approx(column, abs=1)
        assert fits(frame), f"{state} at {width} px: cut off or scrolling inside its frame"
        last = ".widget__notice" if state == "unavailable" else ".widget__actions"
        if state in ("results-always", "closed"):
            last = ".widget__footer"
        assert in_view(frame, last), f"{state} at {width} px: {last} out of view"
        page.screenshot(path=PHONE_SCREENSHOTS / f"no-script-{state}-{width}.png", full_page=True)
    context.close()


def test_a_referrer_cut_to_the_host_origin_is_stored_as_page_unknown(
    browser, live_server, host_site, admin_client
):
    """The plain iframe knows its host only from the referrer, which browsers cut to the
    origin across sites: its "/" is no page the reader was seen on."""
    poll = make_poll("Which page?", ("Yes", "No"))
    page = browser.new_context().new_page()
    page.goto(plain_iframe_host(host_site, live_server, poll))
    frame = widget_frame(page)
    assert frame.evaluate("document.referrer") == host_site.url + "/"
    frame.get_by_label("Yes").check()
    frame.get_by_role("button", name="Vote").click()
    frame.get_by_text("Thank you, your vote was counted.").wait_for()
    ballot = Ballot.objects.get()
    assert (ballot.host_origin, ballot.host_path) == (host_site.url, "")
    page.context.close()
    change_page = admin_client.get(f"/admin/polls/ballot/{ballot.pk}/change/")
    assert "page unknown (the host sent only its address)" in change_page.content.decode()


def test_the_widget_tells_a_refusal_from_a_network_failure(browser, live_server, host_site):
    poll = make_poll("Refused?", ("Yes", "No"))
    page = browser.new_context().new_page()
    page.goto(plain_iframe_host(host_site, live_server, poll))
    frame = widget_frame(page)
    frame.get_by_label("Yes").check()
    answers = {
        "refused in JSON": lambda route: route.fulfill(
            status=403, json={"ok": False, "message": "Votes cannot be cast from this page."}
        ),
        "refused by a proxy": lambda route: route.fulfill(
            status=413, content_type="text/html", body="<h1>Request Entity Too Large</h1>"
        ),
        "no answer": lambda route: route.abort(),
    }
    shown = {}
    for case, answer in answers.items():
        page.context.route("**/embed/vote/", answer)
        frame.get_by_role("button", name="Vote").click()
        notice = frame.locator("[data-notice]")
        notice.wait_for()
        frame.locator("[data-vote]:not([disabled])").wait_for()
        shown[case] = notice.inner_text()
        page.context.unroute("**/embed/vote/")
    assert shown == {
        "refused in JSON": "Votes cannot be cast from this page.",
        "refused by a proxy": "The poll did not accept this vote (error 413). Nothing was counted.",
        "no answer": "The poll could not be reached. Please try again.",
    }
    assert Ballot.objects.count() == 0
    page.context.close()


# The example themes of the demo content (polls/demo_content.json), as publishers ask for them.
THEME_SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "themes"
CMS_HOSTS = {"wordpress": wordpress_host, "drupal": drupal_host, "ghost": ghost_host}


def seeded_poll_and_theme(slug: str) -> tuple[Poll, Theme]:
    call_command("seed")
    return Poll.objects.get(question=QUESTION), Theme.objects.get(slug=slug)


def shows_theme(frame, theme: Theme, scheme: str) -> None:
    colours = theme.colours(scheme)
    shown = frame.evaluate(
        """() => { const body = getComputedStyle(document.body);
                   const vote = document.querySelector('.widget__vote');
                   return [body.backgroundColor, body.color, body.fontFamily,
                           vote && getComputedStyle(vote).backgroundColor]; }"""
    )
    assert shown[:2] == [rgb(colours["bg"]), rgb(colours["fg"])]
    assert shown[2].split(",")[0].strip('"') == theme.font_stack.split(",")[0].strip('"')
    if shown[3]:
        assert shown[3] == rgb(colours["accent"])


def rgb(colour: str) -> str:
    return "rgb({}, {}, {})".format(*(int(colour[i : i + 2], 16) for i in (1, 3, 5)))


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("host", CMS_HOSTS)
@pytest.mark.parametrize("theme_slug", ["night-desk", "broadsheet"])
def test_each_example_theme_shows_in_each_cms_host(
    browser, live_server, host_site, theme_slug, host, scheme
):
    """oEmbed's theme and scheme reach the frame through WordPress's filter, Drupal's nested
    frame and Ghost's card; the reader's own setting is the other scheme."""
    THEME_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    poll, theme = seeded_poll_and_theme(theme_slug)
    url = CMS_HOSTS[host](host_site, live_server, poll, {"theme": theme_slug, "scheme": scheme})
    reader = "dark" if scheme == "light" else "light"
    context = browser.new_context(viewport={"width": 1024, "height": 900}, color_scheme=reader)
    page = context.new_page()
    page.goto(url)
    frame = widget_frame(page)
    frame.get_by_role("group", name=QUESTION).wait_for()
    shows_theme(frame, theme, scheme)
    assert fits(frame)
    page.screenshot(path=THEME_SCREENSHOTS / f"{theme_slug}-{host}-{scheme}.png", full_page=True)
    frame.get_by_label("What recent turmoil?").check()
    frame.get_by_role("button", name="Vote").click()
    frame.get_by_text("Thank you, your vote was counted.").wait_for()
    shows_theme(frame, theme, scheme)
    assert fits(frame)
    page.screenshot(
        path=THEME_SCREENSHOTS / f"{theme_slug}-{host}-{scheme}-results.png", full_page=True
    )
    context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("theme_slug", ["night-desk", "broadsheet"])
def test_each_example_theme_fits_a_phone_from_the_loaders_attributes(
    browser, live_server, host_site, theme_slug, scheme
):
    THEME_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    poll, theme = seeded_poll_and_theme(theme_slug)
    loader = loader_snippet(live_server.url, poll).replace(
        "<div data-poll=", f'<div data-theme="{theme_slug}" data-color-scheme="{scheme}" data-poll='
    )
    url = host_site.article(f"/themed-{theme_slug}-{scheme}.html", loader)
    context = browser.new_context(viewport={"width": 375, "height": 812}, is_mobile=True)
    page = context.new_page()
    page.goto(url)
    frame = widget_frame(page)
    frame.get_by_role("group", name=QUESTION).wait_for()
    assert f"?theme={theme_slug}&scheme={scheme}" in frame.url
    shows_theme(frame, theme, scheme)
    assert fits(frame)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.screenshot(path=THEME_SCREENSHOTS / f"{theme_slug}-phone-375-{scheme}.png", full_page=True)
    frame.get_by_label("What recent turmoil?").check()
    frame.get_by_role("button", name="Vote").click()
    frame.get_by_text("Thank you, your vote was counted.").wait_for()
    assert fits(frame)
    page.screenshot(
        path=THEME_SCREENSHOTS / f"{theme_slug}-phone-375-{scheme}-results.png", full_page=True
    )
    context.close()


@pytest.mark.parametrize(
    ("head", "shown"),
    [
        ('<meta name="color-scheme" content="dark">', "dark"),
        ("<style>:root{color-scheme:light}</style>", "light"),
        ('<meta name="color-scheme" content="light dark">', "auto"),
    ],
)
def test_the_loader_follows_the_host_pages_own_color_scheme_when_asked_for_auto(
    browser, live_server, host_site, head, shown
):
    poll, theme = seeded_poll_and_theme("broadsheet")
    loader = loader_snippet(live_server.url, poll).replace(
        "<div data-poll=", '<div data-theme="broadsheet" data-color-scheme="auto" data-poll='
    )
    url = host_site.article(f"/host-scheme-{shown}.html", loader, head=head)
    page = browser.new_context(color_scheme="light").new_page()
    page.goto(url)
    frame = widget_frame(page)
    assert f"scheme={shown}" in frame.url
    shows_theme(frame, theme, "light" if shown == "auto" else shown)
    page.context.close()
