import unicodedata
from urllib.parse import urlsplit

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Field, Layout
from django import forms
from django.conf import settings
from django.core.validators import RegexValidator
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from polls.models import WRITE_IN_MAX_LENGTH, Ballot, Choice, Poll

# Characters that reorder the text around them (bidirectional embeddings, overrides, isolates
# and marks): in a reader's answer they could make it read differently in the admin, the CSV or
# a merged choice than it was written ("Trojan Source"). Text in any script needs none of them.
BIDI_CONTROLS = dict.fromkeys(
    map(ord, "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)


# Format characters that carry meaning: they join emoji (a ZWJ sequence) and spell words in
# Persian or Hindi. Every other format character (Unicode Cf) is invisible noise in an answer.
JOINERS = "\u200c\u200d"


def write_in_cleaned(text: str) -> str:
    """A reader's answer as it is stored: NFC, on one line, without direction, control or
    invisible format characters (C0, DEL, C1, and Cf such as U+2062 or the tag characters
    U+E0000-E007F, but the joiners; line breaks and tabs become spaces), spaces collapsed.
    Markup is kept as typed: it is only ever shown escaped."""
    text = unicodedata.normalize("NFC", text).translate(BIDI_CONTROLS)
    kept = (
        " " if character.isspace() else character
        for character in text
        if character.isspace()
        or character in JOINERS
        or unicodedata.category(character) not in ("Cc", "Cf")
    )
    return " ".join("".join(kept).split())


class Shared:
    """A form field that no form changes once it is declared: every form uses the declared one
    instead of a deep copy of it (Django copies each field per form; on the vote's path that
    copying was a tenth of a vote's own work).

    A seam into Django's forms, as of Django 6.1: BaseForm.__init__ deep-copies base_fields
    into each form, and a field is copied through its __deepcopy__. Safe while nothing changes
    these fields per form (no per-form widget attrs, choices or messages: crispy's layout
    names none of them with attributes); tests/test_vote_form.py checks both."""

    def __deepcopy__(self, memo: dict) -> "Shared":
        return self


class SharedCharField(Shared, forms.CharField):
    pass


class SharedSlugField(Shared, forms.SlugField):
    pass


class SharedChoiceField(Shared, forms.ChoiceField):
    pass


class WriteInField(Shared, forms.CharField):
    """The "Other" box: cleaned as write_in_cleaned, then held to its length."""

    def to_python(self, value: object) -> str:
        text = super().to_python(value)
        # Refused before the cleaning walks it: no reader types this much into a small box.
        if len(text) > 10 * WRITE_IN_MAX_LENGTH:
            raise forms.ValidationError(
                self.error_messages["max_length"],
                code="max_length",
                params={"limit_value": WRITE_IN_MAX_LENGTH, "show_value": len(text)},
            )
        return write_in_cleaned(text)


class ChoiceForm(forms.Form):
    """Picks one of a poll's choices, or up to poll.max_answers of them (check boxes), from
    choices the caller already loaded. The single-use token (polls/vote_tokens.py) proves the
    form is ours; the view checks it, as it needs the poll."""

    token = SharedCharField(required=False, max_length=500, widget=forms.HiddenInput)
    choice = forms.TypedChoiceField(
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Please pick one of the answers before voting."),
            "invalid_choice": _("That answer is not one of this poll's choices."),
        },
    )
    write_in = WriteInField(
        required=False,
        max_length=WRITE_IN_MAX_LENGTH,
        error_messages={
            "max_length": _(
                "Your own answer can be at most %(limit_value)d characters long; it has "
                "%(show_value)d."
            )
        },
    )

    def __init__(self, *args, poll: Poll, choices: list[Choice], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.poll = poll
        self.write_in_choice = next((choice for choice in choices if choice.is_write_in), None)
        # Without JavaScript, a reader may type an answer and forget to pick "Other": what
        # they typed says which answer they meant.
        typed_only = (
            self.is_bound
            and not self.data.getlist("choice")
            and self.data.get("write_in", "").strip()
        )
        if typed_only and self.write_in_choice:
            self.data = self.data.copy()
            self.data.setlist("choice", [str(self.write_in_choice.pk)])
        if poll.allows_several_answers:
            self.fields["choice"] = forms.TypedMultipleChoiceField(
                coerce=int,
                widget=forms.CheckboxSelectMultiple,
                error_messages=self.fields["choice"].error_messages,
            )
        self.choices_by_id = {choice.pk: choice for choice in choices}
        self.fields["choice"].choices = [(choice.pk, choice.text) for choice in choices]
        self.fields["choice"].label = poll.question

    @property
    def last_ids(self) -> set[int]:
        """Choices that stay at the end when the answers are shuffled."""
        return {pk for pk, choice in self.choices_by_id.items() if choice.stays_last}

    @property
    def several(self) -> bool:
        return self.poll.allows_several_answers

    def clean(self) -> dict:
        picked = self.data.getlist("choice") if self.is_bound else []
        # A radio group sends one value; several mean a crafted request, not a reader.
        if not self.several and len(picked) > 1:
            raise forms.ValidationError(_("Please pick only one answer."))
        if self.several and len(set(picked)) != len(picked):
            raise forms.ValidationError(_("Please pick each answer only once."))
        if self.several and len(picked) > self.poll.max_answers:
            self.add_error(
                "choice",
                ngettext(
                    "Please pick at most %(count)d answer.",
                    "Please pick at most %(count)d answers.",
                    self.poll.max_answers,
                )
                % {"count": self.poll.max_answers},
            )
        cleaned = super().clean()
        if cleaned.get("write_in") and "choice" in cleaned:
            if self.write_in_choice is None:
                self.add_error(None, _("This poll takes no written answers."))
            elif self.write_in_choice not in self.selected_choices():
                self.add_error(
                    "write_in",
                    _("Your own answer counts only with “%(choice)s” picked.")
                    % {"choice": self.write_in_choice.text},
                )
        return cleaned

    def error_text(self) -> str:
        """The form's errors in one line, for a refusal the reader reads."""
        return " ".join(str(message) for errors in self.errors.values() for message in errors)

    def vote_facts(self, forbidden: str = "") -> dict:
        """What the vote service takes from this form (services.vote_take): the picked
        choices, or why it cannot vote: forbidden (the form is not ours), else its errors."""
        if not forbidden and not self.is_valid() and "token" in self.errors:
            # Longer than any token we sign: a forged form, refused as the token check would.
            forbidden = str(_("This voting form is not valid. Reload the poll and try again."))
        if forbidden:
            return {"choices": None, "invalid": "", "forbidden": forbidden}
        if not self.is_valid():
            return {"choices": None, "invalid": self.error_text(), "forbidden": ""}
        return {"choices": self.selected_choices(), "invalid": "", "forbidden": ""}

    def selected_choices(self) -> list[Choice]:
        picked = self.cleaned_data["choice"]
        return [self.choices_by_id[pk] for pk in (picked if self.several else [picked])]


# How crispy-forms lays out a reader's vote form, in our own template pack (templates/reader_forms/,
# CRISPY_TEMPLATE_PACK): the answers as one group, with the "Other" box inside it, and the form's
# hidden fields. One helper for every such form; nothing in it changes per form or per request.
READER_FORM = FormHelper()
READER_FORM.form_class = "vote-form"
READER_FORM.layout = Layout(
    Field("choice", css_class="form-check-input", template="reader_forms/choice_group.html"),
    "article",
)


class VoteForm(ChoiceForm):
    """The vote form of our own pages."""

    # The article the poll was shown on, to record where the vote was cast.
    article = SharedSlugField(required=False, widget=forms.HiddenInput)

    # Rendered by {% crispy form %} on the poll page and the article page.
    helper = READER_FORM

    @property
    def action(self) -> str:
        return reverse("polls:vote", args=[self.poll.slug])


ORIGIN = RegexValidator(
    r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$",
    _("The host page address is not a valid origin."),
)


def origin_port_is_valid(origin: str) -> bool:
    try:
        port = urlsplit(origin).port  # ValueError above 65535
    except ValueError:
        return False
    return port is None or port > 0


class EmbedVoteForm(ChoiceForm):
    """The widget's vote form: the host page, and whether the widget could be seen."""

    host_origin = SharedCharField(
        required=False, max_length=200, validators=[ORIGIN], widget=forms.HiddenInput
    )
    host_path = SharedCharField(required=False, max_length=500, widget=forms.HiddenInput)
    visibility = SharedChoiceField(
        required=False, choices=Ballot.FrameVisibility.choices, widget=forms.HiddenInput
    )

    def clean_host_origin(self) -> str:
        origin = self.cleaned_data["host_origin"]
        if origin and not origin_port_is_valid(origin):
            raise forms.ValidationError(_("The host page address is not a valid origin."))
        allowed = settings.EMBED_ALLOWED_ORIGINS
        # With a list of sites, a vote must name one of them: leaving the origin out is no way
        # around the list.
        if "*" not in allowed and origin not in allowed:
            raise forms.ValidationError(_("This site is not allowed to embed the poll."))
        return origin

    def clean_host_path(self) -> str:
        path = self.cleaned_data["host_path"]
        if path and not path.startswith("/"):
            raise forms.ValidationError(_("The host page path must start with a slash."))
        if any(ord(character) < 32 or ord(character) == 127 for character in path):
            raise forms.ValidationError(_("The host page path contains control characters."))
        return path
