import unicodedata
from urllib.parse import urlsplit

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Field, Layout
from django import forms
from django.conf import settings
from django.core.validators import RegexValidator, validate_slug
from django.http import QueryDict
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from polls.models import WRITE_IN_MAX_LENGTH, Article, Ballot, Choice, Poll

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


def kept_as_sent(value: str, max_length: int) -> bool:
    """Whether a text field of the form keeps this value as it was sent (CharField strips it,
    refuses NUL and holds it to its length)."""
    return len(value) <= max_length and value == value.strip() and "\x00" not in value


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
    choices the caller already loaded. The single-use token (polls/voters.py) proves the
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
        cleaned = super().clean()
        if "choice" in cleaned:
            problem = self.poll.ballot_problem(self.selected_choices(), cleaned.get("write_in", ""))
            if problem is not None:
                self.add_error(problem.field, problem.message)
        return cleaned

    @classmethod
    def quick_clean(cls, data: QueryDict, poll: Poll, choices: list[Choice]) -> dict | None:
        """The cleaned_data a bound form would give, for the vote nearly every reader sends (one
        answer picked, nothing typed, every field as the form keeps it), without building the
        form; None wherever the form must decide, and always for a body it would refuse.
        Building and validating a form was the largest part of a vote's own work.
        tests/test_vote_form.py holds it to the form's reading of any body."""
        picked = data.getlist("choice")
        if poll.allows_several_answers or len(picked) != 1 or data.get("write_in"):
            return None
        choice = next((choice for choice in choices if str(choice.pk) == picked[0]), None)
        token = data.get("token", "")
        if choice is None or not kept_as_sent(token, 500) or poll.ballot_problem([choice]):
            return None
        return cls.quick_clean_more(data, {"token": token, "choice": choice.pk, "write_in": ""})

    @classmethod
    def quick_clean_more(cls, data: QueryDict, cleaned: dict) -> dict | None:
        """quick_clean for the fields a subclass adds."""
        return cleaned

    def error_text(self) -> str:
        """The form's errors in one line, for a refusal the reader reads."""
        return " ".join(str(message) for errors in self.errors.values() for message in errors)

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
    "source",
)


class VoteForm(ChoiceForm):
    """The vote form of our own pages."""

    # The article the poll was shown on, to record where the vote was cast.
    article = SharedSlugField(required=False, widget=forms.HiddenInput)
    # Where the link that opened the poll page came from (a newsletter's link, which picks an
    # answer and counts nothing), to record it with the vote. Only the values links carry.
    source = SharedCharField(required=False, widget=forms.HiddenInput)

    LINK_SOURCES = (Ballot.Source.NEWSLETTER,)

    # Rendered by {% crispy form %} on the poll page and the article page.
    helper = READER_FORM

    @property
    def action(self) -> str:
        return reverse("polls:vote", args=[self.poll.slug])

    def clean(self) -> dict:
        cleaned = super().clean()
        # Said above the form: a hidden field's own error would not show.
        if cleaned.get("source", "") not in ("", *self.LINK_SOURCES):
            self.add_error(
                None, _("This voting link is not valid. Pick your answer and vote again.")
            )
        return cleaned

    @classmethod
    def quick_clean_more(cls, data: QueryDict, cleaned: dict) -> dict | None:
        article, source = data.get("article", ""), data.get("source", "")
        if article and not (kept_as_sent(article, 50) and validate_slug.regex.search(article)):
            return None
        if source not in ("", *cls.LINK_SOURCES):
            return None
        return {**cleaned, "article": article, "source": source}

    @property
    def link_source(self) -> str:
        """The source a link named (?source=newsletter), when it is one links may name."""
        source = self["source"].value() or ""
        return source if source in self.LINK_SOURCES else ""

    def ballot_source(self, article: Article | None) -> str:
        """Where the vote was cast, as the ballot records it."""
        if article is not None:
            return Ballot.Source.ARTICLE
        if self.is_valid() and self.cleaned_data.get("source") == Ballot.Source.NEWSLETTER:
            return Ballot.Source.NEWSLETTER
        return Ballot.Source.POLL_PAGE


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

    VISIBILITIES = ("", *Ballot.FrameVisibility.values)

    @classmethod
    def quick_clean_more(cls, data: QueryDict, cleaned: dict) -> dict | None:
        origin, path = data.get("host_origin", ""), data.get("host_path", "")
        visibility = data.get("visibility", "")
        if not (kept_as_sent(origin, HOST_ORIGIN_MAX_LENGTH) and kept_as_sent(path, 500)):
            return None
        if host_origin_refusal(origin) or host_path_refusal(path):
            return None
        if visibility not in cls.VISIBILITIES:
            return None
        return {**cleaned, "host_origin": origin, "host_path": path, "visibility": visibility}

    def clean_host_origin(self) -> str:
        origin = self.cleaned_data["host_origin"]
        if refusal := host_origin_refusal(origin):
            raise forms.ValidationError(refusal)
        return origin

    def clean_host_path(self) -> str:
        path = self.cleaned_data["host_path"]
        if refusal := host_path_refusal(path):
            raise forms.ValidationError(refusal)
        return path


# The host page as the widget's vote and its seen beacon (polls/engagement.py) take it.
HOST_ORIGIN_MAX_LENGTH, HOST_PATH_MAX_LENGTH = 200, 500


def host_origin_refusal(origin: str) -> str:
    """Why the widget's host origin is refused, or "" ("" itself: the host is unknown)."""
    if origin and (
        len(origin) > HOST_ORIGIN_MAX_LENGTH
        or not origin.isprintable()  # "$" in ORIGIN also matches before a final newline
        or not ORIGIN.regex.search(origin)
        or not origin_port_is_valid(origin)
    ):
        return str(_("The host page address is not a valid origin."))
    allowed = settings.EMBED_ALLOWED_ORIGINS
    # With a list of sites, a vote must name one of them: leaving the origin out is no way
    # around the list.
    if "*" not in allowed and origin not in allowed:
        return str(_("This site is not allowed to embed the poll."))
    return ""


def host_path_refusal(path: str) -> str:
    """Why the widget's host page path is refused, or "" ("" itself: the page is unknown)."""
    if len(path) > HOST_PATH_MAX_LENGTH:
        return "The host page path is too long."
    if path and not path.startswith("/"):
        return str(_("The host page path must start with a slash."))
    if any(ord(character) < 32 or ord(character) == 127 for character in path):
        return str(_("The host page path contains control characters."))
    return ""
