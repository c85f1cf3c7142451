"""The HTTP API 接口 and the server behind ``kequn serve``: JSON under ``/api`` (OpenAPI at
``/api/docs``), the dashboard at ``/``, both thin over the same services as the CLI.

``create_app`` is imported on first use, so that importing the package does not load the web
framework.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kequn.api.config import ServerConfig

if TYPE_CHECKING:
    from kequn.api.main import create_app

__all__ = ["ServerConfig", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from kequn.api.main import create_app

        return create_app
    msg = f"module 'kequn.api' has no attribute {name!r}"
    raise AttributeError(msg)
