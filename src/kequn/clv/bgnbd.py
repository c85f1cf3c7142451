"""BG/NBD: the beta-geometric / negative binomial model of Fader, Hardie & Lee (2005).

"Counting your customers the easy way: an alternative to the Pareto/NBD model",
Marketing Science 24(2), 275-284. On the CDNOW sample (39-week calibration, weeks) it gives
r = 0.243, alpha = 4.414, a = 0.793, b = 2.426 and LL = -9582.4; the tests check this.
"""

from __future__ import annotations

from typing import ClassVar

from kequn.clv._betageo import BetaGeoBase

__all__ = ["BetaGeoFitter"]


class BetaGeoFitter(BetaGeoBase):
    """BG/NBD fitted by maximum likelihood.

    A one-time buyer cannot have dropped out in this model (dropout happens only after a
    repeat purchase), so their P(alive) is 1; :class:`ModifiedBetaGeoFitter` relaxes that.

    Examples
    --------
    >>> m = BetaGeoFitter().fit([0, 2, 5, 1], [0.0, 20.0, 30.0, 5.0], [40.0, 38.0, 39.0, 39.0])
    >>> sorted(m.params_)
    ['a', 'alpha', 'b', 'r']
    """

    name: ClassVar[str] = "bgnbd"
    _shift: ClassVar[int] = 0
