"""The poll form of the admin and its choices, with the rules an editor must follow."""

from __future__ import annotations

from axes.handlers.proxy import AxesProxyHandler
from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.utils import timezone
from django.utils.text import slugify

from polls import editing
from polls.models import Article, Ballot, Poll, Theme

CONFIRM_FIELD = "confirm_change_after_voting"


def ballot_count(poll: Poll) -> int:
    return Ballot.objects.filter(poll=poll).count() if poll.pk else 0


def answers(max_answers: int) -> str:
    """A poll's answer mode, as the poll list and the form's messages say it."""
    return "one answer" if max_answers == 1 else f"up to {max_answers} answers"


class PollAdminForm(forms.ModelForm):
    articles = forms.ModelMultipleChoiceField(
        queryset=Article.objects.all(),
        required=False,
        widget=FilteredSelectMultiple("articles", is_stacked=False),
        help_text="The poll is shown at the top of these articles (instead of their current poll).",
    )
    confirm_change_after_voting = forms.BooleanField(
        required=False,
        label="Change it anyway",
        help_text=(
            "Readers have already voted in this poll. Changing the question, a choice's text or "
            "how many answers readers may pick changes what they voted on; tick this to save "
            "such a change."
        ),
    )

    class Meta:
        model = Poll
        fields = [
            "question",
            "slug",
            "status",
            "max_answers",
            "shuffle_choices",
            "results_shown",
            "percentages_only",
            "opens_at",
            "closes_at",
        ]
        widgets = {"question": forms.Textarea(attrs={"rows": 3, "cols": 60})}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The admin shows and takes times in the site's zone: say which, beside the fields.
        zone = timezone.get_current_timezone_name()
        for field in [self.fields.get("opens_at"), self.fields.get("closes_at")]:
            if field is not None:  # absent for someone who may only view the poll
                field.help_text = f"{field.help_text} In {zone} time."
        if "slug" in self.fields and self.is_draft:
            slug = self.fields["slug"]
            slug.help_text = (
                "The poll's address. While the poll is a draft it follows the question; "
                "it stays as it is once the poll is published."
            )
            # poll_admin.js keeps it in step as the question is typed (the add form's
            # prepopulated field only fills an empty slug).
            slug.widget.attrs["data-follows-question"] = ""
        if self.instance.pk:
            self.fields["articles"].initial = list(
                self.instance.articles.values_list("pk", flat=True)
            )

    @property
    def is_draft(self) -> bool:
        """A new poll, or one saved as a draft (whatever the form now says)."""
        return self.instance.pk is None or self.initial.get("status") == Poll.Status.DRAFT

    def slug_follows_question(self, cleaned: dict) -> bool:
        """A draft's slug follows its retyped question (a duplicate's, say), made unique; a slug
        the editor typed in this edit stays as typed."""
        question, slug = cleaned.get("question"), cleaned.get("slug")
        if not (self.is_draft and question and slug and "question" in self.changed_data):
            return False
        # The slug left alone, or as the admin's scripts fill it in from the question.
        max_length = Poll._meta.get_field("slug").max_length
        return "slug" not in self.changed_data or slug == slugify(question)[:max_length].strip("-")

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.slug_follows_question(cleaned):
            cleaned["slug"] = editing.free_slug(cleaned["question"], excluding=self.instance)
        opens_at, closes_at = cleaned.get("opens_at"), cleaned.get("closes_at")
        if opens_at and closes_at and closes_at <= opens_at:
            self.add_error("closes_at", "The poll must close after it opens.")
        votes = ballot_count(self.instance)
        if votes and "question" in self.changed_data and not cleaned.get(CONFIRM_FIELD):
            self.add_error(
                "question",
                f"{votes} reader{'s have' if votes != 1 else ' has'} already voted on this "
                "question. Tick “Change it anyway” (under “Readers have voted”) to save the "
                "new wording.",
            )
        if votes and "max_answers" in self.changed_data and not cleaned.get(CONFIRM_FIELD):
            self.add_error(
                "max_answers",
                f"{votes} reader{'s have' if votes != 1 else ' has'} already voted with "
                f"{answers(self.initial['max_answers'])}. Tick “Change it anyway” (under "
                "“Readers have voted”) to change how many answers readers may pick.",
            )
        return cleaned

    def save_articles(self, poll: Poll) -> None:
        """Called once the poll is saved (a new poll has no id before)."""
        chosen = self.cleaned_data["articles"]
        poll.articles.exclude(pk__in=[a.pk for a in chosen]).update(poll=None)
        Article.objects.filter(pk__in=[a.pk for a in chosen]).update(poll=poll)


class ChoiceInlineFormSet(BaseInlineFormSet):
    def add_fields(self, form: forms.Form, index: int | None) -> None:
        super().add_fields(form, index)
        form.fields["text"].error_messages["required"] = "Every choice needs a text."
        # Named on their own: on a phone the rows are cards, without the table's header.
        form.fields["stays_last"].widget.attrs["aria-label"] = "Always last"
        form.fields["is_write_in"].widget.attrs["aria-label"] = "Write-in (“Other”)"

    def get_form_kwargs(self, index: int | None) -> dict:
        # New rows continue the numbering (1, 2, 3 on a new poll) instead of all starting at 0;
        # rows added with "Add another" are numbered by poll_admin.js.
        kwargs = super().get_form_kwargs(index)
        if index is not None and index >= self.initial_form_count():
            positions = [choice.position for choice in self.get_queryset()]
            next_position = max(positions, default=0) + 1
            kwargs["initial"] = {"position": next_position + index - self.initial_form_count()}
        return kwargs

    def clean(self) -> None:
        # The rows that will be choices once saved: not the untouched empty rows, not the deleted.
        kept = [
            form
            for form in self.forms
            if (form.has_changed() or form.instance.pk) and not self._should_delete_form(form)
        ]
        if any(form.errors for form in kept):
            return super().clean()
        texts = [form.cleaned_data.get("text", "") for form in kept]
        # Before Django's own check of the unique texts, which says only "Please correct the
        # duplicate data for text" for the same text twice.
        seen: dict[str, str] = {}
        errors = []
        for text in texts:
            key = editing.same_choice_text(text)
            if key in seen:
                errors.append(
                    f"“{text}” is there twice (as “{seen[key]}” too): "
                    "every choice must be different."
                )
            seen.setdefault(key, text)
        if errors:
            raise ValidationError(errors)
        super().clean()
        if len([t for t in texts if t.strip()]) < 2:
            errors.append("A poll needs at least two choices.")

        if ballot_count(self.instance):
            renamed = [f for f in kept if f.instance.pk and "text" in f.changed_data]
            confirm = forms.CheckboxInput()
            confirmed = confirm.value_from_datadict(self.data, self.files, CONFIRM_FIELD)
            if renamed and not confirmed:
                errors.append(
                    "Readers have already voted in this poll, and you changed the text of "
                    + ", ".join(f"“{f.initial['text']}”" for f in renamed)
                    + ". Tick “Change it anyway” to save the new wording."
                )
        if errors:
            raise ValidationError(errors)


def choice_form_keeping_voted_choices(form_class: type[forms.ModelForm]) -> type[forms.ModelForm]:
    """The admin's inline choice form, refusing to delete a choice that has votes, in words.

    The admin checks protected objects (ballots) itself, in hand_clean_DELETE, but lists them
    as "ballot Envoy (2024-03-01 10:00)" lines; this says what it means for the editor.
    """

    class ChoiceForm(form_class):
        def hand_clean_DELETE(self) -> None:
            choice = self.instance
            if self.cleaned_data.get("DELETE") and choice.pk:
                votes = Ballot.objects.filter(choice=choice).count()
                if votes:
                    raise ValidationError(
                        f"“{choice.text}” cannot be deleted: {votes} reader"
                        f"{'s' if votes != 1 else ''} voted for it, and their ballots must keep "
                        "pointing at what they chose. Close the poll, or duplicate it without "
                        "this choice.",
                        code="choice_has_votes",
                    )
            super().hand_clean_DELETE()

    return ChoiceForm


class SignInForm(AdminAuthenticationForm):
    """The admin's sign-in, warning before django-axes pauses this username from this address."""

    warn_when_left = 2

    def clean(self) -> dict:
        try:
            return super().clean()
        except ValidationError as refusal:
            username = self.cleaned_data.get("username") or ""
            failures = AxesProxyHandler.get_failures(self.request, {"username": username})
            left = settings.AXES_FAILURE_LIMIT - failures
            if not 0 < left <= self.warn_when_left:
                raise
            minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
            warning = (
                f"{left} more failed attempt{'s' if left != 1 else ''} and signing in as "
                f"“{username}” from this network is paused for {minutes} minutes."
            )
            raise ValidationError([*refusal.error_list, ValidationError(warning)]) from None


COLOUR_FIELDS = [
    f"{part}_{scheme}" for scheme in ("light", "dark") for part in ("text", "background", "accent")
]


class ThemeForm(forms.ModelForm):
    """A theme, with colour pickers and its sites one a line."""

    host_origins = forms.CharField(
        label=Theme._meta.get_field("host_origins").verbose_name.capitalize(),
        help_text=Theme._meta.get_field("host_origins").help_text,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )

    class Meta:
        model = Theme
        fields = [
            "name",
            "slug",
            "is_default",
            "host_origins",
            "color_scheme",
            *COLOUR_FIELDS,
            "font_stack",
            "corner_radius",
            "bar_style",
        ]
        widgets = {name: forms.TextInput(attrs={"type": "color"}) for name in COLOUR_FIELDS}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.initial["host_origins"] = "\n".join(self.instance.host_origins)

    def clean_host_origins(self) -> list[str]:
        lines = self.cleaned_data["host_origins"].splitlines()
        origins = [line.strip().lower().rstrip("/") for line in lines if line.strip()]
        for origin in origins:
            field = Theme._meta.get_field("host_origins").base_field
            try:
                field.run_validators(origin)
            except ValidationError as error:
                raise ValidationError(f"{origin}: {error.messages[0]}") from None
        return origins
