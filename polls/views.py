"""Our own pages. The pages every reader sees alike (home, a poll's page, its article, its
results) are kept rendered in each worker (polls/poll_cache.py) and may be shared by a cache:
they set no cookie. A reader with a vote or a message of their own (our cookies say so) gets a
page of their own. The vote form's single-use token is filled into each response
(polls/voters.py).
"""

from django.contrib import messages
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from polls import poll_cache, voters
from polls.context_processors import site_origin
from polls.forms import VoteForm
from polls.models import Article, Ballot, Poll
from polls.services import VoteOutcome, ballot_for, vote_take
from polls.sharing import share_links
from polls.vote_request import Channel, VoteRequest, vote_request_parse
from polls.voters import is_cross_site_post, vote_token_issue, with_fresh_vote_token

ARTICLES_PER_PAGE = 20
LATEST_ARTICLES = 5


def has_message(request: HttpRequest) -> bool:
    """A message waits for this reader (the thank-you after a vote): their own page shows it."""
    return CookieStorage.cookie_name in request.COOKIES


def reader_ballot(request: HttpRequest, poll: Poll) -> Ballot | None:
    voter_id = voters.voter_id_from(request)
    return ballot_for(poll=poll, voter_hash=voters.voter_hash(voter_id) if voter_id else None)


def voter_ballot(vote: VoteRequest) -> Ballot | None:
    """The ballot of a vote's reader, where their cookie or token named them."""
    return ballot_for(poll=vote.poll, voter_hash=vote.voter_hash) if vote.voter_known else None


def kept_page(body: bytes, poll: Poll | None = None) -> HttpResponse:
    """A kept page as every reader without a vote or message of their own gets it, with a fresh
    vote token where it has a form. A shared cache may keep it for a few seconds; a reader
    with cookies of ours may get another page (Vary: Cookie)."""
    response = HttpResponse(with_fresh_vote_token(body, poll) if poll else body)
    response["Cache-Control"] = poll_cache.SHARED_CACHE
    patch_vary_headers(response, ["Cookie"])
    return response


@require_safe
def index(request: HttpRequest) -> HttpResponse:
    def render_index() -> HttpResponse:
        polls = Poll.objects.open().with_total_votes().prefetch_related("articles")
        latest = Article.objects.published().prefetch_related("topics")[:LATEST_ARTICLES]
        return render(request, "polls/index.html", {"polls": polls, "articles": latest})

    if has_message(request):
        return render_index()
    key = poll_cache.page_key(request, "index")
    return kept_page(poll_cache.polls.site_rendering(key, lambda: render_index().content))


@require_safe
def article_list(request: HttpRequest) -> HttpResponse:
    articles = Article.objects.published().select_related("poll").prefetch_related("topics")
    page = Paginator(articles, ARTICLES_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "polls/article_list.html", {"page": page})


@require_safe
def archive(request: HttpRequest) -> HttpResponse:
    polls = Poll.objects.closed().with_total_votes().order_by("-closes_at")
    return render(request, "polls/archive.html", {"polls": polls})


@require_safe
def poll_detail(request: HttpRequest, slug: str) -> HttpResponse:
    poll = poll_cache.shared_poll_or_404(slug)
    if not poll.is_open() or reader_ballot(request, poll):
        return redirect("polls:results", slug=poll.slug)
    if has_message(request):
        return poll_page(request, poll)
    picked = request.GET.get("choice", "")
    if picked:
        # From the widget without JavaScript, or a newsletter's link: the reader confirms their
        # choice here. A link alone never votes (mail scanners open every link).
        source = request.GET.get("source", "")
        initial = {"choice": picked, "source": source if source in VoteForm.LINK_SOURCES else ""}
        form = VoteForm(initial=initial, poll=poll, choices=poll.form_choices())
        return poll_page(request, poll, form, confirming=True)
    return kept_page(
        poll_cache.polls.rendering(
            poll,
            poll_cache.page_key(request, "poll"),
            lambda: poll_page(request, poll, vote_token=voters.SLOT).content,
        ),
        poll,
    )


def poll_page(
    request: HttpRequest,
    poll: Poll,
    form: VoteForm | None = None,
    *,
    vote_token: str | None = None,
    status: int = 200,
    confirming: bool = False,
) -> HttpResponse:
    """The poll's own page: its vote form (with the errors of a refused attempt)."""
    context = {
        "confirming": confirming,
        "poll": poll,
        "form": form or VoteForm(poll=poll, choices=poll.form_choices()),
        "vote_token": vote_token or vote_token_issue(poll),
        "results": poll.results() if poll.shows_results_before_voting else None,
        "related_articles": poll.related_articles(),
    }
    return render(request, "polls/poll_detail.html", context, status=status)


@csrf_exempt  # the form's single-use token and its origin prove it is ours: no CSRF cookie
def vote(request: HttpRequest, slug: str) -> HttpResponse:
    if request.method != "POST":
        response = render(request, "polls/vote_get.html", {"slug": slug}, status=405)
        response["Allow"] = "POST"
        return response
    poll = poll_cache.shared_poll_or_404(slug)
    vote = vote_request_parse(request, poll, Channel.OUR_PAGES)
    return vote_answer(request, vote, vote_take(vote))


def vote_answer(request: HttpRequest, vote: VoteRequest, outcome: VoteOutcome) -> HttpResponse:
    """Our pages' answer to a vote: the reader stays on the article the vote was cast on, or
    on the poll; the form again where nothing was counted and a fresh form may still vote."""
    Kind = VoteOutcome.Kind
    poll, article = vote.poll, vote.article
    if outcome.kind in (Kind.INVALID, Kind.FORBIDDEN, Kind.FORM_USED):
        # Nothing was counted: the form again, with why, and a fresh token to try again with.
        form = vote.form
        if not form.errors or outcome.kind != Kind.INVALID:
            form.add_error(None, outcome.message)
        if article:
            return article_response(request, article, poll, form=form, status=outcome.status)
        return poll_page(request, poll, form, status=outcome.status)
    if outcome.kind != Kind.COUNTED:
        if article:
            response = article_response(
                request,
                article,
                poll,
                ballot=outcome.ballot,
                refusal=outcome.message,
                status=outcome.status,
            )
        else:
            # A repeat's earlier ballot came with it; a reader refused otherwise (a closed poll,
            # the rate limit) may still have voted before.
            response = results_response(
                request,
                poll,
                ballot=outcome.ballot or voter_ballot(vote),
                refusal=outcome.message,
                status=outcome.status,
            )
        if outcome.retry_after is not None:
            response["Retry-After"] = str(outcome.retry_after)
        return response
    messages.success(request, _("Thank you, your vote has been counted."))
    if article:
        # Back to the poll box on the article, which now shows the results.
        response = redirect(f"{article.get_absolute_url()}#poll")
    else:
        response = redirect("polls:results", slug=poll.slug)
    response.status_code = 303
    if vote.voter_to_remember:
        vote.voter_to_remember.remember(response)
    return response


@require_safe
def results(request: HttpRequest, slug: str) -> HttpResponse:
    if voters.voter_id_from(request) or has_message(request):
        # "Your vote", or the thank-you message after voting: this reader's own page.
        poll = poll_cache.visible_poll_or_404(slug)
        return results_response(request, poll, ballot=reader_ballot(request, poll))
    # Everyone else, most of a front-page burst, sees the same page until the poll changes.
    poll = poll_cache.shared_poll_or_404(slug)
    key = poll_cache.page_key(request, "results")
    return kept_page(
        poll_cache.polls.rendering(poll, key, lambda: results_response(request, poll).content)
    )


def results_response(
    request: HttpRequest,
    poll: Poll,
    *,
    ballot: Ballot | None = None,
    refusal: str = "",
    status: int = 200,
) -> HttpResponse:
    context = {
        "poll": poll,
        "results": poll.results(),
        "ballot": ballot,
        "refusal": refusal,
        "related_articles": poll.related_articles(),
        "share_links": share_links(site_origin(request), poll),
    }
    return render(request, "polls/results.html", context, status=status)


@require_safe
def article_detail(request: HttpRequest, slug: str) -> HttpResponse:
    # Read before the article: nothing read from an article edited meanwhile is kept.
    since = poll_cache.polls.generation
    # A warm worker knows which poll the article carries, and reads the article only to render.
    poll_slug = poll_cache.polls.article_poll(slug)
    read: list[Article] = []

    def article() -> Article:
        if not read:
            published = Article.objects.published().select_related("poll")
            read.append(get_object_or_404(published, slug=slug))
        return read[0]

    if poll_slug is None:
        poll_slug = article().poll.slug if article().poll else None
    try:
        poll = poll_slug and poll_cache.shared_poll_or_404(poll_slug)
    except Http404:  # not published yet, or no longer
        poll = None
    if not poll:
        return article_response(request, article(), None)
    if read:
        poll_cache.polls.article_poll_found(slug, poll.slug, since)
    ballot = reader_ballot(request, poll)
    if ballot or has_message(request):
        # This reader's own page, their vote in its figures: read fresh, as the results page
        # is. This worker may not have heard yet of the vote another worker counted.
        poll = poll_cache.visible_poll_or_404(poll.slug)
        return article_response(request, article(), poll, ballot=ballot)
    return kept_page(
        poll_cache.polls.rendering(
            poll,
            poll_cache.page_key(request, "article"),
            lambda: article_response(request, article(), poll, vote_token=voters.SLOT).content,
            since=since,
        ),
        poll,
    )


def article_response(
    request: HttpRequest,
    article: Article,
    poll: Poll | None,
    *,
    ballot: Ballot | None = None,
    form: VoteForm | None = None,
    refusal: str = "",
    status: int = 200,
    vote_token: str | None = None,
) -> HttpResponse:
    """The article with its poll: the vote form (with the errors of a refused attempt), or the
    results once this reader has voted, the poll has closed, or a vote was refused."""
    context = {
        "article": article,
        "poll": poll,
        "ballot": ballot,
        "refusal": refusal,
        "related_articles": article.related_articles(),
    }
    if poll and poll.is_open() and not ballot and not refusal:
        context["form"] = form or VoteForm(
            initial={"article": article.slug}, poll=poll, choices=poll.form_choices()
        )
        context["vote_token"] = vote_token or vote_token_issue(poll)
        if poll.shows_results_before_voting:
            context["results"] = poll.results()
    elif poll:
        context["results"] = poll.results()
    return render(request, "polls/article_detail.html", context, status=status)


@csrf_exempt  # asked for by our own pages' script; another site's is refused below
@require_POST
def vote_token(request: HttpRequest, slug: str) -> JsonResponse:
    """A fresh single-use token, fetched by vote.js just before the form is sent: the one in
    the page may be a copy a shared cache gave to other readers too. The reader's voter id
    comes with it, given here and not with the page, so that the page sets no cookie: should
    the vote's answer be lost after its ballot committed, the retry carries the same id and is
    refused as a repeat, not counted twice."""
    try:
        poll = poll_cache.shared_poll_or_404(slug)
    except Http404:
        poll = None
    if is_cross_site_post(request):
        refusal = _("Votes can only be cast from our own pages.")
        response = JsonResponse({"error": refusal}, status=403)
    elif poll is None or not poll.is_open():
        response = JsonResponse({"error": _("This poll is not open for votes.")}, status=404)
    else:
        voter = voters.Voter.of(request, framed=False)
        response = JsonResponse({"token": vote_token_issue(poll, voter.voter_hash)})
        if not voter.known:
            voter.remember(response)
    response["Cache-Control"] = "no-store"
    return response


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return render(request, "403_csrf.html", status=403)


# Error pages. Django's own error views (django.views.defaults, 6.1) run the CSRF check again
# (@requires_csrf_token) in case their templates use {% csrf_token %}; ours never do. For a POST
# whose body cannot be read, a form in latin-1 say, that second check raised the request's
# BadRequest again from inside the 400 page, and the reader got a 500.


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    return render(request, "400.html", status=400)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    return render(request, "403.html", status=403)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    return HttpResponse(render_to_string("500.html"), status=500)
