from datetime import datetime

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import BadRequest, PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.defaultfilters import pluralize
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.csp import CSP
from django.utils.formats import date_format
from django.utils.html import format_html
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csp import csp_override

from polls import charts, editing, engagement, exports
from polls.admin_forms import (
    CONFIRM_FIELD,
    ChoiceInlineFormSet,
    PollAdminForm,
    ThemeForm,
    answers,
    ballot_count,
    choice_form_keeping_voted_choices,
)
from polls.context_processors import site_origin
from polls.forms import VoteForm
from polls.models import (
    Article,
    Ballot,
    Choice,
    Poll,
    PollResults,
    SeenCount,
    Theme,
    Topic,
    WriteInMove,
)
from polls.snippets import embed_snippets, newsletter_block, opening_notice

BOTH = [admin.ActionLocation.CHANGE_LIST, admin.ActionLocation.CHANGE_FORM]


def figures(results: PollResults) -> str:
    """A poll's totals as the widget gives them: "12 votes", or "5 voters, 8 answers" where
    each reader may pick several answers."""
    if results.voters is None:
        return f"{results.total} vote{pluralize(results.total)}"
    return (
        f"{results.voters} voter{pluralize(results.voters)}, "
        f"{results.total} answer{pluralize(results.total)}"
    )


def local_time(moment: datetime, format: str = "M j Y, H:i") -> str:
    """A time as editors read it everywhere in the admin: in the site's time zone (TIME_ZONE,
    the newsroom's), naming the zone ("Dec 7 2026, 07:00 CET")."""
    return date_format(timezone.localtime(moment), f"{format} T")


class ChoiceInline(admin.TabularInline):
    model = Choice
    formset = ChoiceInlineFormSet
    fields = ["position", "text", "stays_last", "is_write_in", "votes"]
    readonly_fields = ["votes"]
    min_num = 2
    ordering = ["position", "id"]
    classes = ["choice-inline"]

    def get_extra(self, request: HttpRequest, obj: Poll | None = None, **kwargs) -> int:
        # A new poll starts with four rows (the common case), a saved one with one empty row.
        return 2 if obj is None else 1

    def get_formset(self, request: HttpRequest, obj: Poll | None = None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = choice_form_keeping_voted_choices(formset.form)
        return formset


class PollStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [
            ("draft", "Draft"),
            ("scheduled", "Scheduled"),
            ("open", "Open"),
            ("closed", "Closed"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        now = timezone.now()
        published = queryset.filter(status=Poll.Status.PUBLISHED)
        match self.value():
            case "draft":
                return queryset.filter(status=Poll.Status.DRAFT)
            case "scheduled":
                return published.filter(opens_at__gt=now)
            case "open":
                return queryset.filter(pk__in=Poll.objects.open(now))
            case "closed":
                return queryset.filter(pk__in=Poll.objects.closed(now))
        return queryset


class RowsByIdAdmin(admin.ModelAdmin):
    """An action on rows named by something other than an id (a forged or garbled form) is a
    400: Django would put the text into a query on the integer key, and answer 500."""

    def response_action(self, request: HttpRequest, queryset: QuerySet, **kwargs):
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        if not all(value.isascii() and value.isdecimal() for value in selected):
            raise BadRequest("The selection names no row.")
        return super().response_action(request, queryset, **kwargs)


# The newsletter block's preview: email needs inline styles, so its own document allows them
# (and nothing else inline: no script at all), and only the poll's admin page may frame it.
NEWSLETTER_PREVIEW_POLICY = {
    **settings.SECURE_CSP,
    "script-src": [CSP.NONE],
    "style-src": [CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:", *([settings.SITE_URL] if settings.SITE_URL else [])],
    "frame-ancestors": [CSP.SELF],
}


def newsletter_preview_framed(view):
    return csp_override(NEWSLETTER_PREVIEW_POLICY)(xframe_options_sameorigin(view))


@admin.register(Poll)
class PollAdmin(RowsByIdAdmin):
    form = PollAdminForm
    list_display = [
        "question",
        "state",
        "mode",
        "total_votes",
        "engagement_rate",
        "last_vote_at",
        "schedule",
    ]
    list_filter = [PollStateFilter, "status", "results_shown", "opens_at"]
    search_fields = ["question", "slug", "choices__text"]
    prepopulated_fields = {"slug": ["question"]}
    date_hierarchy = "opens_at"
    # Explicit: the vote totals' GROUP BY drops Meta.ordering, and autocomplete pages results.
    ordering = ["-opens_at", "-id"]
    inlines = [ChoiceInline]
    actions = ["close_now", "reopen", "duplicate", "export_results_csv", "export_ballots_csv"]
    change_form_template = "admin/polls/poll/change_form.html"

    class Media:
        css = {"all": ["admin_polls/poll_admin.css"]}
        js = ["admin_polls/poll_admin.js"]

    def get_fieldsets(self, request: HttpRequest, obj: Poll | None = None) -> list:
        # "articles" and the confirmation are form fields, not model fields: someone who may
        # only view the poll gets a read-only list of the articles instead.
        can_change = obj is None or self.has_change_permission(request, obj)
        fieldsets = [
            (None, {"fields": ["question", "slug", "status"]}),
            (
                "Answers and results",
                {"fields": ["max_answers", "shuffle_choices", "results_shown", "percentages_only"]},
            ),
            ("Schedule", {"fields": ["opens_at", "closes_at"]}),
            ("Where it appears", {"fields": ["articles" if can_change else "shown_on"]}),
        ]
        if can_change and obj is not None and ballot_count(obj):
            fieldsets.append(("Readers have voted", {"fields": [CONFIRM_FIELD]}))
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Poll | None = None) -> list:
        return ["shown_on"]

    @admin.display(description="Articles")
    def shown_on(self, poll: Poll) -> str:
        return ", ".join(str(article) for article in poll.articles.all()) or "None"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        ballots = Ballot.objects.filter(poll=OuterRef("pk"))
        last_vote = ballots.order_by("-cast_at").values("cast_at")[:1]
        voters = ballots.values("poll").annotate(n=Count("pk")).values("n")
        seen = (
            SeenCount.objects.filter(poll=OuterRef("pk"))
            .values("poll")
            .annotate(n=Sum("seen"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .with_total_votes()
            .annotate(
                last_vote_at=Subquery(last_vote),
                voters=Coalesce(Subquery(voters), 0),
                seen=Coalesce(Subquery(seen), 0),
            )
        )

    @admin.display(description="State")
    def state(self, poll: Poll) -> str:
        state = poll.state()
        return format_html(
            '<span class="poll-state poll-state--{}">{}</span>', state, state.title()
        )

    @admin.display(description="Mode")
    def mode(self, poll: Poll) -> str:
        shown = {
            Poll.ResultsShown.ALWAYS: "results always shown",
            Poll.ResultsShown.AFTER_VOTING: "results after voting",
            Poll.ResultsShown.AFTER_CLOSE: "results after the close",
        }[poll.results_shown]
        parts = [answers(poll.max_answers).capitalize(), shown]
        if poll.shuffle_choices:
            parts.insert(1, "shuffled")
        if poll.percentages_only:
            parts.append("percentages only")
        return "; ".join(parts)

    @admin.display(description="Votes", ordering="total_votes")
    def total_votes(self, poll: Poll) -> int | str:
        if not poll.allows_several_answers:
            return poll.total_votes
        return figures(PollResults(rows=[], total=poll.total_votes, voters=poll.voters))

    @admin.display(description="Engagement", ordering="seen")
    def engagement_rate(self, poll: Poll) -> str:
        """Votes (voters) per reader who saw the poll, and how many saw it."""
        if not poll.seen:
            return "Not seen yet"
        row = engagement.EngagementRow("", poll.seen, poll.voters)
        return f"{row.rate_text} of {poll.seen:,} seen"

    @admin.display(description="Last vote", ordering="last_vote_at", empty_value="No votes yet")
    def last_vote_at(self, poll: Poll) -> str | None:
        return poll.last_vote_at and local_time(poll.last_vote_at, "M j, H:i")

    @admin.display(description="Runs", ordering="opens_at")
    def schedule(self, poll: Poll) -> str:
        opens = local_time(poll.opens_at)
        if poll.closes_at is None:
            return f"{opens} → until closed"
        return f"{opens} → {local_time(poll.closes_at)}"

    # "Save" stays on the poll's page, where its results, embed codes and preview are; the
    # list is one click away in the breadcrumbs.
    def response_post_save_add(self, request: HttpRequest, obj: Poll) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:polls_poll_change", args=[obj.pk]))

    def response_post_save_change(self, request: HttpRequest, obj: Poll) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:polls_poll_change", args=[obj.pk]))

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        form.save_articles(form.instance)

    # The poll's page: results, charts, snippets and preview above the form.

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None
    ) -> HttpResponse:
        poll = self.get_object(request, object_id)
        if poll is not None and self.has_view_or_change_permission(request, poll):
            extra_context = {**(extra_context or {}), **self.report_context(request, poll)}
        return super().change_view(request, object_id, form_url, extra_context)

    def report_context(self, request: HttpRequest, poll: Poll) -> dict:
        over_time = charts.votes_over_time(poll)
        days, day_unit = charts.readable_days(over_time.daily)
        results = poll.results()
        # Charts and sources count ballots: votes, or voters where a ballot has several answers.
        unit = "voter" if poll.allows_several_answers else "vote"
        return {
            "results": results,
            "figures": figures(results),
            "ballot_unit": unit,
            "poll_state": poll.state(),
            "schedule": self.schedule_sentence(poll),
            "poll_actions": self.poll_actions(request, poll),
            "time_zone": timezone.get_current_timezone_name(),
            "over_time": over_time,
            "hourly_chart": charts.bar_chart_svg(
                over_time.hourly,
                by="hour",
                title=f"{unit.capitalize()}s per hour, first two days",
                unit=unit,
            ),
            "daily_chart": charts.bar_chart_svg(
                days,
                by=day_unit,
                title=f"{unit.capitalize()}s per {day_unit}, after the first two days",
                unit=unit,
            ),
            "daily_unit": day_unit,
            "sources": charts.votes_by_source(poll),
            "engagement": engagement.poll_engagement(poll),
            "seen_chart": charts.seen_and_votes_svg(
                over_time.hourly,
                engagement.seen_per_hour(poll, [bucket.start for bucket in over_time.hourly]),
                unit=unit,
            ),
            "hidden_frames": charts.votes_from_hidden_frames(poll),
            "snippets": self.snippet_rows(request, poll),
            "newsletter": self.newsletter_rows(request, poll),
            "opening_notice": opening_notice(poll) if poll.state() == "scheduled" else "",
            "preview_form": self.preview_document(request, poll, with_form=True),
            "preview_results": self.preview_document(request, poll, with_form=False),
            "write_ins_pending": poll.ballots.filter(
                write_in_status=Ballot.WriteInStatus.PENDING
            ).count(),
        }

    # At the top of the poll's page: what an editor does to a poll (the exports sit with the
    # results). Django's own action menu stays at the top of the form, far down the page.
    TOP_ACTIONS = {
        "close_now": lambda poll: poll.state() == "open",
        "reopen": lambda poll: poll.state() == "closed",
        "duplicate": lambda poll: True,
    }

    def poll_actions(self, request: HttpRequest, poll: Poll) -> list[tuple[str, str]]:
        """The actions this editor may take on this poll now, as (name, label)."""
        actions = self.get_actions(request, action_location=admin.ActionLocation.CHANGE_FORM)
        return [
            (name, actions[name].description)
            for name, applies in self.TOP_ACTIONS.items()
            if name in actions and applies(poll)
        ]

    def schedule_sentence(self, poll: Poll, now: datetime | None = None) -> str:
        now = now or timezone.now()
        if poll.status == Poll.Status.DRAFT:
            if poll.opens_at <= now:
                return "A draft: readers see it once you publish it."
            return f"A draft: once published, it opens {local_time(poll.opens_at)}."
        opens = f"{'Opens' if poll.opens_at > now else 'Opened'} {local_time(poll.opens_at)}"
        if poll.closes_at is None:
            return f"{opens}, open until closed."
        closes = "closes" if poll.closes_at > now else "closed"
        return f"{opens}, {closes} {local_time(poll.closes_at)}."

    def snippet_rows(self, request: HttpRequest, poll: Poll) -> list[tuple[str, str, str]]:
        snippets = embed_snippets(site_origin(request), poll)
        return [
            ("script", "Script loader (recommended)", snippets["loader"]),
            ("iframe", "Plain iframe (works without JavaScript)", snippets["iframe"]),
            ("oembed_url", "Poll URL, for sites that embed from a link (oEmbed)", snippets["url"]),
        ]

    def newsletter_rows(self, request: HttpRequest, poll: Poll) -> list[tuple[str, ...]]:
        """The newsletter block's versions: (key, label, code, address of its preview)."""
        site = site_origin(request)
        preview = reverse("admin:polls_poll_newsletter_preview", args=[poll.pk])
        return [
            (
                "newsletter-vote",
                "Question and answers",
                newsletter_block(site, poll, with_results=False),
                preview,
            ),
            (
                "newsletter-results",
                "With the results so far (the share card)",
                newsletter_block(site, poll, with_results=True),
                preview + "?results=1",
            ),
        ]

    def preview_document(self, request: HttpRequest, poll: Poll, *, with_form: bool) -> str:
        """The reader's widget as a standalone HTML page, shown in a sandboxed iframe (srcdoc):
        the site's own CSS cannot clash with the admin's, and the sandbox allows no form
        submission, so no vote can be cast from the preview."""
        choices = list(poll.choices.all())
        context = {"poll": poll}
        if with_form:
            context["form"] = VoteForm(poll=poll, choices=choices)
        if not with_form or poll.shows_results_before_voting:
            context["results"] = poll.results()
        return render_to_string("admin/polls/poll/widget_preview.html", context, request)

    def get_urls(self) -> list:
        def wrap(view):
            return self.admin_site.admin_view(view)

        return [
            path(
                "<path:object_id>/preview/",
                wrap(self.reader_preview),
                name="polls_poll_preview",
            ),
            path(
                "<path:object_id>/newsletter/",
                wrap(newsletter_preview_framed(self.newsletter_preview)),
                name="polls_poll_newsletter_preview",
            ),
            path(
                "<path:object_id>/write-ins/",
                wrap(self.write_ins),
                name="polls_poll_write_ins",
            ),
            path(
                "<path:object_id>/results.csv",
                wrap(self.results_csv),
                name="polls_poll_results_csv",
            ),
            path(
                "<path:object_id>/engagement.csv",
                wrap(self.engagement_csv),
                name="polls_poll_engagement_csv",
            ),
            path(
                "<path:object_id>/ballots.csv",
                wrap(self.ballots_csv),
                name="polls_poll_ballots_csv",
            ),
            *super().get_urls(),
        ]

    def viewable_poll(self, request: HttpRequest, object_id: str) -> Poll:
        poll = self.get_object(request, object_id)
        if poll is None:
            raise Http404("No such poll.")
        if not self.has_view_or_change_permission(request, poll):
            raise PermissionDenied
        return poll

    def get_view_on_site_url(self, obj: Poll | None = None) -> str | None:
        # Readers cannot open a draft or a scheduled poll yet; editors see it as readers will.
        if obj is not None and not obj.is_visible():
            return reverse("admin:polls_poll_preview", args=[obj.pk])
        return super().get_view_on_site_url(obj)

    def reader_preview(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The reader's poll page for a poll readers cannot see yet, marked as a preview."""
        poll = self.viewable_poll(request, object_id)
        context = {
            "poll": poll,
            "form": VoteForm(poll=poll, choices=list(poll.choices.all())),
            "results": poll.results() if poll.shows_results_before_voting else None,
            "related_articles": poll.related_articles(),
            "preview": poll.state(),
        }
        return TemplateResponse(request, "polls/poll_detail.html", context)

    def newsletter_preview(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The newsletter block as a mail client shows it, for the poll's page to frame:
        ?results=1 for the version with the share card."""
        poll = self.viewable_poll(request, object_id)
        with_results = request.GET.get("results") == "1"
        block = newsletter_block(site_origin(request), poll, with_results=with_results)
        return TemplateResponse(
            request, "admin/polls/poll/newsletter_preview.html", {"block": block, "poll": poll}
        )

    WRITE_INS_PER_PAGE = 100

    def write_ins(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The poll's moderation list: its readers' write-ins by status, to approve, reject or
        merge into a new choice (polls/editing.py), and the moves made so far."""
        poll = self.viewable_poll(request, object_id)
        statuses = Ballot.WriteInStatus
        status = request.GET.get("status", statuses.PENDING)
        if status not in statuses.values:
            status = statuses.PENDING
        may_moderate = request.user.has_perm("polls.moderate_write_ins")
        if request.method == "POST":
            if not may_moderate:
                raise PermissionDenied
            if confirmation := self.moderate(request, poll, status):
                return confirmation
            url = reverse("admin:polls_poll_write_ins", args=[poll.pk])
            return HttpResponseRedirect(f"{url}?status={status}", status=303)
        ballots = (
            poll.ballots.filter(write_in_status=status)
            .select_related("choice")
            .prefetch_related("picks__choice")
            .order_by("cast_at", "id")
        )
        page = Paginator(ballots, self.WRITE_INS_PER_PAGE).get_page(request.GET.get("page"))
        totals = dict(
            poll.ballots.exclude(write_in_status="")
            .values_list("write_in_status")
            .annotate(n=Count("pk"))
            .values_list("write_in_status", "n")
        )
        moves = poll.write_in_moves.select_related("from_choice", "to_choice").prefetch_related(
            "ballots"
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": poll,
            "title": f"Write-ins: {poll}",
            "poll": poll,
            "write_in_choice": poll.write_in_choice,
            "status": status,
            "tabs": [(value, label, totals.get(value, 0)) for value, label in statuses.choices],
            "page": page,
            "moves": moves,
            "may_moderate": may_moderate and status != statuses.MERGED,
            "choice_texts": [c.text for c in poll.choices.all() if not c.is_write_in],
        }
        return TemplateResponse(request, "admin/polls/poll/write_ins.html", context)

    def moderate(self, request: HttpRequest, poll: Poll, status: str) -> HttpResponse | None:
        """Approve, reject or merge the selected write-ins; a merge is first shown for the
        editor to confirm (the page returned), then made."""
        try:
            ballot_ids = [int(pk) for pk in request.POST.getlist("ballot")]
        except ValueError:
            ballot_ids = []
        if not ballot_ids:
            self.message_user(request, "Select one or more write-ins first.", messages.WARNING)
            return None
        action = request.POST.get("action")
        try:
            if action == "merge" and request.POST.get("confirmed") != "yes":
                plan = editing.write_ins_merge_plan(
                    poll=poll, ballot_ids=ballot_ids, text=request.POST.get("choice_text", "")
                )
                return self.merge_confirmation(request, poll, plan, ballot_ids, status)
            if action == "merge":
                move = editing.write_ins_merge(
                    poll=poll,
                    ballot_ids=ballot_ids,
                    text=request.POST.get("choice_text", ""),
                    editor=request.user,
                )
                ballots = move.ballots.count()
                done = (
                    f"{ballots} write-in{pluralize(ballots)} merged into “{move.to_choice}”: "
                    f"{move.votes_moved} vote{pluralize(move.votes_moved)} moved there from "
                    f"“{move.from_choice}”."
                )
            elif action in ("approve", "reject"):
                status = {"approve": "approved", "reject": "rejected"}[action]
                changed = editing.write_ins_decide(poll=poll, ballot_ids=ballot_ids, status=status)
                done = f"{changed} write-in(s) {status}."
            else:
                raise editing.EditRefused("Choose approve, reject or merge.")
        except editing.EditRefused as refusal:
            self.message_user(request, str(refusal), messages.WARNING)
            return None
        self.log_change(request, poll, f"Write-ins: {done}")
        self.message_user(request, done, messages.SUCCESS)
        return None

    def merge_confirmation(
        self,
        request: HttpRequest,
        poll: Poll,
        plan: editing.MergePlan,
        ballot_ids: list[int],
        status: str,
    ) -> HttpResponse:
        write_ins = poll.ballots.filter(
            pk__in=ballot_ids, write_in_status__in=editing.MODERATED
        ).order_by("cast_at", "id")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": poll,
            "title": "Merge write-ins?",
            "poll": poll,
            "plan": plan,
            "write_ins": write_ins,
            "status": status,
        }
        return TemplateResponse(request, "admin/polls/poll/write_ins_merge.html", context)

    def results_csv(self, request: HttpRequest, object_id: str) -> HttpResponse:
        poll = self.viewable_poll(request, object_id)
        return exports.results_csv_response(Poll.objects.filter(pk=poll.pk))

    def engagement_csv(self, request: HttpRequest, object_id: str) -> HttpResponse:
        poll = self.viewable_poll(request, object_id)
        return exports.engagement_csv_response(poll)

    def ballots_csv(self, request: HttpRequest, object_id: str) -> HttpResponse:
        poll = self.viewable_poll(request, object_id)
        return exports.ballots_csv_response(Poll.objects.filter(pk=poll.pk))

    # Actions, on the list and on a poll's page (Django's change-form actions).

    @admin.action(
        description="Close this poll now",
        description_plural="Close the selected polls now",
        permissions=["change"],
        location=BOTH,
    )
    def close_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.apply(request, queryset, editing.poll_close, "closed")

    @admin.action(
        description="Reopen this poll",
        description_plural="Reopen the selected closed polls",
        permissions=["change"],
        location=BOTH,
    )
    def reopen(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.apply(request, queryset, editing.poll_reopen, "reopened")

    def apply(self, request: HttpRequest, queryset: QuerySet, change, done: str) -> None:
        for poll in queryset:
            try:
                change(poll=poll)
            except editing.EditRefused as refusal:
                self.message_user(request, str(refusal), messages.WARNING)
            else:
                self.log_change(request, poll, f"{done.capitalize()} from the admin.")
                self.message_user(request, f"“{poll}” is {done}.", messages.SUCCESS)

    @admin.action(
        description="Duplicate this poll (without votes)",
        description_plural="Duplicate the selected polls (without votes)",
        permissions=["add"],
        location=BOTH,
    )
    def duplicate(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        copies = []
        for poll in queryset:
            copy = editing.poll_duplicate(poll=poll)
            self.log_addition(request, copy, f"Duplicated from “{poll.slug}”.")
            copies.append(copy)
        for copy in copies:
            url = reverse("admin:polls_poll_change", args=[copy.pk])
            self.message_user(
                request,
                format_html('Created the draft <a href="{}">{}</a> ({}).', url, copy, copy.slug),
                messages.SUCCESS,
            )
        if len(copies) == 1:
            return HttpResponseRedirect(reverse("admin:polls_poll_change", args=[copies[0].pk]))
        return None

    @admin.action(
        description="Export the results (CSV)",
        description_plural="Export results of the selected polls (CSV)",
        permissions=["view"],
        location=BOTH,
    )
    def export_results_csv(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        return exports.results_csv_response(Poll.objects.filter(pk__in=queryset.values("pk")))

    @admin.action(
        description="Export the ballots (CSV)",
        description_plural="Export ballots of the selected polls (CSV)",
        permissions=["view"],
        location=BOTH,
    )
    def export_ballots_csv(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        return exports.ballots_csv_response(Poll.objects.filter(pk__in=queryset.values("pk")))


@admin.register(Article)
class ArticleAdmin(RowsByIdAdmin):
    list_display = ["title", "author", "published_on", "poll"]
    list_filter = ["topics", "published_on"]
    search_fields = ["title", "summary", "author"]
    prepopulated_fields = {"slug": ["title"]}
    date_hierarchy = "published_on"
    filter_horizontal = ["topics", "pinned_related"]
    autocomplete_fields = ["poll"]
    list_select_related = ["poll"]
    readonly_fields = ["sidebar_preview"]
    fieldsets = [
        (None, {"fields": ["title", "slug", "author", "published_on", "summary", "body"]}),
        ("Poll and related articles", {"fields": ["poll", "topics", "pinned_related"]}),
        ("Sidebar preview", {"fields": ["sidebar_preview"]}),
    ]

    class Media:
        css = {"all": ["admin_polls/poll_admin.css"]}

    @admin.display(description="Related articles readers will see")
    def sidebar_preview(self, article: Article) -> str:
        if not article.pk:
            return "Save the article to see its related articles."
        return render_to_string(
            "admin/polls/article/sidebar_preview.html",
            {"related_articles": article.related_articles()},
        )


@admin.register(Theme)
class ThemeAdmin(RowsByIdAdmin):
    form = ThemeForm
    list_display = ["name", "slug", "is_default", "sites", "color_scheme"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["preview"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "is_default", "host_origins", "color_scheme"]}),
        ("Light", {"fields": ["text_light", "background_light", "accent_light"]}),
        ("Dark", {"fields": ["text_dark", "background_dark", "accent_dark"]}),
        ("Type and shapes", {"fields": ["font_stack", "corner_radius", "bar_style"]}),
        ("Preview", {"fields": ["preview"]}),
    ]

    class Media:
        css = {"all": ["admin_polls/poll_admin.css"]}

    @admin.display(description="Sites")
    def sites(self, theme: Theme) -> str:
        return ", ".join(theme.host_origins)

    @admin.display(description="The widget in this theme")
    def preview(self, theme: Theme) -> str:
        """The real widget, light and dark, framed as a publisher frames it: what was saved
        last ("Save and continue editing" shows a change)."""
        if not theme.pk:
            return "Save the theme to see the widget in it."
        poll = Poll.objects.visible().first()
        if poll is None:
            return "Publish a poll to see the widget in this theme."
        return render_to_string(
            "admin/polls/theme/preview.html",
            {"theme": theme, "poll": poll, "schemes": ["light", "dark"]},
        )


@admin.register(Topic)
class TopicAdmin(RowsByIdAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Ballot)
class BallotAdmin(RowsByIdAdmin):
    """The audit trail: readable, never edited or deleted from the admin."""

    list_display = ["cast_at_local", "poll", "answer_text", "source", "article", "host_origin"]
    list_filter = ["source", "write_in_status", "cast_at"]
    list_select_related = ["poll", "choice", "article"]
    search_fields = ["poll__question", "poll__slug", "host_origin"]
    date_hierarchy = "cast_at"
    # The voter hash stays out of sight: it identifies a reader across polls.
    fields = [
        "poll",
        "answer_text",
        "write_in",
        "write_in_status",
        "cast_at_local",
        "source",
        "article",
        "host_origin",
        "host_page",
    ]
    readonly_fields = ["answer_text", "cast_at_local", "host_page"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("picks__choice")

    @admin.display(description="Cast at", ordering="cast_at")
    def cast_at_local(self, ballot: Ballot) -> str:
        return local_time(ballot.cast_at, "M j Y, H:i:s")

    @admin.display(description="Answer")
    def answer_text(self, ballot: Ballot) -> str:
        return ballot.answer_text

    @admin.display(description="Host page")
    def host_page(self, ballot: Ballot) -> str:
        # A frame given only the host's origin (a referrer cut across sites) records no path.
        if ballot.host_origin and not ballot.host_path:
            return "page unknown (the host sent only its address)"
        return ballot.host_path

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Ballot | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Ballot | None = None) -> bool:
        return False


@admin.register(WriteInMove)
class WriteInMoveAdmin(RowsByIdAdmin):
    """The audit trail of merged write-ins: readable, never edited or deleted from the admin."""

    list_display = [
        "moved_at_local",
        "poll",
        "from_choice",
        "to_choice",
        "votes_moved",
        "moved_by_username",
    ]
    list_select_related = ["poll", "from_choice", "to_choice"]
    fields = [
        "poll",
        "from_choice",
        "to_choice",
        "votes_moved",
        "moved_by_username",
        "moved_at_local",
    ]
    readonly_fields = ["moved_at_local"]
    date_hierarchy = "moved_at"

    @admin.display(description="Moved at", ordering="moved_at")
    def moved_at_local(self, move: WriteInMove) -> str:
        return local_time(move.moved_at, "M j Y, H:i:s")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WriteInMove | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: WriteInMove | None = None) -> bool:
        return False
