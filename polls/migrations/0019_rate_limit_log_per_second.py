"""The rate limit's log counts admitted attempts per second (polls/rate_limit.py).

Rows already there keep their exact times, each counted once; they leave the log as before.
"""

import django.contrib.postgres.fields
from django.db import migrations, models

COUNT_EXISTING = """
UPDATE polls_recentvoteattempts SET
    admitted_count = array_fill(1, ARRAY[cardinality(admitted_at)]),
    last_admitted_at = admitted_at[cardinality(admitted_at)]
"""


class Migration(migrations.Migration):
    dependencies = [("polls", "0018_editors_moderate_write_ins")]

    operations = [
        migrations.AddField(
            model_name="recentvoteattempts",
            name="admitted_count",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.IntegerField(), default=list
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="recentvoteattempts",
            name="last_admitted_at",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunSQL(COUNT_EXISTING, migrations.RunSQL.noop),
    ]
