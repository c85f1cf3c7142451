"""A small realistic shop for the web tests: the demo generator's files, inserted directly.

Inserting the generated Parquet files (rather than ``ws.load``) keeps the web tests about the
web layer; the loader has its own tests, and the upload tests go through it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import kequn
from kequn.demo.generate import generate_shop
from kequn.schema.tables import TABLES


def build_shop(folder: Path, *, customers: int = 300, seed: int = 7) -> Path:
    """Write ``folder/shop.duckdb`` holding a generated shop; returns its path."""
    files = generate_shop(folder / "data", customers=customers, months=8, seed=seed)
    path = folder / "shop.duckdb"
    with kequn.open(path) as ws:
        ws.set(time_zone="Asia/Shanghai")
        for table in TABLES:
            for f in files[table]:
                ws.raw.execute(f"INSERT INTO {table} BY NAME SELECT * FROM read_parquet(?)",
                               [str(f)])
    shutil.rmtree(folder / "data")
    return path
