"""The lexical side of the rule language: the lark grammar, comments, and turning lark's
errors into :class:`~kequn.errors.RuleSyntaxError` with line, column, what was expected and a
suggestion."""

from __future__ import annotations

import functools
import importlib.resources
import threading

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from kequn.errors import RuleSyntaxError
from kequn.segments import catalog as cat

_TERMINAL_NAMES: dict[str, str] = {
    "COMP_OP": "a comparison (=, !=, <, <=, >, >=)", "LPAR": "'('", "RPAR": "')'",
    "COMMA": "','", "COLON": "':'", "DOT": "'.'", "NAME": "a name", "STRING": "a quoted text",
    "NUMBER": "a number", "DURATION": "a duration such as 30d", "DATE": "a date such as 2024-03-01",
    "$END": "the end of the rule", "PLUS": "'+'", "MINUS": "'-'", "STAR": "'*'", "SLASH": "'/'",
}
_QUOTES = {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', '"': '"'}

_local = threading.local()


def collect_comments(sink: list[Token] | None) -> None:
    """Send the comments of the next parse on this thread to ``sink`` (None: stop)."""
    _local.comments = sink


def _on_comment(token: Token) -> Token:
    sink = getattr(_local, "comments", None)
    if sink is not None:
        sink.append(token)
    return token


@functools.cache
def lark_parser() -> Lark:
    """The LALR parser of grammar.lark (built once; comments go to :func:`collect_comments`).

    Lark keeps the analysed grammar in the temporary folder (``cache=True``, keyed by the
    grammar, the options and Lark's version), so a new process such as one
    ``kequn segment count`` builds the parser in milliseconds instead of a fifth of a second.
    """
    grammar = importlib.resources.files("kequn.segments").joinpath("grammar.lark").read_text(
        encoding="utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True,
                lexer_callbacks={"COMMENT": _on_comment}, cache=True)


def snippet_at(text: str, line: int, col: int) -> str:
    """The line ``line`` of ``text`` with a caret under column ``col``."""
    lines = text.splitlines() or [""]
    src = lines[min(max(line, 1), len(lines)) - 1]
    return f"{src}\n{' ' * max(col - 1, 0)}^"


_VALUE_START = {"NAME", "NUMBER", "STRING", "DATE", "DURATION", "MINUS", "LPAR", "TRUE", "FALSE"}


def _describe(terminals: set[str]) -> tuple[str, ...]:
    names = set()
    if {"NAME", "NUMBER", "STRING"} <= terminals:
        names.add("a value (a name, number, 'text', date, 30d or '(')")
        terminals = terminals - _VALUE_START
    for term in terminals:
        if term in cat.KEYWORDS:
            names.add(term)
        elif term in _TERMINAL_NAMES:
            names.add(_TERMINAL_NAMES[term])
    return tuple(sorted(names, key=lambda n: (n.isupper(), n)))


def _listing(names: tuple[str, ...]) -> str:
    if not names:
        return "something else"
    if len(names) > 8:
        names = (*names[:7], "…")
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _end_position(text: str) -> tuple[int, int]:
    """Line and column just after the last non-blank character (where more was expected)."""
    body = text.rstrip()
    line = body.count("\n") + 1
    return line, len(body) - (body.rfind("\n") + 1) + 1


def _acceptable(text: str) -> set[str] | None:
    """The terminals the parser could take where it failed.

    LALR reduces by default before it notices an error, so the exception's own ``expected`` is
    often just "end of rule"; replaying the parse and asking before each token gives the real set.
    """
    ip = lark_parser().parse_interactive(text)
    last: Token | None = None
    before_last: set[str] | None = None
    try:
        for token in ip.iter_parse():
            last, before_last = token, ip.accepts()
    except UnexpectedToken as exc:
        return before_last if exc.token is last else ip.accepts()
    except UnexpectedInput:
        return ip.accepts()
    before_eof = ip.accepts()
    try:
        ip.feed_eof()
    except UnexpectedInput:
        return before_eof
    return None


def syntax_error(exc: UnexpectedInput, text: str) -> RuleSyntaxError:
    line, col = max(exc.line, 1), max(exc.column, 1)
    suggestion = None
    if isinstance(exc, UnexpectedCharacters):
        char = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else ""
        expected = _describe(set(exc.allowed or ()))
        what = f"character {char!r}"
        if char in _QUOTES:
            suggestion = "write text in straight single quotes: 'V4'"
    else:
        terminals = _acceptable(text) or set(exc.expected)
        expected = _describe(terminals)
        token = exc.token if isinstance(exc, UnexpectedToken) else None
        if token is None or token.type == "$END":
            what = "end of the rule"
            line, col = _end_position(text)
        else:
            what = repr(str(token))
            if str(token).isidentifier():
                keywords = [t for t in terminals if t in cat.KEYWORDS]
                near = cat.suggest(str(token).upper(), keywords)
                suggestion = near
    msg = f"unexpected {what} at line {line}, col {col}; expected {_listing(expected)}"
    if suggestion:
        msg += f" (did you mean {suggestion}?)" if " " not in suggestion else f"; {suggestion}"
    return RuleSyntaxError(msg, line=line, col=col, snippet=snippet_at(text, line, col),
                           expected=expected, suggestion=suggestion)


