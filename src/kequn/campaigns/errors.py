"""Errors of the campaigns package (to move into :mod:`kequn.errors` when it settles)."""

from __future__ import annotations

from kequn.errors import KequnError, NotFoundError

__all__ = ["CampaignError", "CampaignNotFoundError", "CampaignStateError", "ChannelError"]


class CampaignError(KequnError, ValueError):
    """A campaign, automation or channel setting that is not valid (bad coupon, template...)."""


class CampaignStateError(KequnError, RuntimeError):
    """An action that the campaign's current state does not allow (send a cancelled one...)."""


class CampaignNotFoundError(NotFoundError):
    """A campaign or automation id that does not exist."""


class ChannelError(KequnError, RuntimeError):
    """A message a channel could not deliver, and what the send loop should do about it.

    - ``permanent``: this recipient can never get it (bad address); do not retry.
    - ``unsubscribe``: the provider says the recipient opted out; add them to the list.
    - ``in_doubt``: the connection broke after the message may have left; it is recorded as
      'unknown' and only resent on request, so nobody gets it twice.
    - ``abort``: the account cannot send at all (quota, credentials); stop the whole send and
      leave the rest for later.
    """

    def __init__(self, message: str, *, permanent: bool = False, unsubscribe: bool = False,
                 in_doubt: bool = False, abort: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.unsubscribe = unsubscribe
        self.in_doubt = in_doubt
        self.abort = abort
