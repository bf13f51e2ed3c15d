"""The poll on other sites: the widget page, its vote, its token, and the loader script.

What a reader voted is remembered in the widget's partitioned storage and a partitioned (CHIPS)
cookie, and applied by the widget's script; the widget's first view is the same for every
reader (polls/shared_responses.py). See docs/embedding.md.
"""

from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.cache import patch_vary_headers
from django.utils.html import strip_spaces_between_tags
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from polls import poll_cache, voters
from polls.api import results_payload
from polls.context_processors import site_origin
from polls.forms import EmbedVoteForm
from polls.frames import (
    allow_sandboxed_widget,
    frameable,
    poll_unavailable_message,
    wants_json,
    widget_message,
)
from polls.models import Ballot, Poll, PollResults
from polls.services import VoteOutcome, ballot_for, vote_take
from polls.shared_responses import (
    SharedBody,
    kept_etag,
    results_etag,
    shared_body_response,
)
from polls.snippets import opening_notice
from polls.themes import Look, theme_book, widget_look
from polls.vote_request import Channel, VoteRequest, vote_request_parse
from polls.voters import vote_token_issue, with_fresh_vote_token


@require_safe
@frameable
def widget(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        poll = poll_cache.shared_poll_or_404(slug)
    except Http404:
        if scheduled := Poll.objects.scheduled().filter(slug=slug).first():
            return widget_message(opening_notice(scheduled), status=200)
        return widget_message(poll_unavailable_message(), status=404)
    look = widget_look(request)
    etag = kept_etag(
        request,
        poll,
        "widget",
        lambda: results_etag(poll, poll.results(), look=look.fingerprint),
        look=look.key,
    )

    def page() -> SharedBody:
        return shared_widget_page(request, poll, look)

    response = shared_body_response(request, etag, page)
    if look.by_site:
        # The theme is the host site's: a shared cache keeps one page per site that embeds
        # it (browsers send a frame's Referer as the host's origin).
        patch_vary_headers(response, ["Referer"])
    return response


def render_widget(
    request: HttpRequest,
    poll: Poll,
    results: PollResults,
    *,
    form: EmbedVoteForm | None = None,
    ballot: Ballot | None = None,
    notice: str = "",
    status: int = 200,
    vote_token: str | None = None,
    look: Look | None = None,
) -> HttpResponse:
    if form is None and poll.is_open() and ballot is None:
        form = EmbedVoteForm(poll=poll, choices=[row.choice for row in results.rows])
    # Every rendering carries a fresh token, so a refused attempt can simply be retried; but
    # the shared first view (vote_token ""), whose script fetches one before it votes.
    if form is None:
        vote_token = ""
    elif vote_token is None:
        vote_token = vote_token_issue(poll)
    context = {
        "poll": poll,
        "form": form,
        "ballot": ballot,
        "notice": notice,
        "show_results": ballot is not None or not poll.is_open(),
        "vote_token": vote_token,
        "results_html": render_results(poll, results, ballot),
        "look": look or widget_look(request),
    }
    return render(request, "polls/embed.html", context, status=status)


def render_results(poll: Poll, results: PollResults, ballot: Ballot | None) -> str:
    """The results fragment as the widget shows it, without the whitespace between its tags
    (the widget page is {% spaceless %})."""
    context = {"poll": poll, "results": results, "ballot": ballot}
    return mark_safe(
        strip_spaces_between_tags(render_to_string("includes/poll_results.html", context).strip())
    )


def shared_widget_page(request: HttpRequest, poll: Poll, look: Look) -> SharedBody:
    """The widget's first view, which every reader of a poll's state sees alike: rendered and
    compressed once per state, look and worker. It carries no vote token: the widget's script
    fetches one for its reader before it votes (widget_token), and a form sent without the
    script is not counted here (vote_to_confirm)."""
    return poll_cache.polls.rendering(
        poll,
        poll_cache.page_key(request, "widget", look=look.key),
        lambda: SharedBody.of(widget_page(request, poll, poll.results(), look=look, vote_token="")),
    )


def render_voted_widget(
    request: HttpRequest, poll: Poll, results: PollResults, ballot: Ballot, notice: str
) -> HttpResponse:
    # Only readers without JavaScript get this page (the script's vote is answered with JSON),
    # and its counts include their vote: rendered for them alone.
    page = widget_page(request, poll, results, ballot=ballot, notice=notice)
    return HttpResponse(with_fresh_vote_token(page, poll))


def widget_page(
    request: HttpRequest,
    poll: Poll,
    results: PollResults,
    *,
    ballot: Ballot | None = None,
    notice: str = "",
    look: Look | None = None,
    vote_token: str = voters.SLOT,
) -> bytes:
    """The widget page, by default with a slot for the vote token, filled per response."""
    return render_widget(
        request,
        poll,
        results,
        ballot=ballot,
        notice=notice,
        vote_token=vote_token,
        look=look,
    ).content


@csrf_exempt
@require_POST
@frameable
def widget_vote(request: HttpRequest, slug: str) -> HttpResponse:
    """The widget's vote: the script asks for JSON and draws it; a form without JavaScript
    gets the widget page back."""
    # The poll as every reader sees it, current to the last committed change; the vote
    # statement itself counts in the database.
    try:
        poll = poll_cache.shared_poll_or_404(slug)
    except Http404:
        if wants_json(request):
            response = JsonResponse(
                {"ok": False, "message": poll_unavailable_message()}, status=404
            )
            return allow_sandboxed_widget(request, response)
        return widget_message(poll_unavailable_message(), status=404)
    vote = vote_request_parse(request, poll, Channel.WIDGET)
    outcome = vote_take(vote)
    return widget_vote_answer(request, vote, outcome)


def widget_vote_answer(
    request: HttpRequest, vote: VoteRequest, outcome: VoteOutcome
) -> HttpResponse:
    """The widget's answer to a vote: JSON that its script draws, or the widget page for a
    form sent without script."""
    Kind = VoteOutcome.Kind
    poll = vote.poll
    if outcome.kind == Kind.TO_CONFIRM:
        return vote_to_confirm(request, poll)
    results = answer_results(vote, outcome)
    counted = outcome.kind == Kind.COUNTED
    notice = _("Thank you, your vote was counted.") if counted else outcome.message
    if wants_json(request):
        response = JsonResponse(
            vote_payload(request, poll, outcome, notice, results), status=outcome.status
        )
        allow_sandboxed_widget(request, response)
    elif counted:
        response = render_voted_widget(request, poll, results, outcome.ballot, notice)
    else:
        invalid = outcome.kind == Kind.INVALID
        response = render_widget(
            request,
            poll,
            results or poll.results(),
            form=vote.form if invalid else None,
            ballot=outcome.ballot,
            notice="" if invalid else notice,
            status=outcome.status,
        )
    if outcome.retry_after is not None:
        response["Retry-After"] = str(outcome.retry_after)
    response["Cache-Control"] = "no-store"
    if counted and vote.voter_to_remember:
        vote.voter_to_remember.remember(response)
    return response


def answer_results(vote: VoteRequest, outcome: VoteOutcome) -> PollResults | None:
    """The results the widget draws with its answer: after a vote, or for a repeat voter."""
    poll = vote.poll
    if outcome.kind == VoteOutcome.Kind.REPEAT:
        return poll.results()
    if outcome.kind != VoteOutcome.Kind.COUNTED:
        return None
    if not poll.shows_counts:
        # Shares moved by this one vote would tell its reader the counts: they see the shares
        # every reader sees.
        return poll.results()
    if poll.allows_several_answers:
        # Shares of the voters: the vote returns its choices' counts, not how many voted.
        return poll_cache.visible_poll_or_404(poll.slug).results()
    # The results as the reader left them, with their choice's count as the vote returned it.
    ballot = outcome.ballot
    return poll.results(just_counted={ballot.choice_id: ballot.choice_votes})


def vote_to_confirm(request: HttpRequest, poll: Poll) -> HttpResponse:
    """The widget's form sent without its script's word on whether the frame could be seen
    (scripts off): perhaps a click on a transparent frame laid over a decoy. Nothing is counted.
    The form opens in a new tab (target=_blank), where the reader confirms on our poll page,
    which no site can frame, with their choice picked."""
    choice = request.POST.get("choice", "")
    url = poll.get_absolute_url() + (f"?choice={choice}" if choice.isdecimal() else "")
    if request.META.get("HTTP_SEC_FETCH_DEST") == "document":
        response = HttpResponseRedirect(url)
        response.status_code = 303
        return response
    # Still in the frame (a browser that kept the form there): say where to vote.
    message = _("To vote without JavaScript, open the poll on our site: %(url)s") % {
        "url": site_origin(request) + url
    }
    return widget_message(message, status=200)


def vote_payload(
    request: HttpRequest,
    poll: Poll,
    outcome: VoteOutcome,
    notice: str,
    results: PollResults | None,
) -> dict:
    payload = {"ok": outcome.status == 200, "message": notice}
    if outcome.ballot is not None:
        payload["choice"] = outcome.ballot.choice_ids[0]
        payload["voted_choices"] = outcome.ballot.choice_ids
    if results is not None:
        payload.update(results_payload(request, poll, results))
    if outcome.retry_after is not None:
        payload["retry_after"] = outcome.retry_after
    return payload


@csrf_exempt
@require_POST
def widget_token(request: HttpRequest, slug: str) -> JsonResponse:
    """A fresh single-use token, fetched by the widget's script just before it votes: the token
    in the widget's HTML may be shared by every reader a CDN served the same copy to.

    A sandboxed widget cannot read its own cookies, so it asks here, with credentials, which
    choice its reader made: the answer carries it when the reader has voted.
    """
    try:
        poll = poll_cache.shared_poll_or_404(slug)
    except Http404:
        poll = None
    if poll is None or not poll.is_open():
        response = JsonResponse({"error": _("This poll is not open for votes.")}, status=404)
    else:
        # The reader's voter id comes with the token, before the vote, as on our own pages
        # (views.vote_token): a vote whose answer is lost is retried as the same reader.
        voter = voters.Voter.of(request, framed=True)
        payload = {"token": vote_token_issue(poll, voter.voter_hash)}
        if voter.known:
            ballot = ballot_for(poll=poll, voter_hash=voter.voter_hash)
            payload["choice"] = ballot.choice_ids[0] if ballot else None
            if ballot:
                payload["voted_choices"] = ballot.choice_ids
        response = JsonResponse(payload)
        if not voter.known:
            voter.remember(response)
    response["Cache-Control"] = "no-store"
    return allow_sandboxed_widget(request, response)


@require_safe
def embed_js(request: HttpRequest) -> HttpResponse:
    """The script loader at a stable address publishers can paste (static names are hashed)."""
    with open(finders.find("embed/embed.js"), encoding="utf-8") as script:
        response = HttpResponse(script.read(), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=300"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_safe
def theme_css(request: HttpRequest, slug: str) -> HttpResponse:
    """A theme's stylesheet (polls/themes.py). The widget links it with the theme's version in
    its address, so an address that still names the version is the same stylesheet for good."""
    theme = theme_book().by_slug.get(slug)
    if theme is None:
        response = HttpResponse("/* No such theme. */", status=404, content_type="text/css")
        response["Cache-Control"] = "no-store"
        return response
    response = HttpResponse(theme.stylesheet(), content_type="text/css; charset=utf-8")
    if request.GET.get("v") == theme.version:
        response["Cache-Control"] = "public, max-age=31536000, immutable"
    else:
        response["Cache-Control"] = poll_cache.SHARED_CACHE
    return response
