"""A synthetic shop for the report tests (numpy-made, see shopgen.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import kequn


def _shopgen():
    spec = importlib.util.spec_from_file_location("kq_shopgen", Path(__file__).with_name(
        "shopgen.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def synthetic_ws():
    gen = _shopgen()
    ws = gen.fill_workspace(kequn.open(":memory:"), gen.synth_tables(600, 120, seed=11))
    yield ws
    ws.close()
