"""An editor runs a poll end to end in a real Chromium; screenshots of the editor's pages."""

import csv
import io
import random
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from polls.models import Ballot, Poll, SeenCount, Theme
from polls.snippets import SNIPPET_SIZING_WIDTH, widget_height
from tests.helpers import make_article, make_poll, signed_in_editor_page, vote

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("editors_group"),
]

SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
THEME_SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "themes"


def test_an_editor_creates_publishes_embeds_and_reads_a_poll(browser, live_server, tmp_path):
    context, page = signed_in_editor_page(browser, live_server, accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)

    page.goto(live_server.url + reverse("admin:polls_poll_add"))
    page.get_by_label("Question:").fill("Which proxy do you trust at the edge?")
    page.get_by_label("Question:").press("Tab")  # the admin fills the slug on change
    assert page.get_by_label("Slug:").input_value() == "which-proxy-do-you-trust-at-the-edge"
    page.get_by_label("Status:").select_option("published")
    for index, text in enumerate(["Envoy", "NGINX", "HAProxy"]):
        page.locator(f"#id_choices-{index}-position").fill(str(index + 1))
        page.locator(f"#id_choices-{index}-text").fill(text)
    page.get_by_role("button", name="Save and continue editing").click()
    page.get_by_text("was added successfully").wait_for()
    poll = Poll.objects.get(slug="which-proxy-do-you-trust-at-the-edge")
    assert poll.state() == "open"
    assert [c.text for c in poll.choices.all()] == ["Envoy", "NGINX", "HAProxy"]

    page.locator('[data-copy-target="snippet-iframe"]').click()
    page.locator("#poll-embed").get_by_text("Copied.").wait_for()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == (
        f'<iframe src="{live_server.url}/polls/{poll.slug}/embed/" '
        'title="Reader poll: Which proxy do you trust at the edge?" width="100%" '
        f'height="{widget_height(poll, SNIPPET_SIZING_WIDTH)}" '
        'loading="lazy" style="border:0;max-width:100%"></iframe>'
    )

    # The preview shows the reader's form, in a frame that can neither submit nor be used.
    frame = page.locator('iframe[title="Preview: the poll before voting"]')
    assert frame.get_attribute("sandbox") == "allow-same-origin"
    preview = frame.content_frame
    assert preview.get_by_label("HAProxy").count() == 1
    assert preview.locator("body").evaluate("body => body.inert") is True

    reader = browser.new_context()
    reader_page = reader.new_page()
    reader_page.goto(live_server.url + poll.get_absolute_url())
    reader_page.get_by_label("HAProxy").check()
    reader_page.get_by_role("button", name="Vote").click()
    reader_page.get_by_text("Thank you, your vote has been counted.").wait_for()
    reader.close()

    page.reload()
    haproxy = page.locator(".admin-results__row", has_text="HAProxy")
    assert haproxy.locator(".admin-results__percent").inner_text() == "100%"
    assert haproxy.locator(".admin-results__count").inner_text() == "1 vote"
    bars = page.locator("#poll-over-time .votes-chart__bar")
    titles = [bars.nth(i).locator("title").text_content() for i in range(bars.count())]
    assert [t for t in titles if t.endswith(": 1 vote")] and sum(
        int(re.search(r": (\d+) votes?$", t).group(1)) for t in titles
    ) == 1
    assert page.locator("#poll-sources tbody tr").inner_text().split("\t") == [
        "Poll page",
        "Our poll page",
        "1",
        "100%",
    ]

    with page.expect_download() as download:
        page.get_by_role("link", name="Every ballot").click()
    path = tmp_path / "ballots.csv"
    download.value.save_as(path)
    table = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    ballot = Ballot.objects.get()
    assert len(table) == 2
    assert table[1][:4] == [poll.question, table[1][1], "HAProxy", "Poll page"]
    assert table[1][1].startswith(timezone.localtime(ballot.cast_at).strftime("%Y-%m-%d %H:%M"))
    context.close()


def busy_poll() -> Poll:
    """A poll a few days old with votes from our pages, an article and two host sites."""
    poll = make_poll(
        "Which proxy do you run at the edge?",
        choices=("Envoy", "NGINX", "HAProxy", "Traefik", "None of them"),
        slug="which-proxy-at-the-edge",
    )
    opened = timezone.now() - timedelta(days=6, hours=3)
    Poll.objects.filter(pk=poll.pk).update(opens_at=opened)
    article = make_article("Edge proxies compared", poll=poll, topics=("Proxies",))
    make_article("Why we moved to Envoy", topics=("Proxies",))
    make_poll("Should the newsroom adopt a four-day week?", state="draft", slug="four-day-week")
    make_poll("Tabs or spaces?", state="closed", slug="tabs-or-spaces")
    make_poll("Will you attend KubeCon?", state="scheduled", slug="kubecon")
    chooser = random.Random(4)
    weights = [40, 25, 15, 12, 8]
    for n in range(260):
        hours = min(chooser.expovariate(1 / 20), 6 * 24 + 2)
        where = chooser.choice(["page", "article", "embed-a", "embed-b", "embed-a"])
        extra = {}
        if where == "article":
            extra = {"source": Ballot.Source.ARTICLE, "article": article}
        elif where.startswith("embed"):
            extra = {"source": Ballot.Source.EMBED}
        text = chooser.choices(["Envoy", "NGINX", "HAProxy", "Traefik", "None of them"], weights)[0]
        ballot = vote(poll, text, voter=f"reader-{n}", **extra)
        host = {"embed-a": "https://news.example", "embed-b": "https://dev-weekly.example"}
        Ballot.objects.filter(pk=ballot.pk).update(
            cast_at=opened + timedelta(hours=hours), host_origin=host.get(where, "")
        )
    # Readers who saw it, in the first two days: more early on, as with the votes.
    first_hour = opened.replace(minute=0, second=0, microsecond=0)
    pages = [
        (True, "https://news.example", "/2026/edge"),
        (True, "https://dev-weekly.example", ""),
        (False, "", article.get_absolute_url()),
        (False, "", poll.get_absolute_url()),
    ]
    SeenCount.objects.bulk_create(
        SeenCount(
            poll=poll,
            embedded=embedded,
            host_origin=origin,
            host_path=path,
            hour=first_hour + timedelta(hours=hour),
            seen=chooser.randint(1, 60 // (1 + hour // 8)),
        )
        for hour in range(48)
        for embedded, origin, path in pages
    )
    return poll


def test_screenshots_of_the_editor_pages(browser, live_server):
    """Pictures for a person to look at, plus the layout facts that must hold."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    poll = busy_poll()
    context, page = signed_in_editor_page(browser, live_server)

    page.goto(live_server.url + reverse("admin:polls_poll_changelist"))
    assert page.locator("td.field-state").count() == 4
    page.screenshot(path=SCREENSHOTS / "admin-poll-list.png", full_page=True)

    page.goto(live_server.url + reverse("admin:polls_poll_change", args=[poll.pk]))
    page.wait_for_load_state("load")
    # Votes per hour, seen and votes per hour beside them, and votes per day.
    assert page.locator("#poll-over-time svg.votes-chart").count() == 3
    assert page.locator("#poll-engagement table").count() == 2
    no_horizontal_scroll = page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    assert no_horizontal_scroll
    page.screenshot(path=SCREENSHOTS / "admin-poll-change.png", full_page=True)
    page.screenshot(path=SCREENSHOTS / "admin-poll-change-top.png")
    context.close()


def test_an_editor_reorders_choices_with_the_move_buttons(browser, live_server):
    poll = make_poll(choices=("Envoy", "NGINX", "HAProxy"))
    context, page = signed_in_editor_page(browser, live_server)
    page.goto(live_server.url + reverse("admin:polls_poll_change", args=[poll.pk]))
    envoy_row = page.locator("#choices-group tr.form-row", has=page.locator('input[value="Envoy"]'))
    envoy_row.get_by_role("button", name="Move down").click()
    envoy_row.get_by_role("button", name="Move down").click()
    haproxy_row = page.locator(
        "#choices-group tr.form-row", has=page.locator('input[value="HAProxy"]')
    )
    haproxy_row.get_by_role("button", name="Move up").click()
    page.locator("#id_choices-3-text").fill("Traefik")  # the empty row: goes last
    assert page.locator("#id_choices-3-position").input_value() == "4"
    page.get_by_role("button", name="Save and continue editing").click()
    page.get_by_text("was changed successfully").wait_for()
    assert [c.text for c in poll.choices.all()] == ["HAProxy", "NGINX", "Envoy", "Traefik"]
    assert [c.position for c in poll.choices.all()] == [1, 2, 3, 4]
    context.close()


def test_the_poll_page_in_the_admin_breaks_no_content_security_policy(browser, live_server):
    poll = make_poll("Which proxy?", ("Envoy", "NGINX"))
    vote(poll, "Envoy", voter="reader-1")
    context, page = signed_in_editor_page(browser, live_server)
    violations = []
    page.on("console", lambda message: violations.append(message.text))
    page.goto(live_server.url + reverse("admin:polls_poll_change", args=[poll.pk]))
    page.locator("#poll-preview").scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    assert [text for text in violations if "Content Security Policy" in text] == []
    context.close()


def test_the_poll_page_in_the_admin_fits_a_phone(browser, live_server):
    poll = make_poll("Which proxy do you trust at the edge of a very long network?", ("A", "B"))
    vote(poll, "A", voter="reader-1")
    context, page = signed_in_editor_page(browser, live_server)
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(live_server.url + reverse("admin:polls_poll_change", args=[poll.pk]))
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    context.close()


def test_an_editor_sees_a_theme_previewed_light_and_dark(browser, live_server):
    """The theme's page frames the real widget in it, light and dark, for the newest poll."""
    make_poll("Which proxy do you run at the edge?", ("Envoy", "NGINX"))
    theme = Theme(name="Broadsheet", slug="broadsheet", background_light="#fbf8f1")
    theme.font_stack = 'Georgia, "Times New Roman", serif'
    theme.save()
    context, page = signed_in_editor_page(browser, live_server)
    page.goto(live_server.url + reverse("admin:polls_theme_change", args=[theme.pk]))
    for scheme, background in (("light", "rgb(251, 248, 241)"), ("dark", "rgb(22, 25, 29)")):
        frame = page.frame_locator(f'iframe[src*="scheme={scheme}"]')
        frame.get_by_role("button", name="Vote").wait_for()
        assert frame.locator("body").evaluate("b => getComputedStyle(b).backgroundColor") == (
            background
        )
    page.locator(".theme-preview").scroll_into_view_if_needed()
    page.screenshot(path=THEME_SCREENSHOTS / "admin-preview-broadsheet.png", full_page=True)
    context.close()
