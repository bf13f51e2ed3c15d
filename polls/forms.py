from crispy_forms.helper import FormHelper
from django import forms
from django.urls import reverse

from polls.models import Choice, Poll


class VoteForm(forms.Form):
    choice = forms.TypedChoiceField(
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Please pick one of the answers before voting.",
            "invalid_choice": "That answer is not one of this poll's choices.",
        },
    )
    # The article the poll was shown on, to record where the vote was cast.
    article = forms.SlugField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, poll: Poll, choices: list[Choice], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.poll = poll
        self.choices_by_id = {choice.pk: choice for choice in choices}
        self.fields["choice"].choices = [(choice.pk, choice.text) for choice in choices]
        self.fields["choice"].label = poll.question
        # The <form> element and its button live in includes/vote_form.html, so the poll page,
        # the article page and their error states share one markup.
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True

    @property
    def action(self) -> str:
        return reverse("polls:vote", args=[self.poll.slug])

    def selected_choice(self) -> Choice:
        return self.choices_by_id[self.cleaned_data["choice"]]
