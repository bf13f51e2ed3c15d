import json
from datetime import date, datetime
from pathlib import Path

from django.core.management.base import BaseCommand
from django.db import transaction

from polls.models import Article, Choice, Poll, Theme, Topic

DEMO_CONTENT = Path(__file__).resolve().parents[2] / "demo_content.json"


class Command(BaseCommand):
    help = (
        "Create the seeded poll, the demo articles and the example themes where they are"
        " missing. Safe to run again: existing polls, votes, themes and editors' changes are left"
        " alone."
    )

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        content = json.loads(DEMO_CONTENT.read_text())
        topics = {}
        new_polls = 0
        for topic in content["topics"]:
            topics[topic["slug"]], _ = Topic.objects.get_or_create(
                slug=topic["slug"], defaults={"name": topic["name"]}
            )
        for seeded in content["polls"]:
            poll, created = Poll.objects.get_or_create(
                slug=seeded["slug"],
                defaults={
                    "question": seeded["question"],
                    "status": Poll.Status.PUBLISHED,
                    "opens_at": datetime.fromisoformat(seeded["opens_at"]),
                },
            )
            if created:
                new_polls += 1
                Choice.objects.bulk_create(
                    Choice(poll=poll, text=text, position=position)
                    for position, text in enumerate(seeded["choices"], start=1)
                )
        new_articles = []
        for seeded in content["articles"]:
            article, created = Article.objects.get_or_create(
                slug=seeded["slug"],
                defaults={
                    "title": seeded["title"],
                    "author": seeded["author"],
                    "published_on": date.fromisoformat(seeded["published_on"]),
                    "summary": seeded["summary"],
                    "body": seeded["body"],
                    "poll": Poll.objects.get(slug=seeded["poll"]) if "poll" in seeded else None,
                },
            )
            if created:
                article.topics.set(topics[slug] for slug in seeded["topics"])
                new_articles.append(seeded)
        for seeded in new_articles:
            if seeded.get("pinned_related"):
                Article.objects.get(slug=seeded["slug"]).pinned_related.set(
                    Article.objects.filter(slug__in=seeded["pinned_related"])
                )
        new_themes = 0
        for seeded in content["themes"]:
            fields = {name: value for name, value in seeded.items() if name != "note"}
            theme = Theme(**fields)
            theme.full_clean(validate_unique=False)  # the example themes pass the contrast check
            _, created = Theme.objects.get_or_create(slug=theme.slug, defaults=fields)
            new_themes += created
        if new_polls or new_articles or new_themes:
            self.stdout.write(
                f"Demo content: added {new_polls} poll(s), {len(new_articles)} article(s)"
                f" and {new_themes} theme(s)."
            )
        else:
            self.stdout.write("Demo content: already there, nothing changed.")
