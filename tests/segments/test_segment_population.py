"""Ranks, medians and quantiles over the population equal a direct computation, with ties,
NULLs and an ``AMONG`` population, both over a stored feature table (values computed beside
it and joined back) and over a computed one (values as windows)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from segment_helpers import AS_OF

from kequn.segments import ast
from kequn.segments.compiler import Compiler, Frame
from kequn.segments.parser import parse

SCORES: dict[str, float | None] = {
    "a": 90.0, "b": 90.0, "c": 70.0, "d": None, "e": 50.0, "f": 70.0, "g": 10.0, "h": None,
    "i": 90.0, "j": 30.0, "k": 30.0,
}
IN_V1 = {"a", "c", "d", "e", "g", "j", "k"}  # member_level = 'V1': the AMONG population
AMONG = [None, "member_level = 'V1'", "segment(v1)"]  # everyone, or IN_V1 (also by reference)
SEGMENTS = {"v1": "member_level = 'V1'"}


def compiler_for(ws: Any) -> Compiler:
    return Compiler(ws, AS_OF, lambda seg_id: parse(SEGMENTS[seg_id]))


@pytest.fixture
def ws(make_shop):
    rows = [{"customer_id": cid, "member_level": "V1" if cid in IN_V1 else "V2"}
            for cid in SCORES]
    ws = make_shop(customers=rows)
    ws.raw.execute("ALTER TABLE customers ADD COLUMN score DOUBLE")
    for cid, score in SCORES.items():
        ws.raw.execute("UPDATE customers SET score = ? WHERE customer_id = ?", [score, cid])
    return ws


def stored_frame(ws: Any) -> Frame:
    """The customers table as stored: population values are computed beside it."""
    frame = Frame(ws.con.table("customers"))
    assert frame.stored
    return frame


def computed_frame(ws: Any) -> Frame:
    """The customers table through a query: population values are windows over it."""
    frame = Frame(ws.con.table("customers").distinct())
    assert not frame.stored
    return frame


FRAMES = [pytest.param(stored_frame, id="stored"), pytest.param(computed_frame, id="computed")]


def values_of(ws: Any, frame: Frame, value: str, among: str | None) -> dict[str, Any]:
    """Each customer's ``value`` (a population function of attr.score) over ``frame``."""
    compiler = compiler_for(ws)
    population = compiler.condition(parse(among), None) if among is not None else None
    node = parse(f"{value} IS NULL")
    assert isinstance(node, ast.IsNull)
    built = compiler.value(node.left, population).build(frame)
    rows = frame.table.select("customer_id", v=built).to_pyarrow().to_pylist()
    return {row["customer_id"]: row["v"] for row in rows}


def population_of(among: str | None) -> set[str]:
    return set(SCORES) if among is None else IN_V1


def expected_top_percent(among: str | None) -> dict[str, float | None]:
    """1 + the number of known values above, over their number, in percent."""
    pop = population_of(among)
    known = [v for c, v in SCORES.items() if c in pop and v is not None]
    return {c: (1 + sum(w > v for w in known)) / len(known) * 100
            if c in pop and v is not None else None for c, v in SCORES.items()}


def expected_quantile(among: str | None, q: float) -> dict[str, float | None]:
    """The linearly interpolated quantile of the known values, for the population."""
    pop = population_of(among)
    known = sorted(v for c, v in SCORES.items() if c in pop and v is not None)
    pos = q * (len(known) - 1)
    lo, hi = known[math.floor(pos)], known[math.ceil(pos)]
    value = lo + (hi - lo) * (pos - math.floor(pos))
    return {c: value if c in pop else None for c in SCORES}


@pytest.mark.parametrize("make_frame", FRAMES)
@pytest.mark.parametrize("among", AMONG)
def test_top_percent_ranks_known_values_and_ties_share_the_best_rank(
        ws, make_frame, among: str | None) -> None:
    got = values_of(ws, make_frame(ws), "top_percent(attr.score)", among)
    assert got == expected_top_percent(among)


@pytest.mark.parametrize("make_frame", FRAMES)
@pytest.mark.parametrize("among", AMONG)
@pytest.mark.parametrize(("value", "q"), [
    ("median(attr.score)", 0.5), ("quantile(attr.score, 0.75)", 0.75),
    ("quantile(attr.score, 0.1)", 0.1), ("quantile(attr.score, 1)", 1.0),
])
def test_median_and_quantiles_over_known_values_of_the_population(
        ws, make_frame, among: str | None, value: str, q: float) -> None:
    got = values_of(ws, make_frame(ws), value, among)
    assert got == expected_quantile(among, q)


FAMILY = """
FAMILY AMONG segment(v1)
top: top_percent(attr.score) <= 40
above: attr.score > median(attr.score)
bottom: top_percent(attr.score) > 60 AND attr.score < quantile(attr.score, 0.5)
rest: ELSE
"""


@pytest.mark.parametrize("make_frame", FRAMES)
def test_family_labels_read_ranks_and_medians_of_their_population(ws, make_frame) -> None:
    # V1 scores: a 90, c 70, e 50, g 10, j 30, k 30 (d unknown); median 40;
    # ranks a 1, c 2, e 3, j/k 4, g 6 of 6 known.
    frame = make_frame(ws)
    compiler = compiler_for(ws)
    label = compiler.rule(parse(FAMILY))(frame)
    in_segment = compiler.rule(parse("top_percent(attr.score) <= 40"))(frame)
    rows = (frame.table.select("customer_id", label=label, top=in_segment)
            .to_pyarrow().to_pylist())
    assert {r["customer_id"]: r["label"] for r in rows} == {
        "a": "top", "c": "top", "e": "above", "g": "bottom", "j": "bottom", "k": "bottom",
        "d": "rest", "b": None, "f": None, "h": None, "i": None}
    # the same rank outside the family is over everyone with a score: 9 known, a b i first
    assert sorted(r["customer_id"] for r in rows if r["top"]) == ["a", "b", "i"]
