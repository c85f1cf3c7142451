"""Helpers for ragged arrays: many variable-length groups stored flat, one row per member."""

from __future__ import annotations

import numpy as np


def owners(counts: np.ndarray) -> np.ndarray:
    """The group index of every member: ``[0, 0, 1, 2, 2, 2]`` for counts ``[2, 1, 3]``."""
    return np.repeat(np.arange(len(counts)), counts)


def ranks(group: np.ndarray) -> np.ndarray:
    """Position of each member within its group, for rows sorted by group."""
    n = len(group)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    new = np.empty(n, dtype=bool)
    new[0] = True
    new[1:] = group[1:] != group[:-1]
    first = np.flatnonzero(new)
    return np.arange(n) - np.repeat(first, np.diff(np.append(first, n)))


def exclusive_cumsum(group: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Sum of the earlier members' values within each group, for rows sorted by group."""
    total = np.cumsum(values) - values
    pos = ranks(group)
    return total - total[np.arange(len(group)) - pos]
