"""Results the dashboard and the API computed, kept until the shop's data changes.

A metric over ten million events takes seconds; the page showing it must take less than one.
So results are kept under a key that includes the workspace's *data version*: the load
history, the settings, the prediction runs, saved segments and erasures. A load, a new
prediction run or a changed setting gives a new version, and the next request computes afresh
(the old entries age out). Nothing is cached across versions, so a page never shows numbers
older than the data.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar

from kequn.storage.engines import data_fingerprint

if TYPE_CHECKING:
    from kequn.workspace import Workspace

T = TypeVar("T")

# Each part is one small query over a bookkeeping table; together they change whenever a
# metric's or a segment's answer can change.
_VERSION_QUERIES: tuple[tuple[str, str], ...] = (
    ("kq_loads", "SELECT count(*), max(finished_at) FROM kq_loads"),
    ("kq_settings", "SELECT string_agg(key || '=' || value, ';' ORDER BY key) FROM kq_settings"),
    ("kq_prediction_runs", "SELECT count(*), max(created_at) FROM kq_prediction_runs"),
    ("kq_segments", "SELECT count(*), max(updated_at) FROM kq_segments"),
    ("kq_audit", "SELECT count(*), max(\"at\") FROM kq_audit WHERE action = 'customer.erase'"),
)


def data_version(ws: Workspace) -> str:
    """A short fingerprint of everything that can change a computed figure."""
    tables = set(ws.con.list_tables())
    parts = []
    for table, query in _VERSION_QUERIES:
        row = ws.raw.execute(query).fetchone() if table in tables else None
        parts.append(repr(row))
    if ws.engine_name == "pyspark":  # new Parquet files change the data without a load
        parts.append(data_fingerprint(ws.engine_settings))
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


class ResultCache:
    """A bounded, thread-safe memo of computed results; one computation per key at a time."""

    def __init__(self, max_entries: int = 512) -> None:
        self._max = max_entries
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable) -> tuple[bool, Any]:
        """``(True, value)`` when ``key`` is cached, else ``(False, None)``."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return True, self._items[key]
            return False, None

    def put(self, key: Hashable, value: Any) -> None:
        """Keep ``value`` under ``key`` (dropping the least recently used beyond the bound)."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._max:
                self._items.popitem(last=False)

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The cached value of ``key``, computing it once if missing (others wait for it)."""
        found, value = self.get(key)
        if found:
            return value  # type: ignore[no-any-return]
        with self._lock:
            gate = self._computing.setdefault(key, threading.Lock())
        try:
            with gate:
                found, value = self.get(key)
                if found:
                    return value  # type: ignore[no-any-return]
                value = compute()
                self.put(key, value)
        finally:
            with self._lock:
                self._computing.pop(key, None)
        return value

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
