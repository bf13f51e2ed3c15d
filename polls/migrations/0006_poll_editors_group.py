"""The "Poll editors" group: run polls from the admin without being a superuser."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP_NAME = "Poll editors"

# Exactly these: editors add, change and view polls, choices and articles, and read ballots
# (the audit trail), but never delete anything and never change a ballot.
PERMISSIONS = [
    "add_poll",
    "change_poll",
    "view_poll",
    "add_choice",
    "change_choice",
    "view_choice",
    "add_article",
    "change_article",
    "view_article",
    "view_ballot",
]


def create_group(apps, schema_editor):
    # On a fresh database the permissions are only created after all migrations ran
    # (post_migrate); create them now so the group can refer to them.
    polls_config = apps.get_app_config("polls")
    polls_config.models_module = True
    create_permissions(polls_config, apps=apps, verbosity=0)
    polls_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP_NAME)
    group.permissions.set(
        Permission.objects.filter(content_type__app_label="polls", codename__in=PERMISSIONS)
    )


def delete_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("polls", "0005_poll_results_before_voting"),
    ]

    operations = [migrations.RunPython(create_group, delete_group)]
