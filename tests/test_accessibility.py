"""Every reader page and the widget, checked in Chromium by axe-core (WCAG 2.2 AA), by keyboard
alone, and at phone to desktop widths; screenshots of each page and width are kept for review."""

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from polls.models import Ballot, Poll, Theme
from tests.helpers import make_poll, seed_reader_pages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots" / "a11y"
WIDTHS = [320, 768, 1440]


@pytest.fixture
def site(live_server) -> dict[str, str]:
    """The seeded poll and its interview, a closed poll for the archive: name -> URL."""
    article = seed_reader_pages()
    poll = article.poll
    return {
        "index": live_server.url + "/",
        "archive": live_server.url + "/polls/archive/",
        "poll": live_server.url + poll.get_absolute_url(),
        "results": live_server.url + poll.get_results_url(),
        "article": live_server.url + article.get_absolute_url(),
        "widget": live_server.url + f"/polls/{poll.slug}/embed/",
        "not-found": live_server.url + "/polls/no-such-poll/",
    }


def axe_violations(page) -> list[str]:
    report = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_22_AA
    )
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        + ", ".join(" ".join(node["target"]) for node in violation["nodes"])
        for violation in report["violations"]
    ]


def vote_on_the_poll_page(page, url: str) -> None:
    page.goto(url)
    page.get_by_label("What recent turmoil?").check()
    page.get_by_role("button", name="Vote").click()
    page.get_by_text("Thank you, your vote has been counted.").wait_for()


def vote_in_the_widget(page, url: str) -> None:
    page.goto(url)
    page.get_by_label("No change in plans").check()
    page.get_by_role("button", name="Vote").click()
    page.get_by_text("Thank you, your vote was counted.").wait_for()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_it_has_no_wcag_violations_before_and_after_voting(browser, site, scheme):
    context = browser.new_context(color_scheme=scheme, viewport={"width": 1280, "height": 900})
    # Loaded into every document as the browser's own script: the pages' CSP allows no inline
    # script, and the test should not weaken it.
    context.add_init_script(path=AXE)
    page = context.new_page()
    found: dict[str, list[str]] = {}

    def check(label: str) -> None:
        page.wait_for_load_state("load")
        if violations := axe_violations(page):
            found[label] = violations

    for name, url in site.items():
        page.goto(url)
        check(f"{name} before voting")
    # Editors can show the results beside the form, before a reader votes.
    Poll.objects.update(results_shown="always")
    for name in ("poll", "article", "widget"):
        page.goto(site[name] + "?again")  # the widget is cacheable: another address
        check(f"{name} with results before voting")
    Poll.objects.update(results_shown="after_voting")

    vote_on_the_poll_page(page, site["poll"])
    check("results right after voting")
    for name in ("results", "article", "index"):
        page.goto(site[name])
        check(f"{name} after voting")
    vote_in_the_widget(page, site["widget"])
    check("widget right after voting")
    page.goto(site["widget"])
    check("widget after voting")

    context.close()
    assert not found, json.dumps(found, indent=2)


def test_a_keyboard_user_votes_in_the_widget_and_hears_the_result(browser, site):
    page = browser.new_context().new_page()
    page.goto(site["widget"])
    announce = page.locator("[data-announce]")
    assert announce.inner_text() == ""

    # Tab lands on the radio group, the arrow keys pick an answer, Enter votes.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.type") == "radio"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    focused = page.evaluate("document.activeElement.labels[0].textContent.trim()")
    assert page.evaluate("document.activeElement.checked")
    page.keyboard.press("Enter")

    page.get_by_text("Thank you, your vote was counted.").wait_for()
    expect(announce).to_have_text("You voted. 1 vote in total.")
    assert Ballot.objects.get().choice.text == focused
    # The figures read as words, not "100%1 vote".
    mine = page.get_by_role("listitem").filter(has_text=focused).inner_text()
    assert re.search(r"100%\s1 vote$", mine), mine
    page.context.close()


def test_a_keyboard_user_votes_on_the_poll_page(browser, site):
    page = browser.new_context().new_page()
    page.goto(site["poll"])
    poll = Poll.objects.get(articles__isnull=False)

    # Skip link, masthead, two navigation links, then the first answer.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.type") == "radio"
    page.keyboard.press("ArrowDown")
    chosen = page.evaluate("document.activeElement.labels[0].textContent.trim()")
    page.keyboard.press("Enter")

    page.wait_for_url(site["results"])
    status = page.get_by_role("status")
    assert status.inner_text() == "Thank you, your vote has been counted."
    assert page.get_by_role("meter", name=chosen).get_attribute("aria-valuenow") == "100"
    assert Ballot.objects.get(poll=poll).choice.text == chosen
    page.context.close()


def targets_smaller_than_24px(page) -> list[str]:
    """Buttons, form controls and links that stand alone (not inside a sentence) must be at
    least 24 by 24 CSS pixels (WCAG 2.5.8). A radio button counts with its label, which is
    the target a reader taps; the skip link is measured when it shows, on focus."""
    return page.evaluate(
        """() => [...document.querySelectorAll(
            'a, button, input:not([type=hidden]), summary, textarea, label:has(input),'
            + '.form-check-label')]
          .filter(el => el.getClientRects().length && getComputedStyle(el).display !== 'inline')
          .filter(el => !el.matches('.visually-hidden-focusable:not(:focus)'))
          .map(el => [el, el.getBoundingClientRect()])
          .filter(([el, box]) => box.width < 24 || box.height < 24)
          .filter(([el]) => !(el.type === 'radio' && el.closest('label, .form-check')))
          .map(([el, box]) => `${el.outerHTML.slice(0, 80)} ${box.width}x${box.height}`)"""
    )


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", WIDTHS)
def test_screenshots_fit_every_width_without_horizontal_scrolling(browser, site, width, scheme):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": width, "height": 900}, color_scheme=scheme)
    page = context.new_page()
    problems: dict[str, object] = {}

    def shoot(name: str) -> None:
        page.wait_for_load_state("load")
        page.screenshot(path=SCREENSHOTS / f"{name}-{width}-{scheme}.png", full_page=True)
        too_wide = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        if too_wide > 0:
            problems[f"{name} scrolls sideways by {too_wide}px"] = True
        if small := targets_smaller_than_24px(page):
            problems[f"{name} small targets"] = small

    for name, url in site.items():
        page.goto(url)
        shoot(name)
    Poll.objects.update(results_shown="always")
    for name in ("poll", "widget"):
        page.goto(site[name] + "?again")  # the widget is cacheable: another address
        page.get_by_text("0 votes in total").wait_for()
        shoot(f"{name}-with-results")
    Poll.objects.update(results_shown="after_voting")
    vote_on_the_poll_page(page, site["poll"])
    shoot("results-voted")
    page.goto(site["article"])
    shoot("article-voted")
    vote_in_the_widget(page, site["widget"])
    shoot("widget-voted")
    context.close()
    assert not problems, json.dumps(problems, indent=2)


def test_the_sidebar_moves_below_the_results_on_narrow_screens(browser, site):
    for width, below in ((320, True), (1440, False)):
        page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
        page.goto(site["results"])
        results = page.locator(".poll-results").bounding_box()
        sidebar = page.get_by_role("complementary").bounding_box()
        assert (sidebar["y"] >= results["y"] + results["height"]) is below
        page.context.close()


def test_reduced_motion_turns_the_bar_animation_off(browser, site):
    for motion, animated in (("no-preference", True), ("reduce", False)):
        page = browser.new_context(reduced_motion=motion).new_page()
        page.goto(site["widget"])
        duration = page.evaluate(
            "getComputedStyle(document.querySelector('[data-fill]')).transitionDuration"
        )
        assert (duration != "0s") is animated, duration
        page.context.close()


def contrast(first: str, second: str) -> float:
    """WCAG contrast ratio of two computed colours, 'rgb(r, g, b)'."""

    def luminance(colour: str) -> float:
        channels = [int(c) / 255 for c in colour[colour.index("(") + 1 : -1].split(",")[:3]]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted([luminance(first), luminance(second)], reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_bars_stand_out_from_their_track(browser, site, scheme):
    page = browser.new_context(color_scheme=scheme).new_page()
    for vote in (vote_on_the_poll_page, vote_in_the_widget):
        vote(page, site["poll"] if vote is vote_on_the_poll_page else site["widget"])
        fills = page.evaluate(
            """() => [...document.querySelectorAll('.poll-result')].map(row => [
                getComputedStyle(row.querySelector('.poll-result__bar')).backgroundColor,
                getComputedStyle(row.querySelector('.poll-result__fill')).fill])"""
        )
        # Both bar colours: the reader's own vote and the others.
        assert len({fill for _, fill in fills}) == 2
        for track, fill in fills:
            assert contrast(track, fill) >= 3, (page.url, track, fill)
    page.context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_poll_options_have_no_wcag_violations(browser, live_server, scheme):
    """Several answers (checkboxes), shuffled answers with one kept last, and results held back
    until the close: on our pages and in the widget, before and after a vote."""
    poll = make_poll(
        "Which tools do you run in production?",
        ("Envoy", "NGINX", "HAProxy", "None of these"),
        slug="tools",
    )
    Poll.objects.filter(pk=poll.pk).update(
        max_answers=2, shuffle_choices=True, results_shown="after_close", percentages_only=True
    )
    poll.choices.filter(text="None of these").update(stays_last=True)
    context = browser.new_context(color_scheme=scheme, viewport={"width": 1280, "height": 900})
    context.add_init_script(path=AXE)
    page = context.new_page()
    found: dict[str, list[str]] = {}
    for name, url in (("poll", poll.get_absolute_url()), ("widget", f"/polls/{poll.slug}/embed/")):
        page.goto(live_server.url + url)
        page.wait_for_load_state("load")
        if violations := axe_violations(page):
            found[f"{name} before voting"] = violations
        page.get_by_label("Envoy").check()
        page.get_by_label("HAProxy").check()
        page.get_by_role("button", name="Vote").click()
        page.get_by_text(re.compile("Thank you")).wait_for()
        if violations := axe_violations(page):
            found[f"{name} after voting"] = violations
        context.clear_cookies()
    context.close()
    assert not found, json.dumps(found, indent=2)


def test_a_keyboard_user_picks_several_answers_in_visual_order(browser, live_server):
    poll = make_poll("Which tools?", ("Envoy", "NGINX", "HAProxy", "None"), slug="tools")
    Poll.objects.filter(pk=poll.pk).update(max_answers=2, shuffle_choices=True)
    poll.choices.filter(text="None").update(stays_last=True)
    page = browser.new_context().new_page()
    page.goto(live_server.url + f"/polls/{poll.slug}/embed/")
    seen = page.locator("input[name=choice]").evaluate_all(
        "inputs => inputs.map(i => i.labels[0].textContent.trim())"
    )
    assert seen[-1] == "None"  # kept last, whatever the reader's order
    tabbed = []
    for _ in seen:
        page.keyboard.press("Tab")
        tabbed.append(page.evaluate("document.activeElement.labels[0].textContent.trim()"))
    assert tabbed == seen  # keyboard order follows what is seen
    page.keyboard.press("Shift+Tab")  # back to the third answer
    page.keyboard.press("Space")
    page.keyboard.press("Shift+Tab")  # the second
    page.keyboard.press("Space")
    for _ in range(3):  # the third, the last, then the button
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Vote"
    page.keyboard.press("Enter")
    page.get_by_text("Thank you, your vote was counted.").wait_for()
    picks = Ballot.objects.get().picks.select_related("choice")
    assert sorted(pick.choice.text for pick in picks) == sorted(seen[1:3])
    page.context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_poll_with_a_write_in_box_has_no_wcag_violations(browser, live_server, scheme):
    """The "Other" box on the poll page (also with its error) and in the widget."""
    from polls.models import Choice

    poll = make_poll("Which proxy do you run at the edge?", ("Envoy", "NGINX"))
    Choice.objects.create(poll=poll, text="Other", position=3, is_write_in=True, stays_last=True)
    context = browser.new_context(color_scheme=scheme, viewport={"width": 1280, "height": 900})
    context.add_init_script(path=AXE)
    page = context.new_page()
    found: dict[str, list[str]] = {}
    for label, url in [
        ("poll page", live_server.url + poll.get_absolute_url()),
        ("widget", live_server.url + f"/polls/{poll.slug}/embed/"),
    ]:
        page.goto(url)
        page.wait_for_load_state("load")
        # The box is labelled by its choice, and typing in it picks that choice.
        page.get_by_label("Other: your own answer").fill("x" * 100)
        assert page.get_by_label("Other", exact=True).is_checked()
        if violations := axe_violations(page):
            found[label] = violations
    page.goto(live_server.url + poll.get_absolute_url())
    page.get_by_label("Envoy").check()
    page.get_by_label("Other: your own answer").fill("Linkerd")
    page.get_by_label("Envoy").check()  # back to another answer: the server refuses the text
    page.get_by_role("button", name="Vote").click()
    page.get_by_text("Your own answer counts only with “Other” picked.").wait_for()
    if violations := axe_violations(page):
        found["poll page, refused write-in"] = violations
    context.close()
    assert found == {}


# The example themes of the demo content (polls/demo_content.json, seeded with the site): in
# each scheme they can be asked for, with the reader's own setting the other way, and in auto
# following the reader.
@pytest.mark.parametrize(
    ("scheme", "reader"), [("light", "dark"), ("dark", "light"), ("auto", "dark")]
)
@pytest.mark.parametrize("theme", ["night-desk", "broadsheet"])
def test_the_widget_in_each_example_theme_has_no_wcag_violations(
    browser, site, theme, scheme, reader
):
    context = browser.new_context(color_scheme=reader, viewport={"width": 1280, "height": 900})
    context.add_init_script(path=AXE)
    page = context.new_page()
    widget = f"{site['widget']}?theme={theme}&scheme={scheme}"
    found: dict[str, list[str]] = {}

    def check(label: str) -> None:
        page.wait_for_load_state("load")
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == rgb(Theme.objects.get(slug=theme).colours(shown[scheme])["bg"])
        if violations := axe_violations(page):
            found[label] = violations

    shown = {"light": "light", "dark": "dark", "auto": reader}
    page.goto(widget)
    check("before voting")
    Poll.objects.update(results_shown="always")
    page.goto(widget + "&again")
    check("with results before voting")
    Poll.objects.update(results_shown="after_voting")
    vote_in_the_widget(page, widget + "&vote")
    check("right after voting")
    page.goto(widget)
    check("after voting")
    context.close()
    assert not found, json.dumps(found, indent=2)


def rgb(colour: str) -> str:
    """ "#rrggbb" as getComputedStyle writes it."""
    return "rgb({}, {}, {})".format(*(int(colour[i : i + 2], 16) for i in (1, 3, 5)))
