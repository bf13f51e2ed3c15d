import pytest
from django.db import DatabaseError


@pytest.mark.django_db
def test_the_process_health_check_answers_without_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200 and response.content == b"ok\n"
    assert "no-cache" in response["Cache-Control"] and not response.cookies


@pytest.mark.django_db
def test_the_database_health_check_answers_ok(client):
    # The check runs in a thread of its own (see polls/health.py); test_faults.py freezes the
    # database under it.
    response = client.get("/healthz/db")
    assert response.status_code == 200 and response.content == b"ok\n"
    assert "no-cache" in response["Cache-Control"] and not response.cookies


@pytest.mark.django_db
def test_the_database_health_check_says_503_when_the_database_fails(client, monkeypatch):
    from django.db.backends.utils import CursorWrapper

    def fail(*args, **kwargs):
        raise DatabaseError("server closed the connection unexpectedly")

    monkeypatch.setattr(CursorWrapper, "execute", fail)
    response = client.get("/healthz/db")
    assert response.status_code == 503 and b"database unavailable" in response.content


def test_health_checks_only_answer_get(client):
    assert client.post("/healthz").status_code == 405
