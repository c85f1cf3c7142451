"""Helpers for the campaign tests: a settable clock, local SMTP and HTTP receivers, shops."""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message as EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from kequn.campaigns import write_settings
from kequn.workspace import Workspace


class Clock:
    """A settable shop-time clock: ``clock()`` is now, ``clock.advance(hours=1)`` moves it."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SmtpCapture:
    """What reached the local SMTP server."""

    port: int
    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    def recipients(self) -> list[str]:
        return [rcpt for rcpts, _ in self.messages for rcpt in rcpts]

    def body(self, msg: EmailMessage) -> str:
        payload = msg.get_payload(decode=True)
        assert isinstance(payload, bytes)
        return payload.decode("utf-8")


class _Handler:
    def __init__(self, capture: SmtpCapture) -> None:
        self.capture = capture

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        msg = email.message_from_bytes(envelope.content)
        self.capture.messages.append((list(envelope.rcpt_tos), msg))
        return "250 OK"


@contextlib.contextmanager
def running_smtp_server() -> Iterator[SmtpCapture]:
    """An SMTP server on 127.0.0.1 that keeps every message it accepts."""
    capture = SmtpCapture(port=free_port())
    controller = Controller(_Handler(capture), hostname="127.0.0.1", port=capture.port)
    controller.start()
    try:
        yield capture
    finally:
        controller.stop()


def use_smtp(ws: Workspace, smtp: SmtpCapture) -> None:
    """Point the workspace's email channel at the local server (no TLS, no login)."""
    write_settings(ws, smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_security="none",
                   smtp_from="shop@example.com", shop_name="小店")


@dataclass
class HttpCapture:
    """A local HTTP receiver: fails the first ``fail_first`` requests with ``fail_status``."""

    url: str
    fail_first: int = 0
    fail_status: int = 503
    respond: Callable[[bytes, dict[str, str]], tuple[int, dict[str, Any]]] | None = None
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    delivered: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def json_bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.delivered]


@contextlib.contextmanager
def running_http_receiver() -> Iterator[HttpCapture]:
    """An HTTP server in a thread on 127.0.0.1 recording every POST."""
    capture = HttpCapture(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k: v for k, v in self.headers.items()}
            capture.requests.append((headers, body))
            if len(capture.requests) <= capture.fail_first:
                status, payload = capture.fail_status, {"error": "try later"}
            elif capture.respond is not None:
                status, payload = capture.respond(body, headers)
            else:
                status, payload = 200, {"ok": True}
            if 200 <= status < 300:
                capture.delivered.append((headers, body))
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    capture.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield capture
    finally:
        server.shutdown()
        server.server_close()


def customers(n: int, *, start: int = 0, **overrides: Any) -> list[dict[str, Any]]:
    """``n`` customers c0000.. with email, phone and name."""
    rows = []
    for i in range(start, start + n):
        row = {"customer_id": f"c{i:04d}", "email": f"user{i}@example.com",
               "phone": f"1380000{i:04d}", "name": f"顾客{i}", "opted_out": False}
        row.update(overrides)
        rows.append(row)
    return rows


def insert(ws: Workspace, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert rows into a shop table (missing columns NULL), bypassing the loader."""
    import pyarrow as pa

    from kequn.schema.tables import TABLES
    from kequn.storage.setup import table_schema

    schema = table_schema(TABLES[table]).to_pyarrow()
    ws.con.insert(table, pa.table({n: [r.get(n) for r in rows] for n in schema.names},
                                  schema=schema))
