import pytest
from django.core.management import call_command

from polls.models import Article, Ballot, Choice, Poll, Theme
from polls.services import ballot_cast

pytestmark = pytest.mark.django_db

QUESTION = (
    "How has the recent turmoil within the OpenAI offices changed your plans to use GPT in a "
    "business process or product in 2024?"
)
CHOICES = [
    "Increased uncertainty means we are more likely to evaluate alternative AI chatbots and LLMs.",
    "No change in plans, though we will keep an eye on the situation.",
    "With Sam Altman back in charge, we are more likely to go all-in with GPT and LLMs.",
    "What recent turmoil?",
]
INTERVIEW = "Matt Klein on the Success of Envoy and the Future of the Service Mesh"


def test_it_seeds_the_openai_poll_word_for_word_at_the_top_of_the_interview(client):
    call_command("seed")
    poll = Poll.objects.get(question=QUESTION)
    assert poll.is_open()
    assert [choice.text for choice in poll.choices.all()] == CHOICES
    interview = Article.objects.get(title=INTERVIEW)
    assert interview.poll == poll
    assert interview.published_on.isoformat() == "2019-04-05"
    html = client.get(interview.get_absolute_url()).content.decode()
    assert QUESTION in html
    assert all(choice.replace("'", "&#x27;") in html for choice in CHOICES)


def test_it_seeds_at_least_six_related_articles_marked_as_demo_content():
    call_command("seed")
    interview = Article.objects.get(title=INTERVIEW)
    related = interview.related_articles(limit=10)
    assert len(related) >= 6
    assert all(article.summary for article in related)
    assert all(article.body.startswith("Demo content") for article in Article.objects.all())
    topics = set(Article.objects.values_list("topics__name", flat=True))
    assert {"Cloud native", "Service mesh", "Proxies", "AI platforms"} <= topics


def test_running_the_seed_again_keeps_votes_and_changes_nothing(capsys):
    call_command("seed")
    out = capsys.readouterr().out
    assert "Demo content: added 1 poll(s), 8 article(s) and 2 theme(s)." in out
    poll = Poll.objects.get(question=QUESTION)
    ballot_cast(poll=poll, choice=poll.choices.first(), voter_hash="x" * 64)
    call_command("seed")
    assert capsys.readouterr().out == "Demo content: already there, nothing changed.\n"
    assert Poll.objects.count() == 1 and Choice.objects.count() == 4
    assert Article.objects.count() == 8 and Ballot.objects.count() == 1
    assert Theme.objects.count() == 2
    assert poll.choices.first().votes == 1


def test_it_seeds_two_example_themes_one_dark_first_one_serif_that_pass_the_contrast_check():
    call_command("seed")
    night, broadsheet = Theme.objects.get(slug="night-desk"), Theme.objects.get(slug="broadsheet")
    assert night.color_scheme == Theme.Scheme.DARK
    assert broadsheet.font_stack.startswith("Georgia") and "serif" in broadsheet.font_stack
    assert night.contrast_failures() == [] and broadsheet.contrast_failures() == []
