"""The reader's vote form: rendered by crispy-forms through our own template pack, from fields
that every form shares (polls/forms.py, Shared)."""

import pytest
from crispy_forms.utils import render_crispy_form
from django.http import QueryDict

from polls.forms import Shared, VoteForm

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
