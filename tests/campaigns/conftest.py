"""Campaign fixtures: a controllable clock, a local SMTP server and a local HTTP receiver."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from campaign_helpers import (
    Clock,
    HttpCapture,
    SmtpCapture,
    running_http_receiver,
    running_smtp_server,
)


@pytest.fixture
def clock() -> Clock:
    """Tuesday 5 March 2024, 10:00 shop time: outside the default quiet hours."""
    return Clock(dt.datetime(2024, 3, 5, 10, 0))


@pytest.fixture
def smtp_server() -> Iterator[SmtpCapture]:
    """An SMTP server on 127.0.0.1 that keeps every message it accepts."""
    with running_smtp_server() as capture:
        yield capture


@pytest.fixture
def http_receiver() -> Iterator[HttpCapture]:
    """An HTTP server in a thread on 127.0.0.1 recording every POST."""
    with running_http_receiver() as capture:
        yield capture
