"""MBG/NBD: the modified BG/NBD of Batislam, Denizel & Filiztekin (2007).

"Empirical validation and comparison of models for customer base analysis", International
Journal of Research in Marketing 24(3), 201-209. Same as BG/NBD except that a customer can
also drop out right after the first purchase, so a one-time buyer who has been silent for a
long time is no longer certain to be alive. kequn offers it as the second frequency model and
picks between the two per shop by holdout fit.
"""

from __future__ import annotations

from typing import ClassVar

from kequn.clv._betageo import BetaGeoBase

__all__ = ["ModifiedBetaGeoFitter"]


class ModifiedBetaGeoFitter(BetaGeoBase):
    """MBG/NBD fitted by maximum likelihood.

    Examples
    --------
    >>> m = ModifiedBetaGeoFitter(penalizer=0.01).fit([0, 2, 5, 1], [0.0, 20.0, 30.0, 5.0],
    ...                                               [40.0, 38.0, 39.0, 39.0])
    >>> float(m.probability_alive(0, 0.0, 40.0)[0]) < 1
    True
    """

    name: ClassVar[str] = "mbgnbd"
    _shift: ClassVar[int] = 1
