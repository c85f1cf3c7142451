"""Syntax tree ↔ JSON, the form the API and the web builder use.

Every node is an object with a ``type``; literal text, numbers and booleans are plain JSON
values. :func:`from_json` checks the shape, then reads the rule back through the text parser,
so a JSON rule is valid exactly when its text form is, and both give the same tree.

Examples
--------
>>> from kequn.segments.parser import parse
>>> to_json(parse("spend(last: 365d) >= 1000"))  # doctest: +NORMALIZE_WHITESPACE
{'type': 'compare', 'left': {'type': 'call', 'name': 'spend', 'args': [],
 'options': {'last': {'type': 'duration', 'amount': 365, 'unit': 'd'}}}, 'op': '>=',
 'right': 1000}
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from kequn.errors import RuleSyntaxError
from kequn.segments import ast
from kequn.segments.catalog import DURATION_UNITS
from kequn.segments.parser import IDENTIFIER, SEGMENT_ID, SEGMENT_REF, parse
from kequn.segments.printer import to_text

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2})?)?")
_COMPARE_OPS = ("=", "!=", "<", "<=", ">", ">=")
_ARITH_OPS = ("+", "-", "*", "/")
_CONDITION_TYPES = ("and", "or", "not", "compare", "in", "between", "contains", "is_null",
                    "truthy", "segment", "sequence")

JSON = Any


# -- tree → JSON -----------------------------------------------------------------------------


def to_json(rule: ast.Rule) -> dict[str, JSON]:
    """The JSON form of a rule (a dict ready for :func:`json.dumps`)."""
    if isinstance(rule, ast.Family):
        return {
            "type": "family",
            "among": _cond_json(rule.among) if rule.among is not None else None,
            "labels": [_noted({"name": lb.name,
                               "when": _cond_json(lb.when) if lb.when is not None else None},
                              lb.note) for lb in rule.labels],
        }
    return _cond_json(rule)


def _noted(obj: dict[str, JSON], note: str | None) -> dict[str, JSON]:
    if note is not None:
        obj["note"] = note
    return obj


def _cond_json(c: ast.Condition) -> dict[str, JSON]:
    if isinstance(c, (ast.And, ast.Or)):
        return {"type": "and" if isinstance(c, ast.And) else "or",
                "items": [_cond_json(i) for i in c.items]}
    if isinstance(c, ast.Not):
        return {"type": "not", "item": _cond_json(c.item)}
    if isinstance(c, ast.Compare):
        obj = {"type": "compare", "left": _value_json(c.left), "op": c.op,
               "right": _value_json(c.right)}
    elif isinstance(c, ast.InList):
        obj = {"type": "in", "left": _value_json(c.left),
               "values": [_value_json(v) for v in c.values], "negated": c.negated}
    elif isinstance(c, ast.Between):
        obj = {"type": "between", "left": _value_json(c.left), "low": _value_json(c.low),
               "high": _value_json(c.high), "negated": c.negated}
    elif isinstance(c, ast.Contains):
        obj = {"type": "contains", "left": _value_json(c.left), "value": _value_json(c.value),
               "negated": c.negated}
    elif isinstance(c, ast.IsNull):
        obj = {"type": "is_null", "left": _value_json(c.left), "negated": c.negated}
    elif isinstance(c, ast.Truthy):
        obj = {"type": "truthy", "value": _value_json(c.value)}
    elif isinstance(c, ast.InSegment):
        obj = {"type": "segment", "ref": c.ref}
    else:
        obj = {"type": "sequence", "steps": [_step_json(s) for s in c.steps]}
    return _noted(obj, c.note)


def _step_json(s: ast.Step) -> dict[str, JSON]:
    obj: dict[str, JSON] = {"call": _value_json(s.call), "negated": s.negated}
    if s.within is not None:
        obj["within"] = _value_json(s.within)
    if s.after is not None:
        obj["after"] = _value_json(s.after)
    if s.same is not None:
        obj["same"] = s.same
    return obj


def _value_json(v: ast.Value | ast.Condition) -> JSON:
    if isinstance(v, (ast.Number, ast.String, ast.Bool)):
        return v.value
    if isinstance(v, ast.Date):
        return {"type": "date", "value": v.value}
    if isinstance(v, (ast.Duration, ast.RelDate)):
        kind = "duration" if isinstance(v, ast.Duration) else "reldate"
        return {"type": kind, "amount": v.amount, "unit": v.unit}
    if isinstance(v, (ast.Field, ast.Attr)):
        return {"type": "field" if isinstance(v, ast.Field) else "attr", "name": v.name}
    if isinstance(v, ast.Call):
        return {"type": "call", "name": v.name, "args": [_value_json(a) for a in v.args],
                "options": {k: _value_json(o) for k, o in v.options}}
    if isinstance(v, ast.Arith):
        return {"type": "arith", "op": v.op, "left": _value_json(v.left),
                "right": _value_json(v.right)}
    if isinstance(v, ast.Neg):
        return {"type": "neg", "value": _value_json(v.value)}
    return _cond_json(v)


# -- JSON → tree -----------------------------------------------------------------------------


def from_json(obj: JSON) -> ast.Rule:
    """Read the JSON form of a rule (a dict, or its JSON text).

    Raises
    ------
    RuleSyntaxError
        For a wrong shape (``snippet`` names the JSON path) or a rule that is not valid
        (line and column then refer to the rule's text form, given in ``snippet``).
    """
    if isinstance(obj, (str, bytes)):
        try:
            obj = json.loads(obj)
        except (ValueError, RecursionError) as exc:
            line, col = getattr(exc, "lineno", 1), getattr(exc, "colno", 1)
            msg = f"the rule is not valid JSON: {str(exc).split(':')[0].lower()}"
            raise RuleSyntaxError(msg, line=line, col=col) from None
    try:
        tree = _Decoder().rule(obj)
    except RecursionError:
        msg = "the JSON rule nests too deeply"
        raise RuleSyntaxError(msg, line=1, col=1) from None
    text = to_text(tree)
    try:
        return parse(text)
    except RuleSyntaxError as exc:
        msg = f"in the JSON rule's text form: {exc}"
        raise RuleSyntaxError(msg, line=exc.line, col=exc.col, snippet=exc.snippet,
                              expected=exc.expected, suggestion=exc.suggestion) from None


class _Decoder:
    """Shape checks; each method takes the JSON value and its path for error messages."""

    depth = 0

    def fail(self, path: str, msg: str) -> RuleSyntaxError:
        return RuleSyntaxError(f"{msg} at {path}", line=1, col=1, snippet=path)

    def rule(self, obj: JSON) -> ast.Rule:
        if isinstance(obj, dict) and obj.get("type") == "family":
            return self.family(obj, "$")
        return self.cond(obj, "$")

    def family(self, obj: dict[str, JSON], path: str) -> ast.Family:
        labels = obj.get("labels")
        if not isinstance(labels, list) or not labels:
            raise self.fail(path + ".labels", "a family needs a list of labels")
        among = obj.get("among")
        return ast.Family(
            among=None if among is None else self.cond(among, path + ".among"),
            labels=tuple(self.label(lb, f"{path}.labels[{i}]") for i, lb in enumerate(labels)),
        )

    def label(self, obj: JSON, path: str) -> ast.Label:
        obj = self.obj(obj, path)
        name = self.text(obj.get("name"), path + ".name")
        if not SEGMENT_ID.fullmatch(name):
            raise self.fail(path + ".name", f"label {name!r} must be lower-case letters, digits, _")
        when = obj.get("when")
        return ast.Label(name, None if when is None else self.cond(when, path + ".when"),
                         note=self.note(obj, path))

    def obj(self, obj: JSON, path: str) -> dict[str, JSON]:
        if not isinstance(obj, dict):
            raise self.fail(path, f"expected an object, got {type(obj).__name__}")
        return obj

    def text(self, value: JSON, path: str) -> str:
        if not isinstance(value, str):
            raise self.fail(path, "expected text")
        return value

    def name(self, value: JSON, path: str) -> str:
        name = self.text(value, path)
        if not IDENTIFIER.fullmatch(name):
            raise self.fail(path, f"{name!r} is not a name")
        return name

    def flag(self, obj: dict[str, JSON], key: str, path: str) -> bool:
        value = obj.get(key, False)
        if not isinstance(value, bool):
            msg = f"{path}.{key}"
            raise self.fail(msg, "expected true or false")
        return value

    def note(self, obj: dict[str, JSON], path: str) -> str | None:
        note = obj.get("note")
        return None if note is None else self.text(note, path + ".note")

    def cond(self, obj: JSON, path: str) -> ast.Condition:
        self.depth += 1
        try:
            if self.depth > 200:
                raise self.fail(path, "the rule nests too deeply")
            obj = self.obj(obj, path)
            kind = obj.get("type")
            if kind not in _CONDITION_TYPES:
                raise self.fail(path + ".type", f"unknown condition type {kind!r}; use one of "
                                f"{', '.join(_CONDITION_TYPES)}")
            return getattr(self, f"cond_{kind}")(obj, path)
        finally:
            self.depth -= 1

    def items(self, obj: dict[str, JSON], path: str) -> tuple[ast.Condition, ...]:
        items = obj.get("items")
        if not isinstance(items, list) or len(items) < 2:
            raise self.fail(path + ".items", "expected a list of at least two conditions")
        return tuple(self.cond(item, f"{path}.items[{i}]") for i, item in enumerate(items))

    def cond_and(self, obj: dict[str, JSON], path: str) -> ast.And:
        return ast.And(self.items(obj, path))

    def cond_or(self, obj: dict[str, JSON], path: str) -> ast.Or:
        return ast.Or(self.items(obj, path))

    def cond_not(self, obj: dict[str, JSON], path: str) -> ast.Not:
        return ast.Not(self.cond(obj.get("item"), path + ".item"))

    def cond_compare(self, obj: dict[str, JSON], path: str) -> ast.Compare:
        op = obj.get("op")
        if op not in _COMPARE_OPS:
            raise self.fail(path + ".op", f"op must be one of {' '.join(_COMPARE_OPS)}")
        return ast.Compare(self.value(obj.get("left"), path + ".left"), op,
                           self.value(obj.get("right"), path + ".right"), note=self.note(obj, path))

    def cond_in(self, obj: dict[str, JSON], path: str) -> ast.InList:
        values = obj.get("values")
        if not isinstance(values, list) or not values:
            raise self.fail(path + ".values", "expected a non-empty list")
        return ast.InList(self.value(obj.get("left"), path + ".left"),
                          tuple(self.value(v, f"{path}.values[{i}]") for i, v in enumerate(values)),
                          negated=self.flag(obj, "negated", path), note=self.note(obj, path))

    def cond_between(self, obj: dict[str, JSON], path: str) -> ast.Between:
        return ast.Between(self.value(obj.get("left"), path + ".left"),
                           self.value(obj.get("low"), path + ".low"),
                           self.value(obj.get("high"), path + ".high"),
                           negated=self.flag(obj, "negated", path), note=self.note(obj, path))

    def cond_contains(self, obj: dict[str, JSON], path: str) -> ast.Contains:
        return ast.Contains(self.value(obj.get("left"), path + ".left"),
                            self.value(obj.get("value"), path + ".value"),
                            negated=self.flag(obj, "negated", path), note=self.note(obj, path))

    def cond_is_null(self, obj: dict[str, JSON], path: str) -> ast.IsNull:
        return ast.IsNull(self.value(obj.get("left"), path + ".left"),
                          negated=self.flag(obj, "negated", path), note=self.note(obj, path))

    def cond_truthy(self, obj: dict[str, JSON], path: str) -> ast.Truthy:
        return ast.Truthy(self.value(obj.get("value"), path + ".value"), note=self.note(obj, path))

    def cond_segment(self, obj: dict[str, JSON], path: str) -> ast.InSegment:
        ref = self.text(obj.get("ref"), path + ".ref")
        if not SEGMENT_REF.fullmatch(ref):
            raise self.fail(path + ".ref", f"{ref!r} is not a segment id")
        return ast.InSegment(ref, note=self.note(obj, path))

    def cond_sequence(self, obj: dict[str, JSON], path: str) -> ast.Sequence:
        steps = obj.get("steps")
        if not isinstance(steps, list) or len(steps) < 2:
            raise self.fail(path + ".steps", "a sequence needs at least two steps")
        return ast.Sequence(tuple(self.step(s, f"{path}.steps[{i}]", first=i == 0)
                                  for i, s in enumerate(steps)), note=self.note(obj, path))

    def step(self, obj: JSON, path: str, *, first: bool) -> ast.Step:
        obj = self.obj(obj, path)
        call = self.value(obj.get("call"), path + ".call")
        if not isinstance(call, ast.Call):
            raise self.fail(path + ".call", "a step must be a call such as events(cart)")
        links = {}
        for key in ("within", "after"):
            if obj.get(key) is not None:
                value = self.value(obj[key], f"{path}.{key}")
                if not isinstance(value, ast.Duration):
                    msg = f"{path}.{key}"
                    raise self.fail(msg, "expected a duration")
                links[key] = value
        same = obj.get("same")
        if same is not None:
            links["same"] = self.name(same, path + ".same")
        negated = self.flag(obj, "negated", path)
        if first and (links or negated):
            raise self.fail(path, "the first step of a sequence has no link")
        return ast.Step(call, negated=negated, **links)

    # values --------------------------------------------------------------------------------
    def value(self, obj: JSON, path: str) -> ast.Value:
        self.depth += 1
        try:
            if self.depth > 200:
                raise self.fail(path, "the rule nests too deeply")
            return self._value(obj, path)
        finally:
            self.depth -= 1

    def _value(self, obj: JSON, path: str) -> ast.Value:
        if isinstance(obj, bool):
            return ast.Bool(obj)
        if isinstance(obj, (int, float)):
            if isinstance(obj, float) and not math.isfinite(obj):
                raise self.fail(path, "numbers must be finite")
            return ast.Number(obj)
        if isinstance(obj, str):
            return ast.String(obj)
        obj = self.obj(obj, path)
        kind = obj.get("type")
        if kind == "date":
            text = self.text(obj.get("value"), path + ".value")
            if not _DATE.fullmatch(text):
                raise self.fail(path + ".value", f"{text!r} is not a date such as 2024-03-01")
            return ast.Date(text)
        if kind in ("duration", "reldate"):
            amount, unit = obj.get("amount"), obj.get("unit")
            if (isinstance(amount, bool) or not isinstance(amount, (int, float))
                    or not math.isfinite(amount) or amount < 0):
                raise self.fail(path + ".amount", "expected a number of at least 0")
            if unit not in DURATION_UNITS:
                raise self.fail(path + ".unit", f"unit must be one of {' '.join(DURATION_UNITS)}")
            return (ast.Duration if kind == "duration" else ast.RelDate)(amount, unit)
        if kind in ("field", "attr"):
            name = self.name(obj.get("name"), path + ".name")
            return ast.Field(name) if kind == "field" else ast.Attr(name)
        if kind == "call":
            return self.call(obj, path)
        if kind == "arith":
            op = obj.get("op")
            if op not in _ARITH_OPS:
                raise self.fail(path + ".op", f"op must be one of {' '.join(_ARITH_OPS)}")
            return ast.Arith(op, self.value(obj.get("left"), path + ".left"),
                             self.value(obj.get("right"), path + ".right"))
        if kind == "neg":
            return ast.Neg(self.value(obj.get("value"), path + ".value"))
        raise self.fail(path + ".type", f"unknown value type {kind!r}")

    def call(self, obj: dict[str, JSON], path: str) -> ast.Call:
        name = self.name(obj.get("name"), path + ".name")
        args = obj.get("args", [])
        options = obj.get("options", {})
        if not isinstance(args, list):
            raise self.fail(path + ".args", "expected a list")
        if not isinstance(options, dict):
            raise self.fail(path + ".options", "expected an object")
        decoded = []
        for key, value in options.items():
            self.name(key, f"{path}.options")
            where = f"{path}.options.{key}"
            if isinstance(value, dict) and value.get("type") in _CONDITION_TYPES:
                decoded.append((key, self.cond(value, where)))
            else:
                decoded.append((key, self.value(value, where)))
        return ast.Call(name, tuple(self.value(a, f"{path}.args[{i}]") for i, a in enumerate(args)),
                        tuple(decoded))
