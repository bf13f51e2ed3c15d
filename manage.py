#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pollsite.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line
    from django.db import OperationalError, connection

    from pollsite.command_line import apply_local_defaults, database_unreachable

    apply_local_defaults()
    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as error:
        sys.exit(f"pollsite: {error}")
    except OperationalError as error:
        sys.exit(database_unreachable(error, connection.settings_dict))


if __name__ == "__main__":
    main()
