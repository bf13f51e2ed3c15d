"""The CMS hosts a publisher pastes our poll into, rebuilt from each CMS's own source for the
browser tests (tests/test_embed_hosts_browser.py says what each one does)."""

import html
import re
from html.parser import HTMLParser
from urllib.parse import quote

from django.test import Client

from polls.snippets import iframe_snippet, loader_snippet

WORDPRESS_SECRET = "Xk3vQ9pL2m"

# What wp-embed.js does on the host page (WordPress 6.x), written out for this test.
WP_EMBED_HOST_SCRIPT = """<script>
window.addEventListener("message", function (e) {
  var data = e.data;
  if (!data || !(data.secret || data.message || data.value)) return;
  if (/[^a-zA-Z0-9]/.test(data.secret)) return;
  document.querySelectorAll('blockquote[data-secret="' + data.secret + '"]')
    .forEach(function (b) { b.style.display = "none"; });
  document.querySelectorAll('iframe[data-secret="' + data.secret + '"]').forEach(function (frame) {
    if (e.source !== frame.contentWindow) return;
    frame.removeAttribute("style");
    if (data.message === "height") {
      var height = parseInt(data.value, 10);
      frame.height = height > 1000 ? 1000 : (~~height < 200 ? 200 : height);
    } else if (data.message === "link") {
      var target = new URL(data.value), source = new URL(frame.getAttribute("src"));
      if (/^https?:$/i.test(target.protocol) && target.host === source.host
          && document.activeElement === frame) window.top.location.href = data.value;
    }
  });
});
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("iframe.wp-embedded-content").forEach(function (frame) {
    var secret = frame.getAttribute("data-secret");
    frame.contentWindow.postMessage({message: "ready", secret: secret}, "*");
  });
});
</script>"""


class Kses(HTMLParser):
    """wp_kses() with wp_filter_oembed_result()'s allow-list: other tags go, their text stays."""

    ALLOWED = {
        "a": {"href"},
        "blockquote": set(),
        "iframe": {"src", "width", "height", "frameborder", "marginwidth", "marginheight"}
        | {"scrolling", "title"},
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.ALLOWED:
            kept = "".join(
                f' {name}="{html.escape(value or "")}"'
                for name, value in attrs
                if name in self.ALLOWED[tag]
            )
            self.out.append(f"<{tag}{kept}>")

    def handle_endtag(self, tag):
        if tag in self.ALLOWED:
            self.out.append(f"</{tag}>")

    def handle_data(self, data):
        self.out.append(html.escape(data, quote=False))


def wordpress_filter_oembed_result(result: str, secret: str) -> str:
    """wp_filter_oembed_result() for a provider that is not on WordPress's trusted list."""
    kses = Kses()
    kses.feed(result)
    filtered = "".join(kses.out)
    content = re.search(r"(<blockquote>.*?</blockquote>)?.*(<iframe.*?></iframe>)", filtered, re.S)
    assert content, "WordPress drops an oEmbed answer without an iframe"
    blockquote, iframe = content.group(1) or "", content.group(2)
    filtered = blockquote + iframe
    src = re.search(r""" src=(['"])(.*?)\1""", filtered)
    filtered = filtered.replace(
        src.group(0), f' src="{src.group(2)}#?secret={secret}" data-secret="{secret}"'
    )
    filtered = filtered.replace("<blockquote", f'<blockquote data-secret="{secret}"')
    if blockquote:
        # A blockquote to fall back on: the frame stays hidden until it speaks.
        filtered = filtered.replace(
            "<iframe", '<iframe style="position: absolute; visibility: hidden;"'
        )
        filtered = filtered.replace("<blockquote", '<blockquote class="wp-embedded-content"')
    return filtered.replace(
        "<iframe",
        '<iframe class="wp-embedded-content" sandbox="allow-scripts" security="restricted"',
    )


def oembed(live_server, poll, **params) -> dict:
    url = live_server.url + poll.get_absolute_url()
    response = Client(HTTP_HOST=live_server.url.removeprefix("http://")).get(
        "/oembed", {"url": url, "format": "json", **params}
    )
    assert response.status_code == 200, response.content
    return response.json()


# look: oEmbed's theme and scheme parameters, as a publisher's CMS passes them on.


def wordpress_host(host_site, live_server, poll, look: dict | None = None) -> str:
    answer = oembed(live_server, poll, maxwidth="500", maxheight="750", **(look or {}))
    embed = wordpress_filter_oembed_result(answer["html"], WORDPRESS_SECRET)
    assert "<script" not in embed and "sandbox=" in embed
    return host_site.article("/wordpress/poll-post/", embed + WP_EMBED_HOST_SCRIPT)


def drupal_host(host_site, live_server, poll, look: dict | None = None) -> str:
    answer = oembed(live_server, poll, **(look or {}))
    media_url = live_server.url + poll.get_absolute_url()
    # OEmbedIframeController: the resource's html as is, in the media-oembed-iframe template.
    host_site.pages["/media/oembed"] = (
        '<!DOCTYPE html><html><head></head><body style="margin: 0">'
        + answer["html"]
        + "</body></html>"
    )
    frame = (
        f'<iframe src="/media/oembed?url={quote(media_url, safe="")}&amp;max_width=0'
        f'&amp;max_height=0&amp;hash=abc" frameborder="0" allowtransparency'
        f' width="{answer["width"]}" height="{answer["height"]}"'
        f' class="media-oembed-content" loading="eager" title="{html.escape(answer["title"])}"'
        ' style="max-width:100%"></iframe>'
    )
    return host_site.article(
        "/drupal/node/1", f'<div class="field--name-field-media-oembed">{frame}</div>'
    )


def ghost_host(host_site, live_server, poll, look: dict | None = None) -> str:
    answer = oembed(live_server, poll, **(look or {}))
    card = f'<figure class="kg-card kg-embed-card">{answer["html"]}</figure>'
    return host_site.article("/ghost/poll-post/", card)


def plain_iframe_host(host_site, live_server, poll, column: int = 680) -> str:
    return host_site.article(
        f"/plain-{column}.html", iframe_snippet(live_server.url, poll), column=column
    )


def loader_host(host_site, live_server, poll) -> str:
    return host_site.article("/loader.html", loader_snippet(live_server.url, poll))


def widget_frame(page):
    """The widget's frame, however deep the host nests it (Drupal: two frames down)."""
    for _ in range(100):
        for frame in page.frames:
            if "/embed/" in frame.url and frame.url.startswith("http://localhost"):
                try:
                    if frame.locator("main.widget").count():
                        shown_by_wordpress(page)
                        return frame
                except Exception:
                    pass
        page.wait_for_timeout(100)
    raise AssertionError("no widget frame on the page")


def shown_by_wordpress(page) -> None:
    """WordPress keeps its frame hidden until the widget speaks; readers act once it shows, and
    the widget's visibility check (against clickjacking) reports at most every 100 ms."""
    frame = "document.querySelector('iframe.wp-embedded-content')"
    if page.evaluate(f"!!{frame}"):
        page.wait_for_function(f"!{frame}.style.cssText")
        page.wait_for_timeout(300)


def fits(frame) -> bool:
    """Nothing of the widget is cut off or needs scrolling inside its frame: the document is no
    taller than the frame, and the frame is not hidden by its host."""
    for _ in range(40):
        inner = frame.evaluate(
            "[document.documentElement.scrollHeight, window.innerHeight, "
            "document.documentElement.scrollWidth, window.innerWidth]"
        )
        box = frame.frame_element().bounding_box()
        if box and box["height"] >= 150 and inner[0] <= inner[1] + 1 and inner[2] <= inner[3] + 1:
            return True
        frame.page.wait_for_timeout(100)
    return False


def in_view(frame, selector: str) -> bool:
    """The element lies within the frame's visible height (no scrolling needed to see it)."""
    return frame.evaluate(
        """(selector) => {
          const box = document.querySelector(selector).getBoundingClientRect();
          return box.height > 0 && box.top >= 0 && box.bottom <= window.innerHeight + 1;
        }""",
        "button.widget__vote" if selector == "vote" else selector,
    )
