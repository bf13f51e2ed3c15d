"""Helpers shared by several test modules."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Settings a production run reads; manage() leaves them out unless a test passes them.
PRODUCTION_VARIABLES = (
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "SECURE_COOKIES",
    "SECURE_SSL_REDIRECT",
)


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    # Only the test process relaxes Django's async guard (see pyproject.toml).
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in PRODUCTION_VARIABLES and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
