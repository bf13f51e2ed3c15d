from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from polls.models import Article, Ballot, Choice, Poll, Topic


class ChoiceInline(admin.TabularInline):
    model = Choice
    fields = ["position", "text", "votes"]
    readonly_fields = ["votes"]
    extra = 0
    min_num = 2
    ordering = ["position", "id"]


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


@admin.register(Poll)
class PollAdmin(admin.ModelAdmin):
    list_display = ["question", "state", "total_votes", "opens_at", "closes_at"]
    list_filter = [PollStateFilter, "opens_at"]
    search_fields = ["question", "slug", "choices__text"]
    prepopulated_fields = {"slug": ["question"]}
    date_hierarchy = "opens_at"
    inlines = [ChoiceInline]
    fieldsets = [
        (None, {"fields": ["question", "slug", "status"]}),
        ("Schedule", {"fields": ["opens_at", "closes_at"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).with_total_votes()

    @admin.display(description="State")
    def state(self, poll: Poll) -> str:
        return poll.state().capitalize()

    @admin.display(description="Votes", ordering="total_votes")
    def total_votes(self, poll: Poll) -> int:
        return poll.total_votes


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = ["title", "author", "published_on", "poll"]
    list_filter = ["topics", "published_on"]
    search_fields = ["title", "summary", "author"]
    prepopulated_fields = {"slug": ["title"]}
    date_hierarchy = "published_on"
    filter_horizontal = ["topics", "pinned_related"]
    autocomplete_fields = ["poll"]
    list_select_related = ["poll"]


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Ballot)
class BallotAdmin(admin.ModelAdmin):
    """The audit trail: readable, never edited or deleted from the admin."""

    list_display = ["cast_at", "poll", "choice", "source", "article"]
    list_filter = ["source", "cast_at"]
    list_select_related = ["poll", "choice", "article"]
    search_fields = ["poll__question"]
    date_hierarchy = "cast_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Ballot | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Ballot | None = None) -> bool:
        return False
