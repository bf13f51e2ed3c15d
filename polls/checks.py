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
