from django.apps import AppConfig


class PollsConfig(AppConfig):
    name = "polls"
    verbose_name = "Polls and articles"

    def ready(self) -> None:
        from polls import (
            checks,  # noqa: F401  (registers the deploy checks)
            sign_in_throttle,  # noqa: F401  (axes keeps no form data)
        )
