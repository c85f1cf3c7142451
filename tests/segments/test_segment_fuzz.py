"""Fuzzing the parser: random text and random JSON give a rule or a positioned
RuleSyntaxError, never another exception; whatever parses prints back to the same tree."""

from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kequn import segments as sg
from kequn.errors import RuleSyntaxError
from kequn.segments import ast
from kequn.segments.catalog import CUSTOMER_FIELDS, FUNCTIONS, KEYWORDS

FUZZ = settings(max_examples=int(os.environ.get("KEQUN_FUZZ_EXAMPLES", "200")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

VOCAB = [
    *KEYWORDS, *list(CUSTOMER_FIELDS)[:12], *FUNCTIONS, "segment", "attr", "attr.x", "(", ")",
    ",", ":", ".", "=", "!=", "<", "<=", ">", ">=", "<>", "+", "-", "*", "/", "'V4'", "'a''b'",
    "0", "1", "2.5", "30d", "-30d", "24h", "6m", "2024-03-01", "2024-03-01T10:00", "#c\n",
    "\n", "last:", "where:", "from:", "to:", "by:", "cart", "view_time", "product", "‘", '"',
    "active", "vip_pyramid.supreme", "ELSE", "x:", "-", "((", "))",
]


def _check(parse_it: object) -> None:
    error: RuleSyntaxError | None = None
    try:
        rule = parse_it()  # type: ignore[operator]
    except RuleSyntaxError as err:
        error = err
    if error is not None:
        assert error.line >= 1
        assert error.col >= 1
        assert isinstance(error.snippet, str)
        assert isinstance(error.expected, tuple)
        return
    text = sg.to_text(rule)
    assert sg.parse(text) == rule
    assert sg.from_json(json.loads(json.dumps(sg.to_json(rule)))) == rule


@FUZZ
@given(st.text(max_size=120))
def test_random_text_gives_a_rule_or_a_positioned_error(text: str) -> None:
    _check(lambda: sg.parse(text))


@FUZZ
@given(st.lists(st.sampled_from(VOCAB), max_size=30), st.sampled_from([" ", "", "\n"]))
def test_random_token_soup_gives_a_rule_or_a_positioned_error(tokens: list[str],
                                                              sep: str) -> None:
    _check(lambda: sg.parse(sep.join(tokens)))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["type", "items", "item", "left", "right", "op", "value", "values",
                         "name", "args", "options", "steps", "call", "ref", "negated",
                         "amount", "unit", "labels", "when", "among", "note", "within",
                         "same", "low", "high"]) | st.text(max_size=5), inner, max_size=5),
    max_leaves=30,
)
NODE_TYPES = ["and", "or", "not", "compare", "in", "between", "contains", "is_null", "truthy",
              "segment", "sequence", "family", "field", "attr", "call", "date", "duration",
              "reldate", "arith", "neg"]


@st.composite
def typed_json(draw: st.DrawFn, depth: int = 0) -> object:
    """JSON shaped like rule nodes (right keys, random values) to reach deeper checks."""
    if depth > 3 or draw(st.booleans()):
        return draw(JSON_VALUES)
    kind = draw(st.sampled_from(NODE_TYPES))
    obj: dict[str, object] = {"type": kind}
    for key in draw(st.lists(st.sampled_from(
            ["items", "item", "left", "right", "op", "value", "values", "name", "args",
             "options", "steps", "ref", "negated", "amount", "unit", "labels", "call"]),
            max_size=5, unique=True)):
        if key in ("items", "values", "args", "steps", "labels"):
            obj[key] = draw(st.lists(typed_json(depth + 1), max_size=3))
        elif key == "op":
            obj[key] = draw(st.sampled_from(["=", "<", "+", "*", "~", 3]))
        elif key == "name":
            obj[key] = draw(st.sampled_from([*CUSTOMER_FIELDS, *FUNCTIONS, "x y", ""]))
        elif key == "unit":
            obj[key] = draw(st.sampled_from(["d", "h", "q", None]))
        else:
            obj[key] = draw(typed_json(depth + 1))
    return obj


@FUZZ
@given(JSON_VALUES)
def test_random_json_gives_a_rule_or_a_positioned_error(obj: object) -> None:
    _check(lambda: sg.from_json(obj))


@FUZZ
@given(typed_json())
def test_node_shaped_json_gives_a_rule_or_a_positioned_error(obj: object) -> None:
    _check(lambda: sg.from_json(obj))


@FUZZ
@given(st.text(max_size=60))
def test_random_json_text_gives_a_rule_or_a_positioned_error(text: str) -> None:
    _check(lambda: sg.from_json(text))


# -- generated valid rules round-trip ---------------------------------------------------------

NUMBERS = st.integers(-10**6, 10**6).map(ast.Number) | st.floats(
    -1e6, 1e6, allow_nan=False).map(ast.Number)
TEXTS = st.text(st.characters(blacklist_characters="\x00"), max_size=10).map(ast.String)
NUMBER_FIELDS = st.sampled_from(["city_tier", "age", "p_alive", "clv"]).map(ast.Field)
TEXT_FIELDS = st.sampled_from(["city", "member_level", "gender", "email"]).map(ast.Field)
WINDOWS = st.builds(lambda n, u: (("last", ast.Duration(n, u)),),
                    st.integers(1, 1000), st.sampled_from("hdwmy")) | st.just(())
MEASURES = st.builds(lambda name, opts: ast.Call(name, (), opts),
                     st.sampled_from(["paid_orders", "spend", "aov", "items_bought"]), WINDOWS)
NUMERIC = st.one_of(NUMBER_FIELDS, MEASURES)
NOTES = st.none() | st.text(alphabet=st.characters(blacklist_characters="\r\x0b\x0c\x1c\x1d"
                                                                         "\x1e\x85\u2028\u2029"),
                            max_size=12)


def _leaf() -> st.SearchStrategy[ast.Condition]:
    return st.one_of(
        st.builds(ast.Compare, NUMERIC, st.sampled_from(["=", "!=", "<", "<=", ">", ">="]),
                  NUMBERS, note=NOTES),
        st.builds(ast.InList, TEXT_FIELDS, st.lists(TEXTS, min_size=1, max_size=3).map(tuple),
                  negated=st.booleans(), note=NOTES),
        st.builds(ast.Between, NUMERIC, NUMBERS, NUMBERS, negated=st.booleans(), note=NOTES),
        st.builds(ast.IsNull, TEXT_FIELDS, negated=st.booleans(), note=NOTES),
        st.builds(ast.Truthy, st.sampled_from(["has_children", "opted_out"]).map(ast.Field),
                  note=NOTES),
        st.builds(ast.InSegment, st.sampled_from(["active", "vip_pyramid.vip"]), note=NOTES),
    )


RULES = st.recursive(
    _leaf(),
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: ast.And(tuple(xs))),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: ast.Or(tuple(xs))),
        inner.map(ast.Not),
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(RULES)
def test_generated_rules_round_trip_through_text_and_json(rule: ast.Condition) -> None:
    assert sg.parse(sg.to_text(rule)) == rule
    assert sg.from_json(json.loads(json.dumps(sg.to_json(rule)))) == rule
