"""Reader pages speak the reader's language: German from our catalogue, English otherwise."""

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.test import Client

from polls.models import Ballot
from polls.voters import vote_token_issue
from tests.helpers import make_poll, vote_form

LOCALE = Path(__file__).resolve().parent.parent / "locale"


def german() -> Client:
    return Client(headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})


@pytest.mark.django_db
def test_it_shows_the_poll_page_in_german_to_a_german_browser(poll):
    html = german().get(poll.get_absolute_url()).content.decode()
    assert '<html lang="de">' in html
    assert "Offene Umfragen" in html
    assert ">Abstimmen</button>" in html
    assert "Ergebnisse ansehen, ohne abzustimmen" in html
    assert "Skip to content" not in html


@pytest.mark.django_db
def test_a_german_reader_votes_and_reads_the_results_in_german(poll):
    reader = german()
    response = reader.post(
        f"/polls/{poll.slug}/vote/",
        vote_form(poll, choice=poll.choices.get(text="NGINX").pk),
        follow=True,
    )
    html = response.content.decode()
    assert "Danke, Ihre Stimme wurde gezählt." in html
    assert "Ihre Stimme: NGINX" in html
    assert "1 Stimme insgesamt" in html
    assert "0 Stimmen" in html

    refused = reader.post(
        f"/polls/{poll.slug}/vote/", vote_form(poll, choice=poll.choices.first().pk)
    )
    assert refused.status_code == 409
    assert "Sie haben in dieser Umfrage bereits abgestimmt." in refused.content.decode()


@pytest.mark.django_db
def test_form_errors_are_translated(poll):
    response = german().post(f"/polls/{poll.slug}/vote/", vote_form(poll, choice=""))
    assert response.status_code == 400
    assert "Bitte wählen Sie eine der Antworten, bevor Sie abstimmen." in response.content.decode()


@pytest.mark.django_db
def test_the_widget_and_its_script_texts_are_in_german(poll):
    reader = german()
    html = reader.get(f"/polls/{poll.slug}/embed/").content.decode()
    assert '<html lang="de">' in html
    assert 'data-t-votes="{n} Stimme|{n} Stimmen"' in html
    assert 'data-t-voted="Sie haben abgestimmt."' in html

    voted = reader.post(
        f"/polls/{poll.slug}/embed/vote/",
        {"choice": poll.choices.first().pk, "token": vote_token_issue(poll)},
    )
    assert "Danke, Ihre Stimme wurde gezählt." in voted.content.decode()
    assert Ballot.objects.count() == 1


@pytest.mark.django_db
def test_other_languages_get_english(poll):
    html = Client(headers={"Accept-Language": "fr"}).get("/").content.decode()
    assert '<html lang="en">' in html
    assert "Open polls" in html


@pytest.mark.django_db
def test_answers_say_their_language_and_that_it_follows_the_browser(poll):
    """Caches must keep one copy per language (Vary), and the language is named in the answer;
    the language cookie, where a reader has one, wins over Accept-Language."""
    for path in ("/", poll.get_absolute_url(), f"/polls/{poll.slug}/embed/", "/healthz"):
        response = german().get(path)
        assert "Accept-Language" in response["Vary"], path
        assert response["Content-Language"] == "de", path
    assert Client().get("/")["Content-Language"] == "en"
    reader = german()
    reader.cookies["django_language"] = "en"
    assert reader.get("/")["Content-Language"] == "en"


def test_urls_with_a_language_prefix_are_refused_at_start_up(settings):
    """Our LocaleMiddleware reads no language from the path: with i18n_patterns, it would
    ignore the prefix, so it refuses to start instead."""
    from django.core.exceptions import ImproperlyConfigured

    from polls.middleware import LocaleMiddleware

    settings.ROOT_URLCONF = "tests.urls_with_language_prefix"
    with pytest.raises(ImproperlyConfigured, match="i18n_patterns"):
        LocaleMiddleware(lambda request: None)


@pytest.mark.django_db
def test_dates_follow_the_language():
    make_poll("Closed poll?", ("Yes", "No"), state="closed")
    english = Client().get("/polls/archive/").content.decode()
    deutsch = german().get("/polls/archive/").content.decode()
    assert re.search(r"closed [A-Z][a-z]+ \d{1,2}, \d{4}", english)
    assert re.search(r"beendet am \d{1,2}\. [A-Z][a-zä]+ \d{4}", deutsch)


def po_entries(path: Path) -> dict[str, list[str]]:
    """msgid -> its translations (one, or one per plural form), from a .po file."""
    entries = {}
    for block in path.read_text().split("\n\n"):
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            if match := re.match(r"^(msgid|msgid_plural|msgstr(?:\[\d\])?) (\".*\")$", line):
                key, line = match.group(1), match.group(2)
                fields[key] = ""
            if key and line.startswith('"'):
                fields[key] += ast.literal_eval(line)
        if fields.get("msgid"):
            entries[fields["msgid"]] = [
                v for k, v in sorted(fields.items()) if k.startswith("msgstr")
            ]
    return entries


def test_the_german_catalogue_is_complete_and_its_compiled_file_matches_it():
    folder = LOCALE / "de" / "LC_MESSAGES"
    entries = po_entries(folder / "django.po")
    assert len(entries) > 50
    assert [msgid for msgid, texts in entries.items() if not all(texts)] == []
    with (folder / "django.mo").open("rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    stale = [
        msgid
        for msgid, texts in entries.items()
        if compiled.gettext(msgid) != texts[0] and compiled.ngettext(msgid, "", 1) != texts[0]
    ]
    assert stale == [], "run make messages to compile the catalogue"


@pytest.mark.django_db
def test_the_integrity_line_reads_plainly_in_german(poll):
    reader = german()
    vote = f"/polls/{poll.slug}/vote/"
    reader.post(vote, vote_form(poll, choice=poll.choices.first().pk))
    reader.post(vote, vote_form(poll, choice=poll.choices.last().pk))
    html = german().get(poll.get_results_url()).content.decode()
    assert "Eine Stimme pro Person. Nicht gezählt: die zweite Stimme von 1 Person.</p>" in html
