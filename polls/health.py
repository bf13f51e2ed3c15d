"""Health checks for load balancers: cheap, uncached, no templates, no cookies."""

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as CheckTimeout

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

# The database check runs in a thread of its own, so that it can answer within
# DB_HEALTH_TIMEOUT even while a new connection to a frozen server takes DB_CONNECT_TIMEOUT
# (psycopg's minimum is 2 s). Checks that arrive while one is running share its answer: a load
# balancer that keeps asking during an outage never piles up waiting threads.
_checker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="healthz-db")
_check_lock = threading.Lock()
_check: Future | None = None


@require_safe
@never_cache
def process_health(request: HttpRequest) -> HttpResponse:
    """The process answers: no database, no template. Also the benchmark's ceiling."""
    return HttpResponse("ok\n", content_type="text/plain")


@require_safe
@never_cache
def database_health(request: HttpRequest) -> HttpResponse:
    global _check
    with _check_lock:
        if _check is None or _check.done():
            _check = _checker.submit(_select_one)
        check = _check
    try:
        check.result(timeout=settings.DB_HEALTH_TIMEOUT)
    except (DatabaseError, CheckTimeout):
        return HttpResponse("database unavailable\n", content_type="text/plain", status=503)
    return HttpResponse("ok\n", content_type="text/plain")


def _select_one() -> None:
    # A new connection each time, closed after: it proves that the server takes connections,
    # and costs it little at a load balancer's pace.
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()
