"""kequn 客群: customer groups, metrics, predictions and measured campaigns for online shops."""

from kequn.errors import KequnError
from kequn.workspace import Workspace, open  # noqa: A004

__all__ = ["KequnError", "Workspace", "open"]
__version__ = "0.1.0"
