"""The rule language: every construct parses, prints back canonically, and converts to JSON and
back exactly; invalid rules fail with a positioned error (tests/fixtures/*.rules)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kequn import segments as sg
from kequn.errors import RuleSyntaxError
from kequn.segments import ast

FIXTURES = Path(__file__).parent.parent / "fixtures"


def _blocks(name: str) -> list[tuple[str, str]]:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    blocks = text.split("\n====\n")[1:]
    return [tuple(part.strip("\n") for part in b.split("\n----\n")) for b in blocks]


VALID = _blocks("segments.rules")
INVALID = _blocks("segments__invalid.rules")


@pytest.mark.parametrize(("text", "canonical"), VALID, ids=[v[0][:40] for v in VALID])
def test_rule_prints_back_canonically(text: str, canonical: str) -> None:
    rule = sg.parse(text)
    assert sg.to_text(rule) == canonical
    assert sg.parse(sg.to_text(rule)) == rule


@pytest.mark.parametrize(("text", "canonical"), VALID, ids=[v[0][:40] for v in VALID])
def test_json_form_round_trips_exactly(text: str, canonical: str) -> None:
    rule = sg.parse(text)
    obj = json.loads(json.dumps(sg.to_json(rule)))
    assert sg.from_json(obj) == rule
    assert sg.to_json(sg.from_json(obj)) == obj
    assert sg.from_json(json.dumps(obj)) == rule


@pytest.mark.parametrize(("text", "where"), INVALID, ids=[v[0][:40] for v in INVALID])
def test_invalid_rule_names_line_column_and_fix(text: str, where: str) -> None:
    position, fragment = where.split(" ", 1)
    line, col = (int(x) for x in position.split(":"))
    with pytest.raises(RuleSyntaxError) as info:
        sg.parse(text)
    err = info.value
    assert (err.line, err.col) == (line, col)
    assert fragment in str(err)
    assert err.snippet.splitlines()[-1] == " " * (col - 1) + "^"
    assert str(err)[0].islower()


def test_syntax_error_lists_what_was_expected_and_suggests_the_keyword() -> None:
    with pytest.raises(RuleSyntaxError) as info:
        sg.parse("spend > 1 ADN aov < 5")
    assert {"AND", "OR"} <= set(info.value.expected)
    assert info.value.suggestion == "AND"


def test_typo_in_a_field_suggests_the_nearest_field() -> None:
    with pytest.raises(RuleSyntaxError) as info:
        sg.parse("memberlevel = 'V1'")
    assert info.value.suggestion == "member_level"
    assert "member_level" in info.value.expected


def test_keywords_are_case_insensitive_and_names_are_not() -> None:
    assert sg.parse("city = 'a' and city = 'b'") == sg.parse("city = 'a' AND city = 'b'")
    with pytest.raises(RuleSyntaxError):
        sg.parse("CITY = 'a'")


def test_quotes_in_text_are_doubled() -> None:
    rule = sg.parse("city = 'O''Hare'")
    assert rule == ast.Compare(ast.Field("city"), "=", ast.String("O'Hare"))
    assert sg.to_text(rule) == "city = 'O''Hare'"


def test_relative_dates_and_durations() -> None:
    rule = sg.parse("last_paid_at > -4w AND spend(last: 6m) > 0 AND registered_at < -1y")
    assert rule.items[0].right == ast.RelDate(4, "w")
    assert rule.items[1].left.option("last") == ast.Duration(6, "m")
    assert rule.items[2].right == ast.RelDate(1, "y")


def test_and_binds_tighter_than_or_and_parentheses_nest_at_any_depth() -> None:
    rule = sg.parse("city = 'a' OR city = 'b' AND NOT (city = 'c' OR (city = 'd'))")
    assert isinstance(rule, ast.Or)
    assert isinstance(rule.items[1], ast.And)
    deep = "(" * 40 + "city = 'a'" + ")" * 40
    assert sg.parse(deep) == ast.Compare(ast.Field("city"), "=", ast.String("a"))


def test_nesting_too_deep_is_a_syntax_error_not_a_crash() -> None:
    with pytest.raises(RuleSyntaxError, match="nests deeper"):
        sg.parse("NOT " * 400 + "has_children")


def test_structure_is_preserved_through_text() -> None:
    nested = ast.And((ast.Truthy(ast.Field("has_children")),
                      ast.And((ast.Truthy(ast.Field("opted_out")),
                               ast.Compare(ast.Field("city"), "=", ast.String("x"))))))
    assert sg.parse(sg.to_text(nested)) == nested


def test_comments_become_notes_on_their_condition() -> None:
    rule = sg.parse("# recent\nlast_paid_at > -30d  # last month\nAND city = 'x'")
    assert rule.items[0].note == "recent\nlast month"
    assert rule.items[1].note is None
    assert sg.to_json(rule)["items"][0]["note"] == "recent\nlast month"


def test_from_json_rejects_names_that_would_change_the_rule() -> None:
    obj = {"type": "compare", "left": {"type": "field", "name": "city = 'x' OR city"},
           "op": "=", "right": "y"}
    with pytest.raises(RuleSyntaxError, match="not a name"):
        sg.from_json(obj)


def test_from_json_reports_the_json_path() -> None:
    obj = {"type": "and", "items": [{"type": "truthy", "value": {"type": "field",
                                                                  "name": "has_children"}},
                                    {"type": "compare", "left": 1, "op": "~", "right": 2}]}
    with pytest.raises(RuleSyntaxError) as info:
        sg.from_json(obj)
    assert info.value.snippet == "$.items[1].op"


def test_from_json_checks_names_like_the_text_form() -> None:
    obj = {"type": "truthy", "value": {"type": "field", "name": "has_childern"}}
    with pytest.raises(RuleSyntaxError) as info:
        sg.from_json(obj)
    assert info.value.suggestion == "has_children"
