from django import template

from polls.models import Poll
from polls.snippets import embed_snippets

register = template.Library()


@register.simple_tag(takes_context=True)
def poll_embed(context: template.Context, poll: Poll) -> dict:
    """The ways to show this poll on another site (polls/snippets.py), for the fragments that
    offer them: the page's oEmbed link and the publishers' snippets."""
    return embed_snippets(context["SITE_ORIGIN"], poll)
