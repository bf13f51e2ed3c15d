"""The results as JSON, for publishers' own scripts and the widget's: shared by every reader
(polls/shared_responses.py), readable from any origin."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_safe

from polls import poll_cache
from polls.context_processors import site_origin
from polls.models import Poll, PollResults
from polls.shared_responses import kept_etag, results_etag, shared_response


def results_payload(request: HttpRequest, poll: Poll, results: PollResults) -> dict:
    """The results as JSON, with only the figures readers may see: none while they are held
    back until the close, percentages without counts where the editor chose so."""
    origin = site_origin(request)
    payload = {
        "poll": {
            "slug": poll.slug,
            "question": poll.question,
            "state": poll.state(),
            "url": origin + poll.get_absolute_url(),
            "results_url": origin + poll.get_results_url(),
            "closes_at": poll.closes_at.isoformat() if poll.closes_at else None,
            "results_shown": poll.results_shown,
        },
        "choices": [{"id": row.choice.pk, "text": row.choice.text} for row in results.rows],
    }
    if poll.results_withheld():
        return payload
    for choice, row in zip(payload["choices"], results.rows, strict=True):
        choice["percent"] = row.percent
        if poll.shows_counts:
            choice["votes"] = row.votes
    if poll.shows_counts:
        payload["total"] = results.total
        if results.voters is not None:
            payload["voters"] = results.voters
    return payload


@require_safe
def results_json(request: HttpRequest, slug: str) -> HttpResponse:
    poll = poll_cache.shared_poll_or_404(slug)
    etag = kept_etag(request, poll, "json", lambda: results_etag(poll, poll.results()))

    def render() -> bytes:
        return JsonResponse(results_payload(request, poll, poll.results())).content

    def build() -> HttpResponse:
        body = poll_cache.polls.rendering(poll, poll_cache.page_key(request, "json"), render)
        return HttpResponse(body, content_type="application/json")

    response = shared_response(request, etag, build)
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Expose-Headers"] = "ETag"
    return response
