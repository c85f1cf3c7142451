"""One exception root for kequn; each subclass also inherits the builtin it resembles.

Messages are one lower-case line that names the value at fault and, where there is one, the fix.
"""

from __future__ import annotations


class KequnError(Exception):
    """Root of every error kequn raises on purpose."""


class AsOfError(KequnError, ValueError):
    """An as_of value that is not a date or a time."""


class WorkspaceError(KequnError, RuntimeError):
    """The workspace file cannot be opened, created or is busy."""


class UnknownTableError(KequnError, KeyError):
    """A table name that is not one of SPEC §1's tables."""

    def __str__(self) -> str:  # KeyError quotes its message; we want the plain line
        return str(self.args[0]) if self.args else ""


class IngestError(KequnError, ValueError):
    """A file that cannot be loaded at all: wrong type, unreadable, empty, missing columns."""


class MappingError(KequnError, ValueError):
    """A column-mapping file or preset that is malformed."""


class SchemaError(KequnError, ValueError):
    """Data that breaks a table's declared shape."""


class RuleSyntaxError(KequnError, ValueError):
    """A segment rule that does not parse; carries where and what was expected."""

    def __init__(self, message: str, *, line: int, col: int, snippet: str = "",
                 expected: tuple[str, ...] = (), suggestion: str | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.col = col
        self.snippet = snippet
        self.expected = expected
        self.suggestion = suggestion


class CompileError(KequnError, ValueError):
    """A segment rule that parses but cannot be evaluated (unknown field, cycle, wrong type)."""


class NotFittedError(KequnError, RuntimeError):
    """A model asked to predict before it was fitted."""


class NotFoundError(KequnError, LookupError):
    """A named object (segment, campaign, customer) that does not exist."""
