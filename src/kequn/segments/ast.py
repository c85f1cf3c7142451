"""The syntax tree of a segment rule: frozen dataclasses shared by the text and JSON forms.

A rule is either a condition (one set of customers) or a :class:`Family` (one label per
customer). Conditions combine with :class:`And`, :class:`Or` and :class:`Not`; their leaves
compare values, test segment membership or follow a :class:`Sequence` of behaviour steps.
Leaves and labels carry the comments written before them as ``note`` so that text → tree →
text keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

# -- values -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    """A number literal (int or float, as written)."""

    value: int | float


@dataclass(frozen=True)
class String:
    """A quoted text literal."""

    value: str


@dataclass(frozen=True)
class Bool:
    """``TRUE`` or ``FALSE``."""

    value: bool


@dataclass(frozen=True)
class Date:
    """An absolute date ``2024-03-01`` (a whole day) or time ``2024-03-01T10:00``."""

    value: str


@dataclass(frozen=True)
class Duration:
    """A length of time: ``24h``, ``30d``, ``4w``, ``6m`` (6 × 30 days) or ``1y`` (365 days)."""

    amount: int | float
    unit: str


@dataclass(frozen=True)
class RelDate:
    """A time relative to as_of: ``-30d`` is as_of minus 30 days."""

    amount: int | float
    unit: str


@dataclass(frozen=True)
class Field:
    """A named column: a customer field, or in a ``where:`` filter a column of the row."""

    name: str


@dataclass(frozen=True)
class Attr:
    """A custom attribute, ``attr.NAME``: an extra column of the customers table."""

    name: str


@dataclass(frozen=True)
class Call:
    """A function: ``paid_orders(last: 720d)``; ``args`` positional, ``options`` named."""

    name: str
    args: tuple[Value, ...] = ()
    options: tuple[tuple[str, Value | Condition], ...] = ()

    def option(self, key: str) -> Value | Condition | None:
        """The named option ``key``, or None."""
        return next((v for k, v in self.options if k == key), None)


@dataclass(frozen=True)
class Arith:
    """``left op right`` with op one of ``+ - * /``."""

    op: str
    left: Value
    right: Value


@dataclass(frozen=True)
class Neg:
    """``-value`` for a value that is not a number literal."""

    value: Value


Value: TypeAlias = (Number | String | Bool | Date | Duration | RelDate | Field | Attr | Call
                    | Arith | Neg)

# -- conditions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Compare:
    """``left op right`` with op one of ``= != < <= > >=``."""

    left: Value
    op: str
    right: Value
    note: str | None = None


@dataclass(frozen=True)
class InList:
    """``left [NOT] IN (v, ...)``."""

    left: Value
    values: tuple[Value, ...]
    negated: bool = False
    note: str | None = None


@dataclass(frozen=True)
class Between:
    """``left [NOT] BETWEEN low AND high`` (both ends included)."""

    left: Value
    low: Value
    high: Value
    negated: bool = False
    note: str | None = None


@dataclass(frozen=True)
class Contains:
    """``left [NOT] CONTAINS text`` (a substring test)."""

    left: Value
    value: Value
    negated: bool = False
    note: str | None = None


@dataclass(frozen=True)
class IsNull:
    """``left IS [NOT] NULL``."""

    left: Value
    negated: bool = False
    note: str | None = None


@dataclass(frozen=True)
class Truthy:
    """A value used as a condition: a boolean field, or a count meaning "at least one"."""

    value: Value
    note: str | None = None


@dataclass(frozen=True)
class InSegment:
    """``segment(id)`` or ``segment(family.label)``: membership of another segment."""

    ref: str
    note: str | None = None


@dataclass(frozen=True)
class Step:
    """One step of a sequence; every step after the first is linked to the one before it."""

    call: Call
    negated: bool = False
    within: Duration | None = None
    after: Duration | None = None
    same: str | None = None


@dataclass(frozen=True)
class Sequence:
    """``A THEN [NOT] B [WITHIN d] [AFTER d] [SAME product|category] ...``."""

    steps: tuple[Step, ...]
    note: str | None = None


@dataclass(frozen=True)
class And:
    """All items hold."""

    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    """At least one item holds."""

    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    """The item does not hold (the exact complement: unknown values count as not holding)."""

    item: Condition


Leaf: TypeAlias = Compare | InList | Between | Contains | IsNull | Truthy | InSegment | Sequence
Condition: TypeAlias = Leaf | And | Or | Not

LEAVES: tuple[type, ...] = (Compare, InList, Between, Contains, IsNull, Truthy, InSegment, Sequence)


@dataclass(frozen=True)
class Label:
    """One label of a family; ``when`` None is ``ELSE`` (everyone left in the population)."""

    name: str
    when: Condition | None
    note: str | None = None


@dataclass(frozen=True)
class Family:
    """A segment family: each customer of the population (``AMONG``) gets the first label that
    holds; ranks and medians inside it are taken over that population."""

    among: Condition | None
    labels: tuple[Label, ...]

    def label(self, name: str) -> Label | None:
        """The label called ``name``, or None."""
        return next((lb for lb in self.labels if lb.name == name), None)


Rule: TypeAlias = Condition | Family


def walk_conditions(node: Rule) -> list[Condition]:
    """Every condition node of a rule in text order, including those inside ``where:`` options."""
    out: list[Condition] = []

    def visit_value(value: Value | Condition) -> None:
        if isinstance(value, Call):
            for arg in value.args:
                visit_value(arg)
            for _, opt in value.options:
                visit_value(opt)
        elif isinstance(value, Arith):
            visit_value(value.left)
            visit_value(value.right)
        elif isinstance(value, Neg):
            visit_value(value.value)
        elif isinstance(value, (And, Or, Not, *LEAVES)):
            visit(value)

    def visit(node: Rule) -> None:
        if isinstance(node, Family):
            if node.among is not None:
                visit(node.among)
            for label in node.labels:
                if label.when is not None:
                    visit(label.when)
            return
        out.append(node)
        if isinstance(node, (And, Or)):
            for item in node.items:
                visit(item)
        elif isinstance(node, Not):
            visit(node.item)
        elif isinstance(node, Sequence):
            for step in node.steps:
                visit_value(step.call)
        else:
            for value in _leaf_values(node):
                visit_value(value)

    visit(node)
    return out


def _leaf_values(leaf: Leaf) -> tuple[Value, ...]:
    if isinstance(leaf, Compare):
        return (leaf.left, leaf.right)
    if isinstance(leaf, InList):
        return (leaf.left, *leaf.values)
    if isinstance(leaf, Between):
        return (leaf.left, leaf.low, leaf.high)
    if isinstance(leaf, Contains):
        return (leaf.left, leaf.value)
    if isinstance(leaf, (IsNull, Truthy)):
        return (leaf.left,) if isinstance(leaf, IsNull) else (leaf.value,)
    return ()


def segment_refs(node: Rule) -> list[str]:
    """Ids of the segments a rule refers to with ``segment(...)``, in text order."""
    return [c.ref for c in walk_conditions(node) if isinstance(c, InSegment)]
