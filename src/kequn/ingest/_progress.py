"""A progress bar for one long DuckDB statement, fed by ``query_progress()`` from a thread."""

from __future__ import annotations

import threading
from typing import Any

import duckdb
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn


def run_with_progress(con: duckdb.DuckDBPyConnection, query: str, params: dict[str, Any],
                      label: str) -> None:
    """Execute ``query`` while a bar on stderr shows DuckDB's own estimate of its progress."""
    done = threading.Event()
    columns = (TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn())
    console = Console(stderr=True)
    with Progress(*columns, transient=True, console=console,
                  disable=not console.is_terminal) as bar:
        task = bar.add_task(label, total=100)

        def poll() -> None:
            while not done.wait(0.2):
                try:
                    value = con.query_progress()
                except duckdb.Error:
                    return
                if value is not None and value >= 0:
                    bar.update(task, completed=value)

        watcher = threading.Thread(target=poll, daemon=True)
        watcher.start()
        try:
            con.execute(query, params)
        finally:
            done.set()
            watcher.join()
        bar.update(task, completed=100)
