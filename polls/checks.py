from django.conf import settings
from django.core.checks import Warning, register


@register(deploy=True)
def site_url_is_set(app_configs, **kwargs) -> list[Warning]:
    if settings.SITE_URL:
        return []
    return [
        Warning(
            "SITE_URL is not set: absolute links in oEmbed answers, the widget and the JSON API "
            "follow the request's Host header, which a client chooses and a shared cache keeps.",
            hint="Set SITE_URL to the site's public origin, e.g. https://polls.news.example.",
            id="polls.W001",
        )
    ]


@register(deploy=True)
def site_url_is_https(app_configs, **kwargs) -> list[Warning]:
    if not settings.SITE_URL.startswith("http://"):
        return []
    return [
        Warning(
            "SITE_URL is http://: embedded polls do not work over plain HTTP. Browsers send no "
            "Sec-Fetch-* headers and keep no Secure, partitioned cookie there, so readers are "
            "not remembered and WordPress's sandboxed frame cannot vote.",
            hint="Serve the poll site on HTTPS and set SITE_URL to its https:// origin.",
            id="polls.W002",
        )
    ]


@register()
def share_cards_shape_text(app_configs, **kwargs) -> list[Warning]:
    # Imported here: the checks module is loaded before the app registry is ready.
    from polls import sharing

    if sharing.SHAPES_TEXT:
        return []
    return [
        Warning(
            "Pillow has no libraqm here: share cards draw right-to-left text reversed, unshaped "
            "(legible for Hebrew, with Arabic letters unjoined).",
            hint="Install FriBiDi (Debian: libfribidi0); Pillow's wheels carry libraqm itself.",
            id="polls.W003",
        )
    ]
