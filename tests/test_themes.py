"""Themes: the editors' themes, their contrast check, and the widget in them (by address, by the
site that embeds it, by default), through Django's test client. The widget in a browser, in
each theme and host: tests/test_embed_hosts_browser.py and tests/test_accessibility.py."""

import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from polls.models import Theme
from tests.helpers import eventually, make_poll

pytestmark = pytest.mark.django_db

DUSK = {
    "name": "Dusk",
    "slug": "dusk",
    "color_scheme": "dark",
    "text_dark": "#f1f1f1",
    "background_dark": "#101418",
    "accent_dark": "#ffb347",
    "font_stack": 'Georgia, "Times New Roman", serif',
    "bar_style": "thin",
}


def make_theme(**fields) -> Theme:
    theme = Theme(**{"name": fields.get("slug", "dusk").title(), **DUSK, **fields})
    theme.full_clean()
    theme.save()
    return theme


def without_token(html: str) -> str:
    return re.sub(r'name="token" value="[^"]*"', "", html)


def widget(client, poll, query: str = "", **headers):
    return client.get(reverse("polls:embed", args=[poll.slug]) + query, headers=headers)


def stylesheet_link(html: str) -> str | None:
    match = re.search(r'<link rel="stylesheet" href="(/embed/themes/[^"]+)">', html)
    return match.group(1).replace("&amp;", "&") if match else None


def test_a_theme_whose_colours_read_well_is_saved():
    theme = make_theme()
    assert theme.contrast_failures() == []


def test_a_theme_that_fails_wcag_aa_is_refused_with_the_pair_and_its_ratio():
    theme = Theme(name="Murky", slug="murky", text_dark="#555555", background_dark="#16191d")
    with pytest.raises(ValidationError) as refused:
        theme.full_clean()
    messages = refused.value.messages
    assert "Text on background (dark): 2.3:1, needs 4.5:1" in messages
    assert not any("(light)" in message for message in messages)


def test_the_accent_is_checked_as_text_and_as_the_bar_on_its_track():
    theme = Theme(name="Pale", slug="pale", accent_light="#9ecbff")
    assert theme.contrast_failures() == [
        "Accent on background (light): 1.6:1, needs 4.5:1",
        "Result bar on its track (light): 1.2:1, needs 3:1",
    ]


def test_a_ratio_just_under_the_limit_is_never_shown_rounded_up_to_it():
    # #777777 on white is 4.48:1.
    failures = Theme(name="Grey", slug="grey", text_light="#777777").contrast_failures()
    assert "Text on background (light): 4.4:1, needs 4.5:1" in failures


def test_the_admin_refuses_a_theme_that_fails_and_names_the_pair(admin_client):
    form = {
        **{field.name: field.default for field in Theme._meta.fields if field.has_default()},
        "name": "Murky",
        "slug": "murky",
        "host_origins": "https://news.example\n",
        "text_dark": "#555555",
    }
    response = admin_client.post(reverse("admin:polls_theme_add"), form)
    assert response.status_code == 200
    assert "Text on background (dark): 2.3:1, needs 4.5:1" in response.content.decode()
    assert not Theme.objects.exists()
    form["text_dark"] = "#e6e8ea"
    response = admin_client.post(reverse("admin:polls_theme_add"), form)
    assert response.status_code == 302
    assert Theme.objects.get().host_origins == ["https://news.example"]


def test_two_themes_cannot_claim_one_site_and_only_one_is_the_default():
    make_theme(host_origins=["https://news.example"], is_default=True)
    other = Theme(name="Other", slug="other", host_origins=["https://NEWS.example/"])
    with pytest.raises(ValidationError, match=r"https://news\.example uses the theme “Dusk”"):
        other.full_clean()
    other = Theme(name="Other", slug="other", is_default=True)
    with pytest.raises(ValidationError, match="Another theme is the default already"):
        other.full_clean()


def test_the_theme_change_page_previews_the_widget_light_and_dark(admin_client, poll, settings):
    theme = make_theme()
    html = admin_client.get(reverse("admin:polls_theme_change", args=[theme.pk])).content.decode()
    for scheme in ("light", "dark"):
        assert f'src="/polls/{poll.slug}/embed/?theme=dusk&amp;scheme={scheme}"' in html
    # The preview frames our own widget: our pages may frame it whatever the origins allowed.
    settings.EMBED_ALLOWED_ORIGINS = ["https://news.example"]
    response = widget(admin_client, poll, "?theme=dusk&scheme=dark")
    assert "frame-ancestors https://news.example 'self'" in response["Content-Security-Policy"]


def test_the_widget_in_a_theme_links_its_stylesheet_and_takes_its_scheme(client, poll):
    theme = make_theme()
    html = widget(client, poll, "?theme=dusk").content.decode()
    assert '<html lang="en" data-scheme="dark">' in html  # the theme's own scheme
    assert '<meta name="color-scheme" content="dark">' in html
    link = stylesheet_link(html)
    assert link == f"/embed/themes/dusk.css?v={theme.version}"
    css = client.get(link)
    assert css["Content-Type"] == "text/css; charset=utf-8"
    assert "immutable" in css["Cache-Control"]
    body = css.content.decode()
    assert "--bg:#101418" in body and "--font:Georgia" in body and "--bar-h:4px" in body
    # The vote form of a reader without JavaScript comes back in the same look.
    assert f'action="/polls/{poll.slug}/embed/vote/?theme=dusk"' in html


def test_the_scheme_asked_for_wins_and_auto_follows_the_reader(client, poll):
    make_theme()
    light = widget(client, poll, "?theme=dusk&scheme=light").content.decode()
    assert 'data-scheme="light"' in light
    assert "/embed/vote/?theme=dusk&amp;scheme=light" in light
    auto = widget(client, poll, "?theme=dusk&scheme=auto").content.decode()
    assert "data-scheme" not in auto
    assert '<meta name="color-scheme" content="light dark">' in auto
    # The widget's own look in a scheme: no theme, no stylesheet of one.
    own = widget(client, poll, "?scheme=dark").content.decode()
    assert 'data-scheme="dark"' in own and stylesheet_link(own) is None


def test_each_theme_and_scheme_has_its_own_etag_and_the_plain_widget_keeps_its_own(client, poll):
    plain = widget(client, poll)["ETag"]
    make_theme()
    make_theme(name="Dawn", slug="dawn", color_scheme="light")
    etags = {
        query: widget(client, poll, query)["ETag"]
        for query in ("", "?theme=dusk", "?theme=dusk&scheme=light", "?theme=dawn")
    }
    assert etags[""] == plain
    assert len(set(etags.values())) == 4
    # A 304 only for the look it was sent for.
    assert (
        widget(client, poll, "?theme=dusk", **{"If-None-Match": etags["?theme=dusk"]}).status_code
        == 304
    )
    assert (
        widget(client, poll, "?theme=dawn", **{"If-None-Match": etags["?theme=dusk"]}).status_code
        == 200
    )


def test_an_edited_theme_gives_the_widget_a_new_etag_and_stylesheet_address(client, poll):
    theme = make_theme()
    before = widget(client, poll, "?theme=dusk")
    theme.accent_dark = "#7fd1ff"
    theme.save()
    after = widget(client, poll, "?theme=dusk")
    assert after["ETag"] != before["ETag"]
    assert stylesheet_link(after.content.decode()) != stylesheet_link(before.content.decode())
    # The old address still answers, with the current stylesheet, kept only briefly.
    old = client.get(stylesheet_link(before.content.decode()))
    assert old.status_code == 200 and "immutable" not in old["Cache-Control"]


def test_a_site_theme_follows_the_host_origin_and_the_page_varies_by_referer(client, poll):
    make_theme(host_origins=["https://news.example"])
    make_theme(name="House", slug="house", color_scheme="auto", is_default=True)
    on_site = widget(client, poll, Referer="https://news.example/")
    assert stylesheet_link(on_site.content.decode()).startswith("/embed/themes/dusk.css")
    assert "Referer" in on_site["Vary"]
    elsewhere = widget(client, poll, Referer="https://blog.example/2026/a-post")
    assert stylesheet_link(elsewhere.content.decode()).startswith("/embed/themes/house.css")
    assert elsewhere["ETag"] != on_site["ETag"]
    # An address that names its theme is the same page on every site.
    named = widget(client, poll, "?theme=house", Referer="https://news.example/")
    assert stylesheet_link(named.content.decode()).startswith("/embed/themes/house.css")
    assert "Referer" not in named.get("Vary", "")


def test_without_themes_the_widget_is_as_it_was(client, poll):
    response = widget(client, poll, Referer="https://news.example/")
    html = response.content.decode()
    assert stylesheet_link(html) is None and "data-scheme" not in html
    assert "Referer" not in response.get("Vary", "")


@pytest.mark.parametrize(
    "query",
    [
        "?theme=no-such-theme",
        "?theme=%3Cscript%3E",
        "?theme=" + "x" * 5000,
        "?theme=dusk&theme=%FF",
        "?scheme=purple",
        "?theme=&scheme=",
        "?theme[]=dusk",
    ],
)
def test_an_unknown_or_malformed_theme_falls_back_to_the_default(client, poll, query):
    make_theme(name="House", slug="house", color_scheme="light", is_default=True)
    response = widget(client, poll, query, Referer="http://[::1")
    assert response.status_code == 200
    assert stylesheet_link(response.content.decode()).startswith("/embed/themes/house.css")


@pytest.mark.parametrize("query", ["?theme=%00", "?scheme=%00"])
def test_a_nul_in_the_look_is_the_usual_400(client, poll, query):
    assert widget(client, poll, query).status_code == 400


@pytest.mark.parametrize("slug", ["no-such-theme", "x" * 300])
def test_an_unknown_stylesheet_is_a_404_in_css(client, slug):
    response = client.get(f"/embed/themes/{slug}.css")
    assert response.status_code == 404
    assert response["Content-Type"] == "text/css"


def test_oembed_puts_the_theme_and_scheme_into_the_frames_address(client, poll):
    url = "http://testserver" + poll.get_absolute_url()
    answer = client.get(reverse("oembed"), {"url": url, "theme": "dusk", "scheme": "dark"})
    src = f'src="http://testserver/polls/{poll.slug}/embed/?theme=dusk&amp;scheme=dark"'
    assert src in answer.json()["html"]
    # The poll's URL as an author pasted it, with its theme.
    answer = client.get(reverse("oembed"), {"url": url + "?theme=dusk"})
    assert '/embed/?theme=dusk"' in answer.json()["html"]


@pytest.mark.parametrize(
    "params",
    [{"theme": "<b>"}, {"theme": "x" * 61}, {"scheme": "sepia"}, {"theme": "\x00"}],
)
def test_oembed_refuses_a_malformed_theme_or_scheme_with_a_400(client, poll, params):
    url = "http://testserver" + poll.get_absolute_url()
    response = client.get(reverse("oembed"), {"url": url, **params})
    assert response.status_code == 400
    assert "error" in response.json()


@pytest.mark.django_db(transaction=True)
def test_kept_widget_pages_are_kept_per_theme_and_dropped_when_a_theme_changes(
    client, listener, django_assert_num_queries
):
    poll = make_poll()
    theme = make_theme()
    make_theme(name="Dawn", slug="dawn", color_scheme="light")
    dusk = widget(client, poll, "?theme=dusk").content.decode()
    dawn = widget(client, poll, "?theme=dawn").content.decode()
    assert stylesheet_link(dusk) != stylesheet_link(dawn)
    # Kept: the poll, its pages in each look and the themes cost no query.
    with django_assert_num_queries(0):
        again = widget(client, poll, "?theme=dawn").content.decode()
    assert without_token(again) == without_token(dawn)
    theme.accent_dark = "#7fd1ff"
    theme.save()
    assert eventually(
        lambda: (
            stylesheet_link(widget(client, poll, "?theme=dusk").content.decode())
            == f"/embed/themes/dusk.css?v={Theme.objects.get(slug='dusk').version}"
        )
    )
