"""The HTTP API 接口 and the server behind ``kequn serve``: JSON under ``/api`` (OpenAPI at
``/api/docs``), the dashboard at ``/``, both thin over the same services as the CLI."""

from kequn.api.config import ServerConfig
from kequn.api.main import create_app

__all__ = ["ServerConfig", "create_app"]
