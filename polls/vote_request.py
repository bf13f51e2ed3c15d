"""A vote request from any channel, parsed once: the poll, the choices, the token, the voter
the token or cookie names, the client's address, and where the vote was cast.

The channels differ only in what they send: our pages' form (with or without vote.js), the
widget's script, the widget's form without script, and the widget's script in a sandboxed frame
(WordPress). Who the voter is was decided before the vote, for every channel: the token
endpoints give the reader their voter id (a partitioned cookie in frames) and the signed token
carries it, so that a lost answer retried is the same reader's repeat, and a request whose
cookie does not match its token's voter is refused (polls/voters.py).
"""

from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

from django.conf import settings
from django.http import HttpRequest, QueryDict
from django.utils.translation import gettext as _

from polls import voters
from polls.forms import ChoiceForm, EmbedVoteForm, VoteForm
from polls.frames import is_sandboxed_fetch, wants_json
from polls.models import Article, Ballot, Choice, Poll
from polls.rate_limit import client_address


class Channel(StrEnum):
    OUR_PAGES = "our_pages"  # the poll page's or an article's form
    WIDGET = "widget"  # the widget in a frame that has an origin (its script or its form)
    SANDBOXED = "sandboxed"  # the widget's script in a frame without one (Origin: null): the
    # parse tells it from WIDGET by the headers the browser sets


@dataclass(frozen=True)
class VoteRequest:
    """What a request to vote says, before anything is decided (services.vote_take)."""

    poll: Poll
    channel: Channel
    data: QueryDict  # the body as sent
    # The form's cleaned fields; None when the body is no valid vote, and the form says why.
    fields: dict | None
    voter_hash: str
    # The voter a counted vote sets (or refreshes) in the reader's cookie: the cookie's own, or
    # a new one where neither the cookie nor the token named a voter (a page's token). None
    # when the voter is the one the token was given to, without the cookie.
    voter_to_remember: voters.Voter | None
    client_address: str
    forbidden: str = ""  # why this request cannot vote at all, for the reader
    # The widget's form, sent without its script's word on whether the frame could be seen:
    # nothing in it is read, and its reader confirms on our own page (widget.vote_to_confirm).
    to_confirm: bool = False
    # The reader's cookie or token named them: they may have voted before.
    voter_known: bool = False
    token_nonce: str | None = None
    article: Article | None = None
    bound_form: ChoiceForm | None = None  # where the parse needed the form

    @cached_property
    def form(self) -> ChoiceForm:
        """The bound form, for a page that shows it again: with its errors, or with a refusal
        added (built only then, where the parse did without it)."""
        if self.bound_form is not None:
            return self.bound_form
        return bound_vote_form(self.channel, self.data, self.poll, self.poll.form_choices())

    @property
    def choices(self) -> list[Choice] | None:
        """The choices picked, in the order they were sent."""
        if self.fields is None:
            return None
        picked = self.fields["choice"]
        by_id = {choice.pk: choice for choice in self.poll.form_choices()}
        return [by_id[pk] for pk in (picked if isinstance(picked, list) else [picked])]

    @property
    def invalid(self) -> str:
        """The form's errors in one line, for the reader."""
        return "" if self.fields is not None else self.form.error_text()

    def ballot_place(self) -> dict:
        """Where and with what the vote was cast, as the ballot records it."""
        fields = self.fields or {}
        place = {
            "source": self.source,
            "article": self.article,
            "token_nonce": self.token_nonce,
            "write_in": fields.get("write_in", ""),
        }
        if self.channel != Channel.OUR_PAGES:
            place["host_origin"] = fields.get("host_origin", "")
            place["host_path"] = fields.get("host_path", "")
            place["frame_visibility"] = fields.get("visibility") or Ballot.FrameVisibility.UNKNOWN
        return place

    @property
    def source(self) -> str:
        if self.channel == Channel.SANDBOXED:
            return Ballot.Source.EMBED_SANDBOXED
        if self.channel == Channel.WIDGET:
            return Ballot.Source.EMBED
        if self.article is not None:
            return Ballot.Source.ARTICLE
        if (self.fields or {}).get("source") == Ballot.Source.NEWSLETTER:
            return Ballot.Source.NEWSLETTER
        return Ballot.Source.POLL_PAGE


def form_class(channel: Channel) -> type[ChoiceForm]:
    return VoteForm if channel == Channel.OUR_PAGES else EmbedVoteForm


def bound_vote_form(
    channel: Channel, data: QueryDict, poll: Poll, choices: list[Choice]
) -> ChoiceForm:
    form = form_class(channel)(data, poll=poll, choices=choices)
    form.is_valid()
    return form


def vote_request_parse(request: HttpRequest, poll: Poll, channel: Channel) -> VoteRequest:
    """The one parse of a vote, whichever channel it came by. The widget's (Channel.WIDGET) is
    told here from the widget's script in a sandboxed frame, and from its form without script."""
    if channel == Channel.WIDGET:
        if is_unseen_form_vote(request):
            return VoteRequest(
                poll=poll,
                channel=channel,
                data=request.POST,
                fields=None,
                voter_hash="",
                voter_to_remember=None,
                client_address="",
                to_confirm=True,
            )
        if is_sandboxed_fetch(request):
            channel = Channel.SANDBOXED
    address = client_address(request)
    choices = poll.form_choices()
    voter = voters.Voter.of(request, framed=channel != Channel.OUR_PAGES)
    form = None
    fields = form_class(channel).quick_clean(request.POST, poll, choices)
    if fields is None:
        form = bound_vote_form(channel, request.POST, poll, choices)
        fields = form.cleaned_data if form.is_valid() else None
    article = None
    # The article the vote was cast on is where the reader stays, whatever the outcome; one
    # that does not carry the poll is the form's error.
    slug = (fields or form.cleaned_data).get("article") if channel == Channel.OUR_PAGES else None
    if slug:
        article = poll.articles.published().filter(slug=slug).first()
        if article is None:
            form = form or bound_vote_form(channel, request.POST, poll, choices)
            form.add_error(None, _("This poll is not shown on that article."))
            fields = None
    parsed = {
        "poll": poll,
        "channel": channel,
        "data": request.POST,
        "fields": fields,
        "bound_form": form,
        "voter_hash": voter.voter_hash,
        "voter_to_remember": voter,
        "client_address": address,
        "article": article,
        "voter_known": voter.known,
    }
    forbidden = channel_refusal(request, channel)
    if forbidden or fields is None:
        if not forbidden and "token" in form.errors:
            # Longer than any token we sign: a forged form, refused as the token check would.
            forbidden = _("This voting form is not valid. Reload the poll and try again.")
        return VoteRequest(**parsed, forbidden=forbidden)
    check = voters.vote_token_nonce(
        fields["token"],
        poll,
        cookie_voter_hash=voter.voter_hash if voter.known else None,
        cookie_required=channel == Channel.SANDBOXED,
    )
    if check.voter_hash and check.voter_hash != voter.voter_hash:
        # The token's reader, given their id by the token endpoint: it is theirs to keep.
        parsed.update(voter_hash=check.voter_hash, voter_to_remember=None, voter_known=True)
    return VoteRequest(**parsed, forbidden=check.refusal, token_nonce=check.nonce)


def channel_refusal(request: HttpRequest, channel: Channel) -> str:
    """Why a request of this channel cannot vote at all, before its form is read."""
    if channel == Channel.SANDBOXED:
        if not settings.EMBED_SANDBOXED_VOTES:
            return _("Votes cannot be cast from this page. Nothing was counted.")
        return ""
    if not voters.is_cross_site_post(request):
        return ""
    if channel == Channel.WIDGET:
        return _("Votes can only be cast from the poll itself. Nothing was counted.")
    return _("Votes can only be cast from our own pages. Nothing was counted.")


def is_unseen_form_vote(request: HttpRequest) -> bool:
    """The widget's form, posted by a browser with no word from the widget's script on whether
    the frame could be seen: scripts are off in the frame (a sandbox without allow-scripts, say).
    Browsers mark a form's navigation with Sec-Fetch-Dest (in a frame, or the new tab the form
    opens); the widget's script votes by fetch, with the frame's visibility."""
    destination = request.META.get("HTTP_SEC_FETCH_DEST")
    return (
        destination in ("document", "iframe", "frame")
        and not wants_json(request)
        and not request.POST.get("visibility")
        and not voters.is_cross_site_post(request)  # refused as such, by channel_refusal
    )
