"""Text → syntax tree: lark parses the grammar, one ``_build_<rule>`` method per grammar rule
turns the parse tree into :mod:`kequn.segments.ast` nodes and checks every name.

Every failure is a :class:`~kequn.errors.RuleSyntaxError` carrying line, column, the line of
text with a caret, what was expected, and the nearest known name for a typo.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
from typing import Any

from lark import Token, Tree
from lark.exceptions import UnexpectedInput

from kequn.errors import RuleSyntaxError
from kequn.segments import ast
from kequn.segments import catalog as cat
from kequn.segments.tokens import collect_comments, lark_parser, snippet_at, syntax_error

MAX_DEPTH = 120  # nesting deeper than this is a mistake, and would exhaust Python's stack
SEGMENT_ID = re.compile(r"[a-z][a-z0-9_]{0,63}")
SEGMENT_REF = re.compile(r"[a-z][a-z0-9_]{0,63}(?:\.[a-z][a-z0-9_]{0,63})?")
IDENTIFIER = re.compile(r"[^\W\d]\w*")


def parse(text: str) -> ast.Rule:
    """Parse the text form of a rule.

    Raises
    ------
    RuleSyntaxError
        With ``line``, ``col``, ``snippet``, ``expected`` and maybe ``suggestion``.

    Examples
    --------
    >>> parse("member_level IN ('V4', 'V5') AND city_tier <= 2")  # doctest: +ELLIPSIS
    And(items=(InList(left=Field(name='member_level'), ...
    """
    if not isinstance(text, str):
        msg = f"a rule must be text, not {type(text).__name__}"
        raise RuleSyntaxError(msg, line=1, col=1)
    comments: list[Token] = []
    collect_comments(comments)
    try:
        tree = lark_parser().parse(text)
    except UnexpectedInput as exc:
        raise syntax_error(exc, text) from None
    finally:
        collect_comments(None)
    return _Builder(text, comments).build(tree)


# -- tree → ast -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    """Building a ``where:`` filter over the rows of one source."""

    source: str


_CUSTOMER = "customer"
_Ctx = str | _Row


@dataclass
class _Anchor:
    start: int
    end: int
    end_line: int
    node: object
    leaf: bool


class _Builder:
    """One method per grammar rule; ``ctx`` says which names are valid (customer or row)."""

    def __init__(self, text: str, comments: list[Token]) -> None:
        self.text = text
        self.comments = comments
        self.anchors: list[_Anchor] = []
        self.call_depth = 0
        self.depth = 0

    # entry --------------------------------------------------------------------------------
    def build(self, tree: Tree) -> ast.Rule:
        (child,) = _children(tree)
        if isinstance(child, Tree) and child.data == "family":
            rule: ast.Rule = self._build_family(child)
        else:
            rule = self._cond(child, _CUSTOMER)
        return self._attach_notes(rule) if self.comments else rule

    def error(self, msg: str, where: Tree | Token | None, *, suggestion: str | None = None,
              expected: tuple[str, ...] = ()) -> RuleSyntaxError:
        line, col = _position(where)
        if suggestion:
            msg += f" (did you mean {suggestion}?)"
        return RuleSyntaxError(msg, line=line, col=col, snippet=snippet_at(self.text, line, col),
                               expected=expected, suggestion=suggestion)

    # family ---------------------------------------------------------------------------------
    def _build_family(self, tree: Tree) -> ast.Family:
        kids = _children(tree)
        among = None
        labels: list[ast.Label] = []
        for kid in kids[1:]:
            if isinstance(kid, Tree) and kid.data == "label":
                labels.append(self._build_label(kid))
            elif isinstance(kid, Tree):
                among = self._cond(kid, _CUSTOMER)
        seen: set[str] = set()
        for i, (label, kid) in enumerate(zip(labels, kids[-len(labels):], strict=True)):
            if label.name in seen:
                msg = f"label {label.name!r} appears twice in the family"
                raise self.error(msg, kid)
            seen.add(label.name)
            if label.when is None and i != len(labels) - 1:
                msg = f"label {label.name!r} is ELSE, so it must be the last label"
                raise self.error(msg, kid)
        return ast.Family(among=among, labels=tuple(labels))

    def _build_label(self, tree: Tree) -> ast.Label:
        name_tok, body = _children(tree)
        name = str(name_tok)
        if not SEGMENT_ID.fullmatch(name):
            msg = f"label {name!r} must be lower-case letters, digits and _"
            raise self.error(msg, name_tok)
        when = None if isinstance(body, Token) else self._cond(body, _CUSTOMER)
        label = ast.Label(name=name, when=when)
        self.anchors.append(_Anchor(name_tok.start_pos, tree.meta.end_pos, tree.meta.end_line,
                                    label, leaf=False))
        return label

    # conditions and values --------------------------------------------------------------------
    def _cond(self, tree: Tree | Token, ctx: _Ctx) -> ast.Condition:
        node = self._expr(tree, ctx)
        if isinstance(node, (ast.And, ast.Or, ast.Not, *ast.LEAVES)):
            return node
        return self._leaf(self._truthy(node, tree, ctx), tree, ctx)

    def _value(self, tree: Tree | Token, ctx: _Ctx) -> ast.Value:
        node = self._expr(tree, ctx)
        if isinstance(node, (ast.And, ast.Or, ast.Not, *ast.LEAVES)):
            msg = "a condition cannot be used as a value here"
            raise self.error(msg, tree)
        return node

    def _expr(self, tree: Tree | Token, ctx: _Ctx) -> ast.Value | ast.Condition:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                msg = f"the rule nests deeper than {MAX_DEPTH} levels"
                raise self.error(msg, tree)
            if isinstance(tree, Token):  # only reached through malformed trees
                msg = f"unexpected {str(tree)!r}"
                raise self.error(msg, tree)
            method = getattr(self, f"_build_{tree.data}")
            return method(tree, ctx)
        finally:
            self.depth -= 1

    def _build_or_expr(self, tree: Tree, ctx: _Ctx) -> ast.Or:
        return ast.Or(tuple(self._cond(k, ctx) for k in _children(tree) if isinstance(k, Tree)))

    def _build_and_expr(self, tree: Tree, ctx: _Ctx) -> ast.And:
        return ast.And(tuple(self._cond(k, ctx) for k in _children(tree) if isinstance(k, Tree)))

    def _build_negation(self, tree: Tree, ctx: _Ctx) -> ast.Not:
        return ast.Not(self._cond(_children(tree)[-1], ctx))

    def _build_group(self, tree: Tree, ctx: _Ctx) -> ast.Value | ast.Condition:
        (inner,) = _children(tree)
        return self._expr(inner, ctx)

    def _build_predicate(self, tree: Tree, ctx: _Ctx) -> ast.Value | ast.Condition:
        kids = _children(tree)
        head = kids[0]
        rest = kids[1:]
        if not rest:
            return self._expr(head, ctx)
        if rest[0].data == "link":
            return self._leaf(self._sequence(head, rest, ctx), tree, ctx)
        left = self._value(head, ctx)
        comp = rest[0]
        method = getattr(self, f"_comparison_{comp.data}")
        return self._leaf(method(left, comp, ctx), tree, ctx)

    def _leaf(self, node: ast.Condition, tree: Tree | Token, ctx: _Ctx) -> ast.Condition:
        if ctx == _CUSTOMER and self.call_depth == 0 and isinstance(tree, Tree):
            meta = tree.meta
            self.anchors.append(_Anchor(meta.start_pos, meta.end_pos, meta.end_line, node,
                                        leaf=True))
        return node

    def _truthy(self, value: ast.Value, tree: Tree | Token, ctx: _Ctx) -> ast.Truthy:
        ok = isinstance(value, ast.Attr)
        if isinstance(value, ast.Field):
            types = cat.CUSTOMER_FIELDS if ctx == _CUSTOMER else cat.ROW_COLUMNS[ctx.source]
            ok = types.get(value.name) == "bool"
        elif isinstance(value, ast.Call) and value.name in cat.FUNCTIONS:
            ok = cat.FUNCTIONS[value.name].countable
        elif isinstance(value, ast.Bool):
            ok = True
        if not ok:
            shown = _short(tree, self.text)
            msg = (f"the value {shown!r} is not a condition; compare it, "
                   f"e.g. {shown} > 0 or {shown} = 'x'")
            raise self.error(msg, tree)
        return ast.Truthy(value)

    # comparisons ------------------------------------------------------------------------------
    def _comparison_compare(self, left: ast.Value, comp: Tree, ctx: _Ctx) -> ast.Compare:
        op_tok, right = _children(comp)
        op = "!=" if str(op_tok) == "<>" else str(op_tok)
        return ast.Compare(left, op, self._value(right, ctx))

    def _comparison_in_list(self, left: ast.Value, comp: Tree, ctx: _Ctx) -> ast.InList:
        kids = _children(comp)
        negated = _is_token(kids[0], "NOT")
        values = []
        for kid in kids:
            if isinstance(kid, Token):
                continue
            value = self._value(kid, ctx)
            if not isinstance(value, (ast.Number, ast.String, ast.Bool, ast.Date, ast.RelDate)):
                msg = "the list after IN takes literal values such as ('V4', 'V5')"
                raise self.error(msg, kid)
            values.append(value)
        return ast.InList(left, tuple(values), negated=negated)

    def _comparison_between(self, left: ast.Value, comp: Tree, ctx: _Ctx) -> ast.Between:
        kids = _children(comp)
        low, high = (k for k in kids if isinstance(k, Tree))
        return ast.Between(left, self._value(low, ctx), self._value(high, ctx),
                           negated=_is_token(kids[0], "NOT"))

    def _comparison_contains(self, left: ast.Value, comp: Tree, ctx: _Ctx) -> ast.Contains:
        kids = _children(comp)
        return ast.Contains(left, self._value(kids[-1], ctx), negated=_is_token(kids[0], "NOT"))

    def _comparison_is_null(self, left: ast.Value, comp: Tree, ctx: _Ctx) -> ast.IsNull:
        kids = _children(comp)
        return ast.IsNull(left, negated=any(_is_token(k, "NOT") for k in kids))

    # sequences ----------------------------------------------------------------------------------
    def _sequence(self, head: Tree, links: list[Tree], ctx: _Ctx) -> ast.Sequence:
        if ctx != _CUSTOMER:
            msg = "a sequence cannot be used inside where:"
            raise self.error(msg, head)
        steps = [ast.Step(self._step_call(head))]
        for link in links:
            kids = _children(link)
            negated = any(_is_token(k, "NOT") for k in kids)
            call_tree = next(k for k in kids if isinstance(k, Tree))
            call = self._step_call(call_tree)
            within = after = same = None
            for i, kid in enumerate(kids):
                if _is_token(kid, "WITHIN"):
                    within = _duration(kids[i + 1])
                elif _is_token(kid, "AFTER"):
                    if negated:
                        msg = "a THEN NOT step takes WITHIN, not AFTER"
                        raise self.error(msg, kid)
                    after = _duration(kids[i + 1])
                elif _is_token(kid, "SAME"):
                    same = str(kids[i + 1])
                    if same not in cat.SAME_KEYS:
                        near = cat.suggest(same, cat.SAME_KEYS)
                        msg = f"SAME takes product or category, not {same!r}"
                        raise self.error(msg,
                                         kids[i + 1], suggestion=near)
                    for step_call in (steps[-1].call, call):
                        if same not in cat.FUNCTIONS[step_call.name].same:
                            msg = (f"{step_call.name} has no {same}; SAME {same} "
                                   "needs events(...) or items_bought(...) steps")
                            raise self.error(msg, kid)
            steps.append(ast.Step(call, negated=negated, within=within, after=after, same=same))
        return ast.Sequence(tuple(steps))

    def _step_call(self, tree: Tree) -> ast.Call:
        value = self._value(tree, _CUSTOMER)
        if not (isinstance(value, ast.Call) and value.name in cat.FUNCTIONS
                and cat.FUNCTIONS[value.name].step):
            steps = ", ".join(f.name for f in cat.FUNCTIONS.values() if f.step)
            msg = f"a sequence step must be one of {steps}"
            raise self.error(msg, tree)
        return value

    # arithmetic -------------------------------------------------------------------------------
    def _build_sum(self, tree: Tree, ctx: _Ctx) -> ast.Value:
        return self._fold(tree, ctx)

    def _build_product(self, tree: Tree, ctx: _Ctx) -> ast.Value:
        return self._fold(tree, ctx)

    def _fold(self, tree: Tree, ctx: _Ctx) -> ast.Value:
        kids = _children(tree)
        value = self._value(kids[0], ctx)
        for op_tok, operand in zip(kids[1::2], kids[2::2], strict=True):
            value = ast.Arith(str(op_tok), value, self._value(operand, ctx))
        return value

    def _build_neg(self, tree: Tree, ctx: _Ctx) -> ast.Value:
        inner = self._value(_children(tree)[-1], ctx)
        return negate(inner)

    # literals and names -------------------------------------------------------------------------
    def _build_literal(self, tree: Tree, ctx: _Ctx) -> ast.Value:
        (tok,) = _children(tree)
        kind = tok.type
        text = str(tok)
        if kind == "STRING":
            if "\x00" in text:
                msg = "text cannot contain the NUL character"
                raise self.error(msg, tok)
            return ast.String(text[1:-1].replace("''", "'"))
        if kind == "NUMBER":
            return ast.Number(float(text) if "." in text else int(text))
        if kind == "DURATION":
            return _duration(tok)
        if kind == "DATE":
            try:
                (dt.datetime if "T" in text else dt.date).fromisoformat(text)
            except ValueError:
                msg = f"date {text!r} does not exist"
                raise self.error(msg, tok) from None
            return ast.Date(text)
        return ast.Bool(kind == "TRUE")

    def _build_name(self, tree: Tree, ctx: _Ctx) -> ast.Value:
        parts = [str(t) for t in _children(tree)]
        if ctx != _CUSTOMER:
            return self._row_name(parts, tree, ctx)
        if len(parts) == 2 and parts[0] == "attr":
            return ast.Attr(parts[1])
        name = ".".join(parts)
        if len(parts) == 1 and name in cat.CUSTOMER_FIELDS:
            return ast.Field(name)
        if len(parts) == 1 and name in cat.FUNCTIONS:
            fn = cat.FUNCTIONS[name]
            if fn.params:
                msg = f"{name} needs {', '.join(fn.params)}: {name}(...)"
                raise self.error(msg, tree)
            return ast.Call(name)
        if len(parts) > 1:
            msg = (f"unknown name {name!r}; write a custom attribute as attr.NAME and "
                   f"another segment as segment({name})")
            raise self.error(msg, tree)
        raise self.unknown(name, tree, cat.customer_names(), "field or function")

    def _row_name(self, parts: list[str], tree: Tree, ctx: _Row) -> ast.Value:
        name = ".".join(parts)
        if len(parts) == 1 and name in cat.ROW_COLUMNS[ctx.source]:
            return ast.Field(name)
        if len(parts) == 1 and name in cat.ROW_FUNCTIONS:
            return ast.Call(name)
        if len(parts) == 1 and name in cat.FUNCTIONS:
            msg = (f"{name} cannot be used inside where:, which tests one "
                   f"{_ROW_LABELS[ctx.source]} row at a time")
            raise self.error(msg, tree)
        raise self.unknown(name, tree, cat.row_names(ctx.source),
                           f"column of the {_ROW_LABELS[ctx.source]} rows in where:")

    def unknown(self, name: str, where: Tree | Token, choices: list[str],
                what: str) -> RuleSyntaxError:
        """An error for an unknown name, with the nearest known one."""
        near = cat.suggest(name, choices)
        return self.error(f"unknown {what} {name!r}", where, suggestion=near,
                          expected=tuple(sorted(choices)))

    # calls --------------------------------------------------------------------------------------
    def _build_call(self, tree: Tree, ctx: _Ctx) -> ast.Value | ast.Condition:
        kids = _children(tree)
        name_tree, args = kids[0], [k for k in kids[1:] if k is not None]
        name = ".".join(str(t) for t in _children(name_tree))
        self.call_depth += 1
        try:
            if ctx != _CUSTOMER:
                return self._row_call(name, name_tree, args, ctx)
            if name == "segment":
                return self._segment_call(tree, args)
            if name not in cat.FUNCTIONS:
                raise self.unknown(name, name_tree, [*cat.FUNCTIONS, "segment"], "function")
            return self._function_call(cat.FUNCTIONS[name], tree, args)
        finally:
            self.call_depth -= 1

    def _segment_call(self, tree: Tree, args: list[Tree]) -> ast.Condition:
        if len(args) != 1 or args[0].data != "positional":
            msg = "segment() takes one segment id: segment(active)"
            raise self.error(msg, tree)
        arg = _unwrap(_children(args[0])[0])
        ref = None
        if isinstance(arg, Tree) and arg.data == "name":
            ref = ".".join(str(t) for t in _children(arg))
        elif isinstance(arg, Tree) and arg.data == "literal":
            tok = _children(arg)[0]
            ref = str(tok)[1:-1].replace("''", "'") if tok.type == "STRING" else None
        if ref is None or not SEGMENT_REF.fullmatch(ref):
            msg = ("segment() takes a segment id such as active or "
                   "vip_pyramid.supreme")
            raise self.error(msg, arg)
        self.call_depth -= 1
        try:
            return self._leaf(ast.InSegment(ref), tree, _CUSTOMER)
        finally:
            self.call_depth += 1

    def _function_call(self, fn: cat.Function, tree: Tree, args: list[Tree]) -> ast.Call:
        positional: list[ast.Value] = []
        options: list[tuple[str, ast.Value | ast.Condition]] = []
        for arg in args:
            kids = _children(arg)
            if arg.data == "option":
                key_tok, value_tree = kids
                key = str(key_tok)
                if any(k == key for k, _ in options):
                    msg = f"option {key!r} is given twice"
                    raise self.error(msg, key_tok)
                options.append((key, self._option(fn, key, key_tok, value_tree)))
            else:
                if options:
                    msg = "positional values come before named options"
                    raise self.error(msg, arg)
                positional.append(self._positional(fn, kids[0]))
        if not fn.events and len(positional) != len(fn.params):
            want = f"{len(fn.params)} value(s): {', '.join(fn.params)}" if fn.params else "none"
            msg = f"{fn.name} takes {want} before its options"
            raise self.error(msg, tree)
        keys = {k for k, _ in options}
        if "last" in keys and keys & {"from", "to"}:
            msg = "use either last: or from:/to:, not both"
            raise self.error(msg, tree)
        if fn.name == "quantile":
            q = positional[1]
            if not (isinstance(q, ast.Number) and 0 <= q.value <= 1):
                msg = "quantile(x, q) needs q between 0 and 1"
                raise self.error(msg, tree)
        return ast.Call(fn.name, tuple(positional), tuple(options))

    def _positional(self, fn: cat.Function, tree: Tree | Token) -> ast.Value:
        if not fn.events:
            return self._value(tree, _CUSTOMER)
        tree = _unwrap(tree)
        if isinstance(tree, Tree) and tree.data == "name" and len(tree.children) == 1:
            return ast.String(str(tree.children[0]))
        if isinstance(tree, Tree) and tree.data == "literal" and tree.children[0].type == "STRING":
            return self._build_literal(tree, _CUSTOMER)
        msg = f"{fn.name} takes event names such as cart or 'coupon_claim'"
        raise self.error(msg, tree)

    def _option(self, fn: cat.Function, key: str, key_tok: Token,
                tree: Tree | Token) -> ast.Value | ast.Condition:
        if key not in fn.options and not fn.weights:
            raise self.unknown(key, key_tok, list(fn.options), f"option of {fn.name}:")
        if key not in fn.options:  # an intent_score weight
            return self._number(tree, f"the weight of {key}")
        if key == "where":
            return self._cond(tree, _Row(fn.source))
        if key == "by":
            word = _word(tree)
            if word not in cat.PREFERENCE_BASES:
                near = cat.suggest(word or "", cat.PREFERENCE_BASES)
                msg = f"by: takes {', '.join(cat.PREFERENCE_BASES)}"
                raise self.error(msg, tree,
                                 suggestion=near)
            return ast.String(word)
        value = self._value(tree, _CUSTOMER)
        if key == "last":
            if not isinstance(value, ast.Duration) or value.amount <= 0:
                msg = "last: takes a duration such as 30d"
                raise self.error(msg, tree)
        elif not isinstance(value, (ast.RelDate, ast.Date)):
            msg = f"{key}: takes a date such as -30d or 2024-03-01"
            raise self.error(msg, tree)
        return value

    def _number(self, tree: Tree | Token, what: str) -> ast.Number:
        value = self._value(tree, _CUSTOMER)
        if not isinstance(value, ast.Number):
            msg = f"{what} must be a number"
            raise self.error(msg, tree)
        return value

    def _row_call(self, name: str, name_tree: Tree, args: list[Tree], ctx: _Row) -> ast.Call:
        fn = cat.ROW_FUNCTIONS.get(name)
        if fn is None or fn.source != ctx.source:
            if name in cat.FUNCTIONS or name == "segment":
                msg = (f"{name}() cannot be used inside where:, which tests one "
                       f"{_ROW_LABELS[ctx.source]} row at a time")
                raise self.error(msg, name_tree)
            raise self.unknown(name, name_tree, cat.row_names(ctx.source), "function")
        options: list[tuple[str, ast.Value | ast.Condition]] = []
        for arg in args:
            kids = _children(arg)
            if arg.data != "option" or str(kids[0]) not in fn.options:
                msg = f"{name} takes only {', '.join(fn.options)}: options"
                raise self.error(msg, arg)
            number = self._number(kids[1], str(kids[0]))
            if not isinstance(number.value, int) or number.value < 1:
                msg = f"{kids[0]}: must be a whole number of at least 1"
                raise self.error(msg, kids[1])
            options.append((str(kids[0]), number))
        return ast.Call(name, (), tuple(options))

    # comments → notes ---------------------------------------------------------------------------
    def _attach_notes(self, rule: ast.Rule) -> ast.Rule:
        notes: dict[int, list[str]] = {}
        anchors = sorted(self.anchors, key=lambda a: (a.start, not a.leaf))
        for tok in self.comments:
            anchor = _anchor_for(tok, anchors)
            if anchor is not None:
                notes.setdefault(id(anchor.node), []).append(_comment_text(str(tok)))
        return _with_notes(rule, notes) if notes else rule


_ROW_LABELS = {"paid": "paid order", "orders": "order", "events": "event", "items": "item"}


def _anchor_for(tok: Token, anchors: list[_Anchor]) -> _Anchor | None:
    if not anchors:
        return None
    pos, line = tok.start_pos, tok.line
    before = [a for a in anchors if a.end <= pos and a.end_line == line]
    if before:  # an end-of-line comment describes what ends on its line
        return max(before, key=lambda a: (a.end, a.leaf))
    inside = [a for a in anchors if a.leaf and a.start <= pos < a.end]
    if inside:
        return max(inside, key=lambda a: a.start)
    after = [a for a in anchors if a.start > pos]
    if after:
        return min(after, key=lambda a: (a.start, a.leaf))
    return max(anchors, key=lambda a: (a.end, a.leaf))


def _comment_text(raw: str) -> str:
    text = raw[1:]
    return text[1:] if text.startswith(" ") else text


def _with_notes(node: Any, notes: dict[int, list[str]]) -> Any:
    """A copy of ``node`` with the collected comments set as ``note`` on their nodes."""
    if isinstance(node, ast.Family):
        among = _with_notes(node.among, notes) if node.among is not None else None
        labels = tuple(_with_notes(lb, notes) for lb in node.labels)
        return replace(node, among=among, labels=labels)
    if isinstance(node, ast.Label):
        when = _with_notes(node.when, notes) if node.when is not None else None
        return replace(node, when=when, note=_joined(node, notes))
    if isinstance(node, (ast.And, ast.Or)):
        return replace(node, items=tuple(_with_notes(i, notes) for i in node.items))
    if isinstance(node, ast.Not):
        return replace(node, item=_with_notes(node.item, notes))
    if isinstance(node, ast.LEAVES) and id(node) in notes:
        return replace(node, note=_joined(node, notes))
    return node


def _joined(node: Any, notes: dict[int, list[str]]) -> str | None:
    lines = notes.get(id(node))
    return "\n".join(lines) if lines else node.note


# -- helpers --------------------------------------------------------------------------------------


def negate(value: ast.Value) -> ast.Value:
    """``-value``, folding number literals and turning a duration into a relative date."""
    if isinstance(value, ast.Number):
        return ast.Number(-value.value)
    if isinstance(value, ast.Duration):
        return ast.RelDate(value.amount, value.unit)
    return ast.Neg(value)


def _unwrap(node: Tree | Token) -> Tree | Token:
    """The single value inside ``predicate`` wrappers (an option or argument with no comparison)."""
    while isinstance(node, Tree) and node.data == "predicate" and len(_children(node)) == 1:
        node = _children(node)[0]
    return node


def _children(tree: Tree) -> list[Any]:
    return [k for k in tree.children if k is not None]


def _is_token(node: object, kind: str) -> bool:
    return isinstance(node, Token) and node.type == kind


def _duration(tok: Token) -> ast.Duration:
    text = str(tok)
    amount = text[:-1]
    return ast.Duration(float(amount) if "." in amount else int(amount), text[-1])


def _word(tree: Tree | Token) -> str | None:
    tree = _unwrap(tree)
    if isinstance(tree, Tree) and tree.data == "name" and len(tree.children) == 1:
        return str(tree.children[0])
    if isinstance(tree, Tree) and tree.data == "literal" and tree.children[0].type == "STRING":
        return str(tree.children[0])[1:-1].replace("''", "'")
    return None


def _position(where: Tree | Token | None) -> tuple[int, int]:
    if isinstance(where, Token):
        return (where.line or 1, where.column or 1)
    if isinstance(where, Tree) and not where.meta.empty:
        return (where.meta.line, where.meta.column)
    return (1, 1)


def _short(tree: Tree | Token, text: str) -> str:
    if isinstance(tree, Tree) and not tree.meta.empty:
        return text[tree.meta.start_pos:tree.meta.end_pos]
    return str(tree)
