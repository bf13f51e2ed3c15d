"""The share card: the PNG that social sites and chats show for a poll's link (og:image), drawn
from the results the page shows, 1200 x 630, text kept inside it, cached by its ETag.

Each card is written to test-artifacts/share-cards/ to be looked at."""

import io
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db.models import F
from django.test import Client
from PIL import Image, ImageChops

from polls import sharing
from polls.models import Choice, Poll, Theme
from tests.helpers import make_poll

CARDS = Path(__file__).resolve().parent.parent / "test-artifacts" / "share-cards"
SEEDED = "openai-turmoil-gpt-plans-2024"


def card_url(poll: Poll) -> str:
    return f"/polls/{poll.slug}/card.png"


def give_votes(poll: Poll, *votes: int) -> None:
    for choice, count in zip(poll.choices.order_by("position", "id"), votes, strict=False):
        Choice.objects.filter(pk=choice.pk).update(votes=F("votes") + count)


def fetched_card(poll: Poll, name: str) -> Image.Image:
    """The card as a social site fetches it, kept for a person to look at."""
    response = Client().get(card_url(poll))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    CARDS.mkdir(parents=True, exist_ok=True)
    (CARDS / f"{name}.png").write_bytes(response.content)
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "PNG"
    assert image.size == (1200, 630)
    return image.convert("RGB")


def drawn_texts(poll: Poll) -> list[str]:
    """Every text the card draws, as the card's recorder kept it."""
    poll = Poll.objects.visible_with_choices(poll.slug)
    return sharing.draw_card(poll, poll.results(), "http://testserver").texts


def ink(image: Image.Image) -> Image.Image:
    """Where the card differs from its background, beyond what its 256 colours round off."""
    background = Image.new("RGB", image.size, sharing.SITE_COLOURS.background)
    difference = ImageChops.difference(image, background).convert("L")
    return difference.point(lambda value: 255 if value > 12 else 0)


def ink_outside_the_margins(image: Image.Image) -> list[tuple[int, int, int, int]]:
    """The strips outside the card's content box that have anything drawn in them (the
    accent bar along the top edge is the card's own)."""
    width, height = image.size
    inset = sharing.MARGIN - 8
    strips = [
        (0, 12, inset, height),
        (width - inset, 12, width, height),
        (0, height - 20, width, height),
    ]
    return [strip for strip in strips if ink(image).crop(strip).getbbox()]


def ink_columns(image: Image.Image, top: int, bottom: int) -> tuple[int, int]:
    """The leftmost and rightmost columns with ink between two heights."""
    box = ink(image).crop((0, top, image.width, bottom)).getbbox()
    return box[0], box[2]


@pytest.mark.django_db
def test_it_draws_the_seeded_poll_with_the_percentages_of_its_results_page():
    call_command("seed")
    poll = Poll.objects.get(slug=SEEDED)
    give_votes(poll, 120, 80, 40, 10)

    image = fetched_card(poll, "seeded")

    results_page = Client().get(poll.get_results_url()).content.decode()
    page_percents = re.findall(r"data-percent>(\d+)%<", results_page)
    assert page_percents == ["48", "32", "16", "4"]
    texts = drawn_texts(poll)
    assert [text for text in texts if text.endswith("%")] == [f"{p}%" for p in page_percents]
    assert not any(re.search(r"\bvotes?\b", text) for text in texts), "the card shows no count"
    assert not ink_outside_the_margins(image)


@pytest.mark.django_db
def test_a_poll_whose_results_wait_for_the_close_draws_no_figure_and_never_changes():
    poll = make_poll("Which proxy do you run at the edge?", ("Envoy", "NGINX", "HAProxy"))
    Poll.objects.filter(pk=poll.pk).update(results_shown=Poll.ResultsShown.AFTER_CLOSE)
    before = Client().get(card_url(poll))

    give_votes(poll, 5, 3, 1)
    image = fetched_card(poll, "hidden-results")
    after = Client().get(card_url(poll))

    texts = drawn_texts(poll)
    assert "Which proxy do you run at the edge?" in texts
    assert {"Envoy", "NGINX", "HAProxy"} <= set(texts)
    assert not any(re.search(r"\d", text) for text in texts), texts
    # Nothing a vote changed shows: the same PNG, the same ETag, before and after the votes.
    assert after.content == before.content
    assert after["ETag"] == before["ETag"]
    assert not ink_outside_the_margins(image)


@pytest.mark.django_db
def test_a_poll_before_its_first_vote_draws_no_bars_or_zeros():
    poll = make_poll()
    fetched_card(poll, "no-votes-yet")
    texts = drawn_texts(poll)
    assert not any("%" in text for text in texts)
    assert "Be the first to vote" in texts


@pytest.mark.django_db
def test_ten_long_choices_and_a_long_question_stay_inside_the_card():
    question = (
        "Which of these ten ways of running services at the edge of your network have you "
        "used in production at any time over the last three years, and would use again?"
    )
    choices = tuple(
        f"Answer {n}: a rather long answer that keeps going, well past the width of the card, "
        f"so that it has to be cut short somewhere before the percentage of votes it got"
        for n in range(1, 11)
    )
    poll = make_poll(question, choices)
    give_votes(poll, *range(10, 0, -1))

    image = fetched_card(poll, "ten-choices")

    texts = drawn_texts(poll)
    drawn_choices = [text for text in texts if text.startswith("Answer ")]
    assert len(drawn_choices) == 10
    assert all(text.endswith("…") for text in drawn_choices), "cut short, with an ellipsis"
    assert len([text for text in texts if text.endswith("%")]) == 10
    assert not ink_outside_the_margins(image)


@pytest.mark.django_db
def test_more_answers_than_fit_show_those_with_the_most_votes_and_how_many_more():
    poll = make_poll("Which city?", tuple(f"City {n}" for n in range(1, 21)))
    give_votes(poll, *range(1, 21))

    image = fetched_card(poll, "twenty-choices")

    texts = drawn_texts(poll)
    shown = [text for text in texts if text.startswith("City ")]
    assert shown[:2] == ["City 20", "City 19"]
    assert f"and {20 - len(shown)} more answers" in texts
    assert not ink_outside_the_margins(image)


@pytest.mark.django_db
def test_a_right_to_left_poll_is_drawn_from_the_right():
    poll = make_poll(
        "ما هو الخادم الوكيل الذي تستخدمه مع Envoy في عام 2024؟",
        ("إنفوي Envoy", "إنجن إكس", "لا أعرف"),
    )
    give_votes(poll, 7, 2, 1)

    image = fetched_card(poll, "right-to-left")

    texts = drawn_texts(poll)
    assert "إنجن إكس" in texts
    assert [text for text in texts if text.endswith("%")] == ["70%", "20%", "10%"]
    # The question's first line starts at the right margin, and leaves the left side free.
    left, right = ink_columns(image, sharing.QUESTION_TOP, sharing.QUESTION_TOP + 60)
    assert right > 1200 - sharing.MARGIN - 12
    assert left > sharing.MARGIN + 12
    assert not ink_outside_the_margins(image)


@pytest.mark.django_db
def test_the_card_is_shared_by_caches_and_answered_with_304_while_unchanged():
    poll = make_poll()
    give_votes(poll, 2, 1, 1)
    first = Client().get(card_url(poll))
    assert first["Cache-Control"] == "public, max-age=0, s-maxage=5, stale-while-revalidate=30"
    assert "Set-Cookie" not in first

    again = Client().get(card_url(poll), HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304

    # Votes that leave every whole percentage as it was leave the card as it was.
    give_votes(poll, 2, 1, 1)
    assert Client().get(card_url(poll))["ETag"] == first["ETag"]
    give_votes(poll, 10)
    assert Client().get(card_url(poll))["ETag"] != first["ETag"]


@pytest.mark.django_db
def test_each_card_is_drawn_once_per_worker_however_often_it_is_asked_for(monkeypatch):
    poll = make_poll()
    give_votes(poll, 3, 2, 1)
    sharing.kept_cards.clear()
    drawn = []
    draw_card = sharing.draw_card

    def counting(*args, **kwargs):
        drawn.append(args[0].slug)
        return draw_card(*args, **kwargs)

    monkeypatch.setattr(sharing, "draw_card", counting)
    bodies = {Client().get(card_url(poll)).content for _ in range(5)}
    assert len(bodies) == 1
    assert drawn == [poll.slug]


@pytest.mark.django_db
def test_poll_and_results_pages_name_the_card_as_their_picture():
    poll = make_poll()
    for url in (poll.get_absolute_url(), poll.get_results_url()):
        html = Client().get(url).content.decode()
        assert f'<meta property="og:image" content="http://testserver{card_url(poll)}">' in html
        assert '<meta property="og:image:width" content="1200">' in html
        assert '<meta name="twitter:card" content="summary_large_image">' in html


@pytest.mark.django_db
def test_a_draft_or_unknown_poll_has_no_card():
    draft = make_poll(state="draft")
    assert Client().get(card_url(draft)).status_code == 404
    assert Client().get("/polls/no-such-poll/card.png").status_code == 404


@pytest.mark.django_db
def test_without_libraqm_the_check_warns_and_right_to_left_runs_are_drawn_reversed(monkeypatch):
    from PIL import ImageFont

    from polls.checks import share_cards_shape_text

    assert share_cards_shape_text(None) == []
    monkeypatch.setattr(sharing, "SHAPES_TEXT", False)
    monkeypatch.setattr(sharing, "LAYOUT", ImageFont.Layout.BASIC)
    sharing.font.cache_clear()
    try:
        assert [warning.id for warning in share_cards_shape_text(None)] == ["polls.W003"]
        poll = make_poll("באיזה פרוקסי אתם משתמשים?", ("אנבוי", "אחר"))
        give_votes(poll, 3, 1)
        poll = Poll.objects.visible_with_choices(poll.slug)
        card = sharing.draw_card(poll, poll.results(), "http://testserver")
        image = Image.open(io.BytesIO(card.png()))
        assert image.size == (1200, 630)
        CARDS.mkdir(parents=True, exist_ok=True)
        (CARDS / "right-to-left-without-raqm.png").write_bytes(card.png())
    finally:
        sharing.font.cache_clear()


def near(pixel: tuple[int, int, int], colour: str) -> bool:
    """The pixel is the colour, within what the card's 256 colours round off."""
    wanted = (int(colour[index : index + 2], 16) for index in (1, 3, 5))
    return all(abs(drawn - value) <= 8 for drawn, value in zip(pixel, wanted, strict=True))


@pytest.mark.django_db
def test_the_card_takes_the_default_theme_in_its_own_colour_scheme():
    call_command("seed")
    poll = Poll.objects.get(slug=SEEDED)
    plain = Client().get(card_url(poll))
    assert near(fetched_card(poll, "site-colours").getpixel((600, 620)), "#ffffff")
    Theme.objects.filter(slug="night-desk").update(is_default=True)
    dark = Theme.objects.get(slug="night-desk")
    assert dark.color_scheme == Theme.Scheme.DARK
    card = fetched_card(poll, "default-theme-dark")
    assert near(card.getpixel((600, 620)), dark.colours("dark")["bg"])
    assert Client().get(card_url(poll))["ETag"] != plain["ETag"]
