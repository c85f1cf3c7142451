"""Loader fixtures: an empty in-memory workspace, and one whose shop runs on Beijing time."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import kequn
from kequn.workspace import Workspace


@pytest.fixture
def ws() -> Iterator[Workspace]:
    """An empty workspace in the default time zone (UTC)."""
    with kequn.open(":memory:") as workspace:
        yield workspace


@pytest.fixture
def shop_ws() -> Iterator[Workspace]:
    """An empty workspace of a shop on Asia/Shanghai time, as a Taobao or Tmall shop is."""
    with kequn.open(":memory:") as workspace:
        workspace.set(time_zone="Asia/Shanghai")
        yield workspace
