"""When readers see a poll's results: always, after voting, or only once the poll has closed
(replaces results_before_voting), and whether they see counts or percentages only."""

from django.db import migrations, models


def results_shown_from_before_voting(apps, schema_editor):
    Poll = apps.get_model("polls", "Poll")
    Poll.objects.filter(results_before_voting=True).update(results_shown="always")


def before_voting_from_results_shown(apps, schema_editor):
    Poll = apps.get_model("polls", "Poll")
    Poll.objects.filter(results_shown="always").update(results_before_voting=True)


class Migration(migrations.Migration):
    dependencies = [("polls", "0012_ballot_source_sandboxed_embed")]

    operations = [
        migrations.AddField(
            model_name="poll",
            name="results_shown",
            field=models.CharField(
                choices=[
                    ("always", "Always, also next to the vote form"),
                    ("after_voting", "After the reader has voted"),
                    ("after_close", "Only once the poll has closed"),
                ],
                default="after_voting",
                help_text="“Only once the poll has closed” shows no count anywhere until then: "
                "not on our pages, in the widget, in the JSON or in the page previews of other "
                "sites.",
                max_length=12,
                verbose_name="readers see the results",
            ),
        ),
        migrations.AddField(
            model_name="poll",
            name="percentages_only",
            field=models.BooleanField(
                default=False,
                help_text="Readers see each answer's share, never the number of votes.",
                verbose_name="percentages only",
            ),
        ),
        migrations.RunPython(results_shown_from_before_voting, before_voting_from_results_shown),
        migrations.RemoveField(model_name="poll", name="results_before_voting"),
    ]
