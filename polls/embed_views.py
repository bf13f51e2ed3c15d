"""The poll on other sites: the widget page, its vote, the loader script, oEmbed, results JSON.

Caching: the widget and the JSON are the same for every reader, so a CDN may hold them for a
few seconds. They never read or set cookies; what a reader voted is remembered in the widget's
partitioned storage and a partitioned (CHIPS) cookie, and applied by the widget's script. See
docs/embedding.md.
"""

import hashlib
import json
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotModified,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import Resolver404, resolve
from django.utils.html import strip_spaces_between_tags
from django.utils.http import parse_etags
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csp import csp_override
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from polls import poll_cache, vote_tokens, voters
from polls.context_processors import site_origin
from polls.forms import EmbedVoteForm
from polls.models import Ballot, Poll, PollResults
from polls.rate_limit import client_address
from polls.services import VoteOutcome, ballot_for, vote_take
from polls.snippets import oembed_html, oembed_size, opening_notice
from polls.vote_tokens import (
    is_cross_site_post,
    vote_token_issue,
    vote_token_nonce,
    with_fresh_vote_token,
)

# The policy of the pages that the allowed origins may frame: one dict, which Django's
# csp_override holds for every frameable view (decorated once, not per request), kept current
# when a test changes the settings it is made of.
FRAMEABLE_POLICY: dict = {}


@receiver(setting_changed)
def frameable_policy_update(*, setting: str = "", **kwargs) -> None:
    if setting in ("", "SECURE_CSP", "EMBED_ALLOWED_ORIGINS"):
        FRAMEABLE_POLICY.clear()
        FRAMEABLE_POLICY.update(settings.SECURE_CSP)
        FRAMEABLE_POLICY["frame-ancestors"] = settings.EMBED_ALLOWED_ORIGINS


frameable_policy_update()


def frameable(view):
    """Let the allowed origins frame this view's pages; every other page refuses framing."""
    return csp_override(FRAMEABLE_POLICY)(xframe_options_exempt(view))


def widget_message(message: str, *, status: int) -> HttpResponse:
    """A widget that cannot show its poll (unknown, not published, the database down) says so
    in the widget's own style inside the publisher's article, not with the browser's error
    box. Rendered without the database or a request: the middleware answers with it too, from
    outside any view, so the framing decorators wrap a page of its own here."""

    @frameable
    def message_page(_request: HttpRequest | None) -> HttpResponse:
        context = {"message": message, "SITE_NAME": settings.SITE_NAME}
        body = render_to_string("polls/embed_message.html", context)
        response = HttpResponse(body, status=status)
        response["Cache-Control"] = "no-store"
        return response

    return message_page(None)


def poll_unavailable_message() -> str:
    return _("This poll is not available. It may have been removed, or not published yet.")


def results_etag(poll: Poll, results: PollResults) -> str:
    # Everything the widget and the JSON show, so that any change, even one made by a bulk
    # update that leaves updated_at alone, gives a new ETag and a new cached body. But the
    # integrity line's refusals: left out so that no refused vote can change the ETag; they
    # are brought up to date with the next vote or edit.
    return fingerprint_etag([*poll_description(poll, results), shown_figures(poll, results)])


def shown_figures(poll: Poll, results: PollResults) -> list:
    """The figures readers may see, and nothing else: an ETag, or a body cached under it, that
    changed with a vote would tell of a count the editor holds back."""
    if poll.results_withheld():
        return []
    if poll.shows_counts:
        return [row.votes for row in results.rows]
    return [(row.percent, row.leading) for row in results.rows]


def poll_description(poll: Poll, results: PollResults) -> list:
    description = [poll.pk, poll.updated_at.isoformat(), poll.state(), poll.question]
    description += [poll.results_shown, poll.percentages_only, str(poll.closes_at)]
    description += [get_language()]
    description += [(row.choice.pk, row.choice.text) for row in results.rows]
    return description


def fingerprint_etag(fingerprint: list) -> str:
    return '"' + hashlib.sha256(json.dumps(fingerprint).encode()).hexdigest()[:32] + '"'


def shared_response(request: HttpRequest, etag: str, build) -> HttpResponse:
    """A response a CDN may share between readers, answered with 304 when unchanged."""
    if etag in parse_etags(request.headers.get("If-None-Match", "")):
        response = HttpResponseNotModified()
    else:
        response = build()
    response["ETag"] = etag
    response["Cache-Control"] = poll_cache.SHARED_CACHE
    return response


@require_safe
@frameable
def widget(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        poll = poll_cache.shared_poll_or_404(slug)
    except Http404:
        if scheduled := Poll.objects.scheduled().filter(slug=slug).first():
            return widget_message(opening_notice(scheduled), status=200)
        return widget_message(poll_unavailable_message(), status=404)
    results = poll.results()
    etag = results_etag(poll, results)

    def build() -> HttpResponse:
        return render_shared_widget(request, poll, results)

    return shared_response(request, etag, build)


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
) -> HttpResponse:
    if form is None and poll.is_open() and ballot is None:
        form = EmbedVoteForm(poll=poll, choices=[row.choice for row in results.rows])
    context = {
        "poll": poll,
        "form": form,
        "ballot": ballot,
        "notice": notice,
        "show_results": ballot is not None or not poll.is_open(),
        # Every rendering carries a fresh token, so a refused attempt can simply be retried.
        "vote_token": "" if form is None else vote_token or vote_token_issue(poll),
        "results_html": render_results(poll, results, ballot),
    }
    return render(request, "polls/embed.html", context, status=status)


def render_results(poll: Poll, results: PollResults, ballot: Ballot | None) -> str:
    """The results fragment as the widget shows it, without the whitespace between its tags
    (the widget page is {% spaceless %})."""
    context = {"poll": poll, "results": results, "ballot": ballot}
    return mark_safe(
        strip_spaces_between_tags(render_to_string("includes/poll_results.html", context).strip())
    )


def render_shared_widget(request: HttpRequest, poll: Poll, results: PollResults) -> HttpResponse:
    """The widget's first view, which every reader of a poll's state sees alike: rendered once
    per state and worker. Only the vote token differs between readers; it is put into the
    cached page per response."""
    page = poll_cache.polls.rendering(
        poll, poll_cache.page_key(request, "widget"), lambda: widget_page(request, poll, results)
    )
    return HttpResponse(with_fresh_vote_token(page, poll))


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
) -> bytes:
    """The widget page with a slot for the vote token, filled per response."""
    return render_widget(
        request, poll, results, ballot=ballot, notice=notice, vote_token=vote_tokens.SLOT
    ).content


def is_sandboxed_fetch(request: HttpRequest) -> bool:
    """True for a script's fetch from a document without an origin of its own: our widget in a
    frame its host sandboxed without allow-same-origin (WordPress's oEmbed iframe).

    The browser sets all three headers itself; no page can forge them from a reader's browser.
    A form posted from such a frame is a navigation (Sec-Fetch-Mode: navigate), never matches.
    """
    headers = request.headers
    return (
        headers.get("Origin") == "null"
        and headers.get("Sec-Fetch-Mode") == "cors"
        and headers.get("Sec-Fetch-Dest") == "empty"
    )


def wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def allow_sandboxed_widget(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """CORS for exactly one caller: the widget's script in a sandboxed frame (Origin: null),
    with credentials, so its partitioned voter cookie travels. Nothing else gets CORS here."""
    response["Vary"] = "Origin"
    # Also while sandboxed votes are off: the widget must be able to read why it was refused.
    if is_sandboxed_fetch(request):
        response["Access-Control-Allow-Origin"] = "null"
        response["Access-Control-Allow-Credentials"] = "true"
    return response


@dataclass
class WidgetAnswer:
    """A widget vote's outcome as the widget shows it: the script's JSON or the form's page."""

    outcome: VoteOutcome
    notice: str
    form: EmbedVoteForm | None = None
    results: PollResults | None = None

    @property
    def status(self) -> int:
        return self.outcome.status

    @property
    def ballot(self) -> Ballot | None:
        return self.outcome.ballot

    @property
    def retry_after(self) -> int | None:
        return self.outcome.retry_after


def widget_vote_answer(
    request: HttpRequest, poll: Poll, voter_hash: str, *, from_cookie: bool
) -> WidgetAnswer:
    """What the request says (the form, where it comes from, its token), taken by the one vote
    service; the answer is the outcome with the results the widget draws."""
    results = poll.results()
    sandboxed = is_sandboxed_fetch(request)
    form = EmbedVoteForm(request.POST, poll=poll, choices=[row.choice for row in results.rows])
    forbidden = nonce = None
    if sandboxed and not settings.EMBED_SANDBOXED_VOTES:
        forbidden = _("Votes cannot be cast from this page. Nothing was counted.")
    elif not sandboxed and is_cross_site_post(request):
        forbidden = _("Votes can only be cast from the poll itself. Nothing was counted.")
    valid = forbidden is None and form.is_valid()
    if valid:
        check = vote_token_nonce(
            form.cleaned_data["token"],
            poll,
            cookie_voter_hash=voter_hash if from_cookie else None,
            cookie_required=sandboxed,
        )
        nonce, forbidden = check.nonce, check.refusal
        voter_hash = check.voter_hash or voter_hash
    fields = form.cleaned_data if valid else {}
    outcome = vote_take(
        poll=poll,
        voter_hash=voter_hash,
        client_address=client_address(request),
        **form.vote_facts(forbidden or ""),
        source=Ballot.Source.EMBED_SANDBOXED if sandboxed else Ballot.Source.EMBED,
        host_origin=fields.get("host_origin", ""),
        host_path=fields.get("host_path", ""),
        token_nonce=nonce,
        frame_visibility=fields.get("visibility") or Ballot.FrameVisibility.UNKNOWN,
        write_in=fields.get("write_in", ""),
    )
    Kind = VoteOutcome.Kind
    answer = WidgetAnswer(outcome, outcome.message)
    if outcome.kind == Kind.INVALID:
        answer.form = form
    elif outcome.kind == Kind.REPEAT:
        answer.results = poll.results()
    elif outcome.kind == Kind.COUNTED:
        answer.notice = _("Thank you, your vote was counted.")
        ballot = outcome.ballot
        if not poll.shows_counts:
            # Shares moved by this one vote would tell its reader the counts: they see the
            # shares every reader sees.
            answer.results = results
        elif poll.allows_several_answers:
            # Shares of the voters: the vote returns its choices' counts, not how many voted.
            answer.results = (Poll.objects.visible_with_choices(poll.slug) or poll).results()
        else:
            # The results as the reader left them, with their choice's count as the vote
            # returned it.
            answer.results = results.with_count(ballot.choice_id, ballot.choice_votes)
    return answer


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
    if is_unseen_form_vote(request):
        return vote_to_confirm(request, poll)
    cookie_voter = voters.embed_voter_id(request)
    voter_id = cookie_voter or voters.new_voter_id()
    voter_hash = voters.voter_hash(voter_id)
    answer = widget_vote_answer(request, poll, voter_hash, from_cookie=cookie_voter is not None)
    if wants_json(request):
        response = JsonResponse(vote_payload(request, poll, answer), status=answer.status)
        allow_sandboxed_widget(request, response)
    elif answer.status == 200:
        response = render_voted_widget(request, poll, answer.results, answer.ballot, answer.notice)
    else:
        results = answer.results or poll.results()
        response = render_widget(
            request,
            poll,
            results,
            form=answer.form,
            ballot=answer.ballot,
            notice="" if answer.form else answer.notice,
            status=answer.status,
        )
    if answer.retry_after is not None:
        response["Retry-After"] = str(answer.retry_after)
    response["Cache-Control"] = "no-store"
    if answer.status == 200 and answer.ballot.voter_hash == voter_hash:  # not the token's voter
        voters.remember_embed_voter(response, voter_id)
    return response


def is_unseen_form_vote(request: HttpRequest) -> bool:
    """The widget's form, posted by a browser with no word from the widget's script on whether
    the frame could be seen: scripts are off in the frame (a sandbox without allow-scripts, say).
    Browsers mark a form's navigation with Sec-Fetch-Dest (in a frame, or the new tab the form
    opens); the widget's script votes by fetch, with the frame's visibility."""
    destination = request.headers.get("Sec-Fetch-Dest")
    return (
        destination in ("document", "iframe", "frame")
        and not wants_json(request)
        and not request.POST.get("visibility")
        and not is_cross_site_post(request)  # refused as such, below
    )


def vote_to_confirm(request: HttpRequest, poll: Poll) -> HttpResponse:
    """The widget's form sent without its script's word on whether the frame could be seen
    (scripts off): perhaps a click on a transparent frame laid over a decoy. Nothing is counted.
    The form opens in a new tab (target=_blank), where the reader confirms on our poll page,
    which no site can frame, with their choice picked."""
    choice = request.POST.get("choice", "")
    url = poll.get_absolute_url() + (f"?choice={choice}" if choice.isdecimal() else "")
    if request.headers.get("Sec-Fetch-Dest") == "document":
        response = HttpResponseRedirect(url)
        response.status_code = 303
        return response
    # Still in the frame (a browser that kept the form there): say where to vote.
    message = _("To vote without JavaScript, open the poll on our site: %(url)s") % {
        "url": site_origin(request) + url
    }
    return widget_message(message, status=200)


def vote_payload(request: HttpRequest, poll: Poll, answer: WidgetAnswer) -> dict:
    payload = {"ok": answer.status == 200, "message": answer.notice}
    if answer.ballot is not None:
        payload["choice"] = answer.ballot.choice_ids[0]
        payload["voted_choices"] = answer.ballot.choice_ids
    if answer.results is not None:
        payload.update(results_payload(request, poll, answer.results))
    if answer.retry_after is not None:
        payload["retry_after"] = answer.retry_after
    return payload


@csrf_exempt
@require_POST
def widget_token(request: HttpRequest, slug: str) -> JsonResponse:
    """A fresh single-use token, fetched by the widget's script just before it votes: the token
    in the widget's HTML may be shared by every reader a CDN served the same copy to.

    A sandboxed widget cannot read its own cookies, so it asks here, with credentials, which
    choice its reader made: the answer carries it when the reader has voted.
    """
    poll = Poll.objects.visible_with_choices(slug)
    if poll is None or not poll.is_open():
        response = JsonResponse({"error": _("This poll is not open for votes.")}, status=404)
    else:
        # The reader's voter id comes with the token, before the vote, as on our own pages
        # (views.vote_token): a vote whose answer is lost is retried as the same reader.
        voter_id = voters.embed_voter_id(request)
        known = voter_id is not None
        voter_id = voter_id or voters.new_voter_id()
        voter_hash = voters.voter_hash(voter_id)
        payload = {"token": vote_token_issue(poll, voter_hash)}
        ballot = known and ballot_for(poll=poll, voter_hash=voter_hash)
        if known:
            payload["choice"] = ballot.choice_ids[0] if ballot else None
        if ballot:
            payload["voted_choices"] = ballot.choice_ids
        response = JsonResponse(payload)
        if not known:
            voters.remember_embed_voter(response, voter_id)
    response["Cache-Control"] = "no-store"
    return allow_sandboxed_widget(request, response)


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
    results = poll.results()
    etag = results_etag(poll, results)

    def render() -> bytes:
        return JsonResponse(results_payload(request, poll, results)).content

    def build() -> HttpResponse:
        body = poll_cache.polls.rendering(poll, poll_cache.page_key(request, "json"), render)
        return HttpResponse(body, content_type="application/json")

    response = shared_response(request, etag, build)
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Expose-Headers"] = "ETag"
    return response


@require_safe
def embed_js(request: HttpRequest) -> HttpResponse:
    """The script loader at a stable address publishers can paste (static names are hashed)."""
    with open(finders.find("embed/embed.js"), encoding="utf-8") as script:
        response = HttpResponse(script.read(), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "public, max-age=300"
    response["Access-Control-Allow-Origin"] = "*"
    return response


class OEmbedError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def positive_dimension(request: HttpRequest, name: str) -> int | None:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return None
    # ASCII digits only: str.isdigit() also accepts "²" and "٣", which int() then refuses or
    # reads as another number.
    if not re.fullmatch(r"[0-9]{1,6}", raw) or int(raw) <= 0:
        raise OEmbedError(400, f"{name} must be a positive whole number of pixels.")
    return int(raw)


def poll_from_url(request: HttpRequest, url: str) -> Poll:
    if not url:
        raise OEmbedError(400, "The url parameter is required.")
    try:
        parts = urlsplit(url)
        hostname, netloc, _port = parts.hostname, parts.netloc, parts.port
    except ValueError:  # "http://[::1/polls/x/" (an unclosed IPv6 address), a port over 65535
        raise OEmbedError(400, "The url parameter is not a valid URL.") from None
    if parts.scheme not in ("http", "https") or hostname is None:
        raise OEmbedError(404, "That URL is not a poll on this site.")
    ours = {request.get_host(), urlsplit(site_origin(request)).netloc}
    if not (hostname in settings.ALLOWED_HOSTS or netloc in ours):
        raise OEmbedError(404, "That URL is not a poll on this site.")
    try:
        match = resolve(parts.path)
    except Resolver404:
        raise OEmbedError(404, "That URL is not a poll on this site.") from None
    if match.url_name not in ("detail", "results", "embed") or match.namespace != "polls":
        raise OEmbedError(404, "That URL is not a poll on this site.")
    # A scheduled poll too: a partner embeds it ahead, and its widget says when it opens.
    slug = match.kwargs["slug"]
    poll = (Poll.objects.visible() | Poll.objects.scheduled()).filter(slug=slug).first()
    if poll is None:
        raise OEmbedError(404, "That URL is not a poll on this site.")
    return poll


@require_safe
def oembed(request: HttpRequest) -> JsonResponse:
    """oEmbed provider (https://oembed.com), type "rich": the widget in an iframe, sized for
    its tallest state at the width asked for."""
    try:
        if request.GET.get("format", "json") != "json":
            raise OEmbedError(501, "Only the json format is supported.")
        maxwidth = positive_dimension(request, "maxwidth")
        maxheight = positive_dimension(request, "maxheight")
        poll = poll_from_url(request, request.GET.get("url", ""))
    except OEmbedError as error:
        return JsonResponse({"error": str(error)}, status=error.status)
    width, height = oembed_size(poll, maxwidth, maxheight)
    site = site_origin(request)
    response = JsonResponse(
        {
            "version": "1.0",
            "type": "rich",
            "title": poll.question,
            "provider_name": settings.SITE_NAME,
            "provider_url": site + "/",
            "cache_age": 3600,
            "width": width,
            "height": height,
            "html": oembed_html(site, poll, height=height),
        }
    )
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "public, max-age=3600"
    return response
