"""Poll editors moderate write-ins: approve, reject, merge. Ballots stay read-only otherwise."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP_NAME = "Poll editors"


def grant(apps, schema_editor):
    # As in 0006: on a fresh database the permission only exists after all migrations ran.
    polls_config = apps.get_app_config("polls")
    polls_config.models_module = True
    create_permissions(polls_config, apps=apps, verbosity=0)
    polls_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP_NAME)
    group.permissions.add(
        Permission.objects.get(content_type__app_label="polls", codename="moderate_write_ins")
    )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name=GROUP_NAME):
        group.permissions.remove(
            *Permission.objects.filter(
                content_type__app_label="polls", codename="moderate_write_ins"
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("polls", "0017_write_ins"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
