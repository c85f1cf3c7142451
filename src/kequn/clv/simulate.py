"""Orders drawn from the BG/NBD (or MBG/NBD) and Gamma-Gamma models, vectorised with numpy.

For checking the fitters on data whose true parameters are known, and for benchmarks at a
million customers. Each customer:

- first buys at a uniform time in ``[start, end - min_tenure_days]``;
- buys again as a Poisson process at rate ``lambda ~ Gamma(r, 1/alpha)`` per day;
- after each repeat purchase drops out with probability ``p ~ Beta(a, b)`` (BG/NBD; with
  ``modified=True`` also right after the first purchase, as in MBG/NBD);
- spends ``Gamma(p_spend, nu)`` per order with ``nu ~ Gamma(q, 1/gamma)``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["SimulationParams", "simulate_orders"]


@dataclass(frozen=True)
class SimulationParams:
    """True parameters (rates per day). Defaults look like a small online shop."""

    r: float = 0.8
    alpha: float = 60.0
    a: float = 0.8
    b: float = 2.5
    p: float = 6.0
    q: float = 4.0
    gamma: float = 50.0


def simulate_orders(n_customers: int, *, start: dt.datetime, end: dt.datetime,
                    params: SimulationParams | None = None, seed: int = 0,
                    modified: bool = False, min_tenure_days: float = 0.0,
                    unpaid_share: float = 0.0, id_prefix: str = "c") -> pa.Table:
    """Simulated orders, one row per purchase, in the canonical ``orders`` columns.

    Parameters
    ----------
    n_customers
        Customers to draw; each makes at least its first purchase.
    start, end
        The window of first and repeat purchases.
    params
        True model parameters (see :class:`SimulationParams`).
    seed
        Seed of the numpy generator: the same seed gives the same orders.
    modified
        Draw from MBG/NBD instead of BG/NBD.
    min_tenure_days
        First purchases happen at least this long before ``end``.
    unpaid_share
        Share of extra orders added as ``cancelled`` / ``refunded`` / unpaid noise, which a
        correct summary must ignore.
    id_prefix
        Customer ids are ``{id_prefix}{number}``.

    Examples
    --------
    >>> import datetime as dt
    >>> t = simulate_orders(100, start=dt.datetime(2023, 1, 1), end=dt.datetime(2024, 1, 1))
    >>> t.num_rows >= 100
    True
    """
    prm = params or SimulationParams()
    rng = np.random.default_rng(seed)
    span = (end - start).total_seconds() / 86_400
    if span <= min_tenure_days:
        msg = f"the window {start} .. {end} is not longer than min_tenure_days={min_tenure_days}"
        raise ValueError(msg)
    n = n_customers
    birth = rng.uniform(0, span - min_tenure_days, n)
    rate = rng.gamma(prm.r, 1 / prm.alpha, n)
    drop = rng.beta(prm.a, prm.b, n)
    # repeat purchases before dropping out: Geometric on 1, 2, ... (BG) or 0, 1, ... (MBG)
    lives = rng.geometric(np.clip(drop, 1e-12, 1.0)) - (1 if modified else 0)
    exposure = rate * (span - birth)
    # never more gaps than the window can hold (Poisson upper tail), to bound memory
    room = np.ceil(exposure + 8 * np.sqrt(exposure) + 10).astype(np.int64)
    gaps_per = np.minimum(lives, room)
    owner = np.repeat(np.arange(n), gaps_per)
    gaps = rng.exponential(1.0, owner.size) / rate[owner]
    cum = np.cumsum(gaps)
    first = np.concatenate([[0], np.cumsum(gaps_per)[:-1]])
    before = np.concatenate([[0.0], cum])[first]
    times = birth[owner] + cum - np.repeat(before, gaps_per)
    keep = times <= span
    who = np.concatenate([np.arange(n), owner[keep]])
    when = np.concatenate([birth, times[keep]])
    nu = rng.gamma(prm.q, 1 / prm.gamma, n)
    amount = np.round(rng.gamma(prm.p, 1.0, who.size) / nu[who], 2)
    status = np.full(who.size, "paid", dtype=object)
    paid = np.ones(who.size, dtype=bool)
    if unpaid_share > 0:
        extra = rng.random(who.size) < unpaid_share
        who = np.concatenate([who, who[extra]])
        when = np.concatenate([when, when[extra]])
        amount = np.concatenate([amount, amount[extra]])
        kinds = rng.choice(np.array(["cancelled", "refunded", "created"], dtype=object),
                           int(extra.sum()))
        status = np.concatenate([status, kinds])
        paid = np.concatenate([paid, kinds == "refunded"])
    order = np.argsort(when, kind="stable")
    who, when, amount, status, paid = who[order], when[order], amount[order], status[order], \
        paid[order]
    stamp = (np.datetime64(start, "us")
             + np.round(when * 86_400e6).astype("timedelta64[us]"))
    ids = pa.array(np.arange(who.size)).cast(pa.string())
    customers = pa.array(who).cast(pa.string())
    return pa.table({
        "order_id": pc.binary_join_element_wise("o", ids, ""),
        "customer_id": pc.binary_join_element_wise(id_prefix, customers, ""),
        "created_at": pa.array(stamp, type=pa.timestamp("us")),
        "paid_at": pa.array(stamp, type=pa.timestamp("us"), mask=~paid),
        "status": pa.array(status, type=pa.string()),
        "amount": pa.array(amount, type=pa.float64()),
    })
