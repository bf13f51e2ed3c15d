from django.contrib import messages
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from polls import poll_cache, voters
from polls.context_processors import site_origin
from polls.forms import VoteForm
from polls.models import Article, Ballot, Choice, Poll
from polls.rate_limit import client_address
from polls.services import VoteOutcome, ballot_for, vote_take
from polls.snippets import embed_snippets

ARTICLES_PER_PAGE = 20
LATEST_ARTICLES = 5


def reader_choices(request: HttpRequest, poll: Poll) -> tuple[list[Choice], str | None]:
    """The poll's choices in this reader's order, and the voter id to give a reader who has
    none yet, given with the page: a shuffled poll's order is seeded by who the reader is, so
    it stays the same across reloads."""
    voter_id = voters.voter_id_from(request)
    if not poll.shuffle_choices:
        # The page is the same for everyone: no id needed yet (vote.js asks for it).
        return list(poll.choices.all()), None
    new_voter_id = None
    if voter_id is None:
        voter_id = new_voter_id = voters.new_voter_id()
    return poll.choices_for_reader(voters.voter_hash(voter_id)), new_voter_id


def reader_ballot(request: HttpRequest, poll: Poll) -> Ballot | None:
    voter_id = voters.voter_id_from(request)
    return ballot_for(poll=poll, voter_hash=voters.voter_hash(voter_id) if voter_id else None)


@require_safe
def index(request: HttpRequest) -> HttpResponse:
    polls = Poll.objects.open().with_total_votes().prefetch_related("articles")
    latest = Article.objects.published().prefetch_related("topics")[:LATEST_ARTICLES]
    return render(request, "polls/index.html", {"polls": polls, "articles": latest})


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
    poll = poll_cache.visible_poll_or_404(slug)
    if not poll.is_open() or reader_ballot(request, poll):
        return redirect("polls:results", slug=poll.slug)
    choices, new_voter_id = reader_choices(request, poll)
    form = VoteForm(poll=poll, choices=choices)
    context = {
        "poll": poll,
        "form": form,
        "results": poll.results() if poll.shows_results_before_voting else None,
        "related_articles": poll.related_articles(),
        "embed": embed_snippets(site_origin(request), poll),
    }
    response = render(request, "polls/poll_detail.html", context)
    if new_voter_id:  # a shuffled poll's order depends on who the reader is: keep it
        voters.remember_voter(response, new_voter_id)
    return response


def vote(request: HttpRequest, slug: str) -> HttpResponse:
    if request.method != "POST":
        response = render(request, "polls/vote_get.html", {"slug": slug}, status=405)
        response["Allow"] = "POST"
        return response
    poll = poll_cache.visible_poll_or_404(slug)
    form = VoteForm(request.POST, poll=poll, choices=reader_choices(request, poll)[0])
    form.is_valid()
    # The article the vote was cast on: the reader stays on it, whatever the outcome.
    article_slug = form.cleaned_data.get("article")
    article = poll.articles.published().filter(slug=article_slug).first() if article_slug else None
    if article_slug and article is None:
        form.add_error(None, _("This poll is not shown on that article."))
    voter_id = voters.voter_id_from(request) or voters.new_voter_id()
    valid = form.is_valid()
    outcome = vote_take(
        poll=poll,
        voter_hash=voters.voter_hash(voter_id),
        client_address=client_address(request),
        choices=form.selected_choices() if valid else None,
        invalid="" if valid else form.error_text(),
        source=Ballot.Source.ARTICLE if article else Ballot.Source.POLL_PAGE,
        article=article,
        write_in=form.cleaned_data.get("write_in", "") if valid else "",
    )
    if outcome.kind == VoteOutcome.Kind.INVALID and not form.errors:
        form.add_error(None, outcome.message)  # refused by the service, not by the form
    if outcome.kind == VoteOutcome.Kind.INVALID:
        if article:
            return article_response(request, article, form=form, status=400)
        context = {
            "poll": poll,
            "form": form,
            "related_articles": poll.related_articles(),
            "embed": embed_snippets(site_origin(request), poll),
        }
        return render(request, "polls/poll_detail.html", context, status=400)
    if outcome.kind != VoteOutcome.Kind.COUNTED:
        response = refusal_response(request, poll, article, outcome.message, outcome.status)
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
    voters.remember_voter(response, voter_id)
    return response


@require_safe
def results(request: HttpRequest, slug: str) -> HttpResponse:
    if voters.voter_id_from(request) or CookieStorage.cookie_name in request.COOKIES:
        # "Your vote", or the thank-you message after voting: this reader's own page.
        return results_response(request, poll_cache.visible_poll_or_404(slug))
    # Everyone else, most of a front-page burst, sees the same page until the poll changes.
    poll = poll_cache.shared_poll_or_404(slug)
    key = ("results", site_origin(request), request.path, get_language())
    return HttpResponse(
        poll_cache.polls.rendering(poll, key, lambda: results_response(request, poll).content)
    )


def refusal_response(
    request: HttpRequest, poll: Poll, article: Article | None, refusal: str, status: int
) -> HttpResponse:
    if article:
        return article_response(request, article, refusal=refusal, status=status)
    return results_response(request, poll, refusal=refusal, status=status)


def results_response(
    request: HttpRequest, poll: Poll, refusal: str = "", status: int = 200
) -> HttpResponse:
    context = {
        "poll": poll,
        "results": poll.results(),
        "ballot": reader_ballot(request, poll),
        "refusal": refusal,
        "related_articles": poll.related_articles(),
        "embed": embed_snippets(site_origin(request), poll),
    }
    return render(request, "polls/results.html", context, status=status)


@require_safe
def article_detail(request: HttpRequest, slug: str) -> HttpResponse:
    article = get_object_or_404(Article.objects.published().select_related("poll"), slug=slug)
    return article_response(request, article)


def article_response(
    request: HttpRequest,
    article: Article,
    form: VoteForm | None = None,
    refusal: str = "",
    status: int = 200,
) -> HttpResponse:
    """The article with its poll: the vote form (with the errors of a refused attempt), or the
    results once this reader has voted, the poll has closed, or a vote was refused."""
    poll = article.poll if article.poll and article.poll.is_visible() else None
    context = {
        "article": article,
        "poll": poll,
        "refusal": refusal,
        "related_articles": article.related_articles(),
    }
    new_voter_id = None
    if poll:
        ballot = reader_ballot(request, poll)
        context["ballot"] = ballot
        if poll.is_open() and not ballot and not refusal:
            choices, new_voter_id = reader_choices(request, poll)
            context["form"] = form or VoteForm(
                initial={"article": article.slug}, poll=poll, choices=choices
            )
            if poll.shows_results_before_voting:
                context["results"] = poll.results()
        else:
            context["results"] = poll.results()
    response = render(request, "polls/article_detail.html", context, status=status)
    if new_voter_id:  # a shuffled poll's order depends on who the reader is: keep it
        voters.remember_voter(response, new_voter_id)
    return response


@require_POST
def voter_id(request: HttpRequest) -> HttpResponse:
    """The reader's voter id, asked for by vote.js just before the form is sent (CSRF-checked
    like the form). Should the vote's answer then be lost after its ballot committed, the
    retry carries the same id and is refused as a repeat, not counted twice. Given here and not
    with the form page, so that page sets no cookie of its own."""
    response = HttpResponse(status=204)
    response["Cache-Control"] = "no-store"
    voters.give_voter_id(request, response)
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
