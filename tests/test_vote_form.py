"""The reader's vote form: rendered by crispy-forms through our own template pack, from fields
that every form shares (polls/forms.py, Shared)."""

from urllib.parse import urlencode

import pytest
from crispy_forms.utils import render_crispy_form
from django.http import QueryDict
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from polls.forms import EmbedVoteForm, Shared, VoteForm
from tests.helpers import write_in_poll

pytestmark = pytest.mark.django_db


def shared_fields_as_declared() -> dict:
    return {
        name: (field.widget.attrs.copy(), dict(field.error_messages), field.required)
        for name, field in VoteForm.base_fields.items()
        if isinstance(field, Shared)
    }


def test_a_refused_vote_form_renders_one_message_at_the_group(poll):
    form = VoteForm(QueryDict("choice=0"), poll=poll, choices=poll.form_choices())
    assert not form.is_valid()
    html = render_crispy_form(form, context={"vote_token": "slot"})
    assert html.count('class="vote-form__error"') == 1
    assert 'aria-describedby="id_choice_error"' in html
    assert html.count('class="form-check-input"') == 3
    assert '<input type="hidden" name="token" value="slot">' in html


def test_forms_share_their_declared_fields_and_rendering_leaves_them_as_declared(poll):
    """The seam Shared relies on (Django 6.1 copies base_fields into each form through
    __deepcopy__): a form uses the declared field itself, so nothing that renders or
    validates a form (crispy-forms included) may change one."""
    declared = shared_fields_as_declared()
    assert declared
    for data in (QueryDict("choice=0&article=x"), None):
        form = VoteForm(data, poll=poll, choices=poll.form_choices())
        form.is_valid()
        render_crispy_form(form, context={"vote_token": "slot"})
        assert all(form.fields[name] is VoteForm.base_fields[name] for name in declared)
    assert shared_fields_as_declared() == declared


# Bodies a vote may carry, mostly valid ones: the quick parse must agree with the form wherever
# it answers, and it answers for nearly every reader's vote.
def field_values(poll):
    pks = [str(pk) for pk in poll.choices.values_list("pk", flat=True)]
    return {
        "choice": st.sampled_from([*pks, "", " " + pks[0], "0" + pks[0], "x", "\uff11", "-1"]),
        "token": st.sampled_from(["tok", " tok", "tok\x00", "t" * 500, "t" * 501, ""]),
        "write_in": st.sampled_from(["", " ", "mine", "\x00"]),
        "article": st.sampled_from(["", "edge", "no such", " edge", "é"]),
        "source": st.sampled_from(["", "newsletter", "embed", " newsletter"]),
        "host_origin": st.sampled_from(
            ["", "https://news.example", "https://news.example:0", " https://a.example", "x"]
        ),
        "host_path": st.sampled_from(["", "/2026/edge", "2026", "/a\x01", "/" + "p" * 500]),
        "visibility": st.sampled_from(["", "visible", "confirmed", "unknown", "hidden"]),
    }


def bodies(poll):
    """Each field sent or not, then perhaps some sent again."""
    values = field_values(poll)
    fields = st.fixed_dictionaries({name: st.none() | values[name] for name in values})
    again = st.lists(
        st.sampled_from(sorted(values)).flatmap(lambda name: values[name].map(lambda v: (name, v))),
        max_size=2,
    )
    return st.tuples(fields, again).map(
        lambda body: QueryDict(
            urlencode([(name, v) for name, v in body[0].items() if v is not None] + body[1])
        )
    )


@pytest.mark.parametrize("form_class", [VoteForm, EmbedVoteForm])
@pytest.mark.parametrize("several", [False, True])
def test_the_quick_parse_reads_every_body_as_the_form_does(form_class, several):
    poll = write_in_poll(max_answers=2 if several else 1)
    choices = poll.form_choices()

    @hypothesis_settings(max_examples=300, deadline=None)
    @given(data=bodies(poll))
    def agrees(data):
        quick = form_class.quick_clean(data, poll, choices)
        form = form_class(data, poll=poll, choices=choices)
        if quick is not None:
            assert form.is_valid(), form.errors
            assert quick == form.cleaned_data
        answered.append(quick is not None)

    answered = []
    agrees()
    # It must answer for the common vote, or it would save nothing.
    assert several or any(answered)
    assert form_class.quick_clean(QueryDict(""), poll, choices) is None
