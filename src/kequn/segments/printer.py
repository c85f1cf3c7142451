"""Syntax tree → canonical text: ``parse(to_text(rule)) == rule`` for every parsed rule.

One ``_text_<Node>`` function per node. Top-level ``AND`` / ``OR`` chains put one condition per
line; notes come back as ``#`` lines before the condition or label they describe.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kequn.segments import ast
from kequn.segments.catalog import FUNCTIONS, KEYWORDS
from kequn.segments.parser import IDENTIFIER

_PRECEDENCE = {ast.Or: 1, ast.And: 2, ast.Not: 3}


def to_text(rule: ast.Rule) -> str:
    """The canonical text form of a rule.

    Examples
    --------
    >>> from kequn.segments.parser import parse
    >>> print(to_text(parse("paid_orders(last:720d)=1 and last_paid_at>-180d")))
    paid_orders(last: 720d) = 1
    AND last_paid_at > -180d
    """
    if isinstance(rule, ast.Family):
        return _text_family(rule)
    return _top(rule)


def _top(cond: ast.Condition) -> str:
    if isinstance(cond, (ast.And, ast.Or)):
        word = "AND" if isinstance(cond, ast.And) else "OR"
        lines = []
        for i, item in enumerate(cond.items):
            text = _child(item, cond)
            lines.append(text if i == 0 else _prefix_after_notes(text, f"{word} "))
        return "\n".join(lines)
    return cond_text(cond)


def _prefix_after_notes(text: str, prefix: str) -> str:
    # Notes must stay on their own lines before the condition, so the operator goes after them.
    lines = text.split("\n")
    i = 0
    while i < len(lines) and lines[i].startswith("#"):
        i += 1
    if i == len(lines):
        return prefix + text
    lines[i] = prefix + lines[i]
    return "\n".join(lines)


def _text_family(fam: ast.Family) -> str:
    head = "FAMILY"
    if fam.among is not None:
        head += " AMONG " + cond_text(fam.among)
    lines = [head]
    for label in fam.labels:
        lines.extend(_note_lines(label.note))
        body = "ELSE" if label.when is None else cond_text(label.when)
        lines.append(f"{label.name}: {body}")
    return "\n".join(lines)


def cond_text(cond: ast.Condition) -> str:
    """One condition as text (notes included, on lines of their own)."""
    if isinstance(cond, (ast.And, ast.Or)):
        word = " AND " if isinstance(cond, ast.And) else " OR "
        return _join_items(word, [_child(i, cond) for i in cond.items])
    if isinstance(cond, ast.Not):
        inner = cond.item
        text = cond_text(inner)
        if isinstance(inner, (ast.And, ast.Or, ast.Sequence)):  # sequence: for the reader only
            text = _paren(text)
        return _prefix_after_notes(text, "NOT ")
    body = _LEAF_TEXT[type(cond)](cond)
    return "\n".join([*_note_lines(cond.note), body])


def _join_items(word: str, texts: list[str]) -> str:
    out = texts[0]
    for text in texts[1:]:
        if "\n" in text:  # a note: the operator goes after it, so the comment keeps its line
            out += "\n" + _prefix_after_notes(text, word.strip() + " ")
        else:
            out += word + text
    return out


def _child(item: ast.Condition, parent: ast.And | ast.Or) -> str:
    text = cond_text(item)
    inner = _PRECEDENCE.get(type(item), 4)
    if inner <= _PRECEDENCE[type(parent)]:
        return _paren(text)
    return text


def _paren(text: str) -> str:
    # The last line of a condition is always condition text (notes precede), so ")" is safe.
    return f"({text})"


def _note_lines(note: str | None) -> list[str]:
    if note is None:
        return []
    return [f"# {line}" if line else "#" for line in note.split("\n")]


# -- leaves -----------------------------------------------------------------------------------


def _text_compare(c: ast.Compare) -> str:
    return f"{value_text(c.left)} {c.op} {value_text(c.right)}"


def _text_in(c: ast.InList) -> str:
    values = ", ".join(value_text(v) for v in c.values)
    return f"{value_text(c.left)} {'NOT IN' if c.negated else 'IN'} ({values})"


def _text_between(c: ast.Between) -> str:
    word = "NOT BETWEEN" if c.negated else "BETWEEN"
    return f"{value_text(c.left)} {word} {value_text(c.low)} AND {value_text(c.high)}"


def _text_contains(c: ast.Contains) -> str:
    word = "NOT CONTAINS" if c.negated else "CONTAINS"
    return f"{value_text(c.left)} {word} {value_text(c.value)}"


def _text_is_null(c: ast.IsNull) -> str:
    return f"{value_text(c.left)} IS {'NOT NULL' if c.negated else 'NULL'}"


def _text_truthy(c: ast.Truthy) -> str:
    return value_text(c.value)


def _text_segment(c: ast.InSegment) -> str:
    return f"segment({c.ref})"


def _text_sequence(c: ast.Sequence) -> str:
    parts = [value_text(c.steps[0].call)]
    for step in c.steps[1:]:
        text = "THEN NOT " if step.negated else "THEN "
        text += value_text(step.call)
        if step.within is not None:
            text += f" WITHIN {value_text(step.within)}"
        if step.after is not None:
            text += f" AFTER {value_text(step.after)}"
        if step.same is not None:
            text += f" SAME {step.same}"
        parts.append(text)
    return " ".join(parts)


_LEAF_TEXT: dict[type, Any] = {
    ast.Compare: _text_compare, ast.InList: _text_in, ast.Between: _text_between,
    ast.Contains: _text_contains, ast.IsNull: _text_is_null, ast.Truthy: _text_truthy,
    ast.InSegment: _text_segment, ast.Sequence: _text_sequence,
}

# -- values -----------------------------------------------------------------------------------

_ARITH_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}


def value_text(v: ast.Value) -> str:
    """One value as text."""
    if isinstance(v, ast.Number):
        return number_text(v.value)
    if isinstance(v, ast.String):
        return string_text(v.value)
    if isinstance(v, ast.Bool):
        return "TRUE" if v.value else "FALSE"
    if isinstance(v, ast.Date):
        return v.value
    if isinstance(v, ast.Duration):
        return f"{number_text(v.amount)}{v.unit}"
    if isinstance(v, ast.RelDate):
        return f"-{number_text(v.amount)}{v.unit}"
    if isinstance(v, ast.Field):
        return v.name
    if isinstance(v, ast.Attr):
        return f"attr.{v.name}"
    if isinstance(v, ast.Call):
        return _text_call(v)
    if isinstance(v, ast.Arith):
        return _text_arith(v)
    if isinstance(v, ast.Neg):
        inner = value_text(v.value)
        return f"-({inner})" if isinstance(v.value, ast.Arith) else f"-{inner}"
    msg = f"not a value node: {type(v).__name__}"
    raise TypeError(msg)


def _text_arith(v: ast.Arith) -> str:
    mine = _ARITH_PRECEDENCE[v.op]
    left = value_text(v.left)
    if isinstance(v.left, ast.Arith) and _ARITH_PRECEDENCE[v.left.op] < mine:
        left = f"({left})"
    right = value_text(v.right)
    # Left-associative: a right operand of equal precedence needs parentheses to stay grouped.
    if isinstance(v.right, ast.Arith) and _ARITH_PRECEDENCE[v.right.op] <= mine:
        right = f"({right})"
    return f"{left} {v.op} {right}"


def _text_call(v: ast.Call) -> str:
    if not v.args and not v.options:
        return v.name
    parts = [_arg_text(v, a) for a in v.args]
    for key, opt in v.options:
        if isinstance(opt, ast.String) and key == "by":
            parts.append(f"{key}: {word_text(opt.value)}")
        elif isinstance(opt, (ast.And, ast.Or, ast.Not, *ast.LEAVES)):
            parts.append(f"{key}: {cond_text(opt)}")
        else:
            parts.append(f"{key}: {value_text(opt)}")
    return f"{v.name}({', '.join(parts)})"


def _arg_text(call: ast.Call, arg: ast.Value) -> str:
    fn = FUNCTIONS.get(call.name)
    if isinstance(arg, ast.String) and fn is not None and fn.events:
        return word_text(arg.value)
    return value_text(arg)


def word_text(word: str) -> str:
    """An event name or option word: bare when it is a plain name, quoted otherwise."""
    if IDENTIFIER.fullmatch(word) and word.upper() not in KEYWORDS:
        return word
    return string_text(word)


def string_text(value: str) -> str:
    """A text literal in single quotes, with ``'`` doubled."""
    return "'" + value.replace("'", "''") + "'"


def number_text(value: float) -> str:
    """A number as the grammar writes it: no exponent, floats keep their decimal point."""
    if isinstance(value, bool):
        msg = "a boolean is not a number"
        raise TypeError(msg)
    if isinstance(value, int):
        return str(value)
    text = format(Decimal(repr(value)), "f")
    return text if "." in text else text + ".0"
