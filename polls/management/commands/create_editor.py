"""Create or update a poll editor: a staff account in the "Poll editors" group, no superuser."""

import getpass
import os
import sys

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

GROUP_NAME = "Poll editors"
PASSWORD_VARIABLE = "EDITOR_PASSWORD"


class Command(BaseCommand):
    help = (
        "Create a poll editor account (or add an existing account to the editors). The password "
        f"is asked for, or read from the {PASSWORD_VARIABLE} environment variable."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", default="")

    def handle(self, *args, username: str, email: str, **options) -> None:
        try:
            group = Group.objects.get(name=GROUP_NAME)
        except Group.DoesNotExist:
            raise CommandError(f"No “{GROUP_NAME}” group: run `manage.py migrate` first.") from None
        User = get_user_model()
        user = User.objects.filter(username=username).first() or User(username=username)
        existed = user.pk is not None
        password = self.password(user)
        with transaction.atomic():
            user.email = email or user.email
            user.is_staff = True
            user.is_active = True
            if password:
                user.set_password(password)
            user.save()
            user.groups.add(group)
        done = "Updated" if existed else "Created"
        self.stdout.write(f"{done} {username}: they can sign in to the admin as a poll editor.")

    def password(self, user) -> str | None:
        """A validated password; None keeps an existing account's password."""
        password = os.environ.get(PASSWORD_VARIABLE)
        if password is None:
            if not sys.stdin.isatty():
                # getpass and input() would fail with EOFError (a script, CI, a pipe).
                raise CommandError(
                    f"No terminal to ask for the password: set {PASSWORD_VARIABLE}, e.g. "
                    f"{PASSWORD_VARIABLE}='…' make editor NAME={user.username}"
                )
            if user.pk and not self.confirm_new_password():
                return None
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The two passwords differ.")
        try:
            validate_password(password, user)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        return password

    def confirm_new_password(self) -> bool:
        return input("This account exists. Set a new password? [y/N] ").strip().lower() == "y"
