"""What manage.py adds around Django's command line: the local checkout's defaults, and one
short message instead of a traceback for the two set-up mistakes a newcomer meets first."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
# The Makefile's LOCAL_ENV gives `make run` the same defaults.
LOCAL_DEFAULTS = {
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "SECURE_COOKIES": "0",
    "SECURE_SSL_REDIRECT": "0",
    "TIME_ZONE": "Europe/Berlin",
}


def apply_local_defaults() -> None:
    """In a checkout set up by make (`make run` keeps its secret key in .data/secret_key),
    manage.py runs as `make run` does. A deployment has no such file (.dockerignore leaves
    .data/ out of the image), so there SECRET_KEY and ALLOWED_HOSTS stay required."""
    key_file = Path(os.environ.get("DATA_DIR") or BASE_DIR / ".data") / "secret_key"
    if os.environ.get("SECRET_KEY") or not key_file.is_file():
        return
    os.environ["SECRET_KEY"] = key_file.read_text().strip()
    for name, value in LOCAL_DEFAULTS.items():
        os.environ.setdefault(name, value)


def database_unreachable(error: Exception, database: dict) -> str:
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if not os.environ.get("DATABASE_URL"):
        return f"pollsite: the embedded PostgreSQL in .data/ did not answer: {reason}"
    where = f"{database.get('HOST') or 'localhost'}:{database.get('PORT') or 5432}"
    return (
        f"pollsite: cannot connect to PostgreSQL at {where} (from DATABASE_URL): {reason}\n"
        "Start that server or correct DATABASE_URL; or unset DATABASE_URL to use the embedded "
        "PostgreSQL in .data/."
    )
