"""Health checks for load balancers: cheap, uncached, no templates, no cookies."""

from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe


@require_safe
@never_cache
def process_health(request: HttpRequest) -> HttpResponse:
    """The process answers: no database, no template. Also the benchmark's ceiling."""
    return HttpResponse("ok\n", content_type="text/plain")


@require_safe
@never_cache
def database_health(request: HttpRequest) -> HttpResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return HttpResponse("database unavailable\n", content_type="text/plain", status=503)
    return HttpResponse("ok\n", content_type="text/plain")
