"""Who may do what: tokens, their roles, and the principal a request acts as.

Three roles, each including the one before it:

- ``viewer`` — metrics and counts only;
- ``analyst`` — also member lists and per-customer rows, personal data masked
  (``138****1234``, ``z***@example.com``); creates segments, campaigns and loads;
- ``admin`` — also full contact data, sends campaigns, erases a customer's personal data.

Tokens come from ``kequn serve --token-file`` or the workspace table ``kq_tokens``, which keeps
a SHA-256 hash of each token, never the token (``kequn token create`` prints it once). A token
is 32 random bytes, so a fast hash is as safe as a slow one and costs nothing per request.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import hmac
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

import ibis

from kequn.errors import KequnError

if TYPE_CHECKING:
    from kequn.workspace import Workspace

Role = Literal["viewer", "analyst", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
TOKEN_PREFIX = "kq_"
TOKENS_TABLE = "kq_tokens"
TOKENS_SCHEMA = ibis.schema({
    "token_id": "string", "name": "string", "role": "string", "token_hash": "string",
    "created_at": "timestamp", "revoked_at": "timestamp",
})
"""State table of tokens (to join ``STATE_TABLES`` in :mod:`kequn.storage.setup`)."""


class AccessError(KequnError, PermissionError):
    """A request without a valid token where one is required (HTTP 401)."""


class ForbiddenError(KequnError, PermissionError):
    """A valid token whose role does not allow the request (HTTP 403)."""


class TokenError(KequnError, ValueError):
    """A token file, role or token id that cannot be used."""


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a name for the audit log, and a role."""

    actor: str
    role: Role
    token_id: str | None = None

    def allows(self, role: Role) -> bool:
        """Whether this principal has ``role`` or a stronger one."""
        return ROLES.index(self.role) >= ROLES.index(role)

    def require(self, role: Role, what: str) -> None:
        """Raise :class:`ForbiddenError` unless the principal has ``role``."""
        if not self.allows(role):
            msg = f"{what} needs the {role} role; this token is {self.role}"
            raise ForbiddenError(msg)

    @property
    def sees_personal(self) -> bool:
        """Whether contact data is shown in the clear (admins only)."""
        return self.role == "admin"


def local_principal() -> Principal:
    """The operator on this machine when the server listens on loopback without tokens."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Principal(actor=f"local:{user}", role="admin")


def check_role(role: str) -> Role:
    """``role`` if it is one of :data:`ROLES`, else a :class:`TokenError`."""
    if role not in ROLES:
        msg = f"unknown role {role!r}; use viewer, analyst or admin"
        raise TokenError(msg)
    return role  # type: ignore[return-value]


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.strip().encode()).hexdigest()


def new_token() -> str:
    """A fresh random token (``kq_`` + 43 URL-safe characters)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


# -- the workspace table ----------------------------------------------------------------------


def ensure_token_table(ws: Workspace) -> None:
    """Create ``kq_tokens`` if missing (idempotent)."""
    if TOKENS_TABLE not in set(ws.con.list_tables()):
        ws.con.create_table(TOKENS_TABLE, schema=TOKENS_SCHEMA)


def create_token(ws: Workspace, role: str, *, name: str | None = None) -> tuple[str, str]:
    """Store a new token's hash; returns ``(token_id, token)`` — the only time it is shown."""
    checked = check_role(role)
    ensure_token_table(ws)
    token = new_token()
    token_id = uuid.uuid4().hex[:8]
    now = dt.datetime.now().replace(microsecond=0)  # bookkeeping time, not an analytic as_of
    ws.raw.execute("INSERT INTO kq_tokens VALUES (?, ?, ?, ?, ?, NULL)",
                   [token_id, name or f"{checked}-{token_id}", checked, hash_token(token), now])
    return token_id, token


def list_tokens(ws: Workspace) -> list[dict[str, object]]:
    """Every stored token (id, name, role, created, revoked), without hashes."""
    if TOKENS_TABLE not in set(ws.con.list_tables()):
        return []
    t = ws.con.table(TOKENS_TABLE).order_by("created_at", "token_id")
    return t.drop("token_hash").to_pyarrow().to_pylist()


def revoke_token(ws: Workspace, token_id: str) -> None:
    """Revoke a stored token; the server stops accepting it within seconds."""
    ids = [str(r["token_id"]) for r in list_tokens(ws)]
    if token_id not in ids:
        msg = f"no token {token_id!r}; 'kequn token list' shows the ids"
        raise TokenError(msg)
    now = dt.datetime.now().replace(microsecond=0)
    ws.raw.execute("UPDATE kq_tokens SET revoked_at = ? WHERE token_id = ?",
                   [now, token_id])


def stored_tokens(ws: Workspace) -> dict[str, Principal]:
    """Hash → principal for every token in ``kq_tokens`` that is not revoked."""
    if TOKENS_TABLE not in set(ws.con.list_tables()):
        return {}
    t = ws.con.table(TOKENS_TABLE)
    rows = t.filter(t.revoked_at.isnull()).to_pyarrow().to_pylist()
    return {r["token_hash"]: Principal(actor=f"token:{r['name']}", role=check_role(r["role"]),
                                       token_id=r["token_id"]) for r in rows}


# -- the token file ---------------------------------------------------------------------------


def read_token_file(path: Path) -> dict[str, Principal]:
    """Hash → principal from a token file.

    One token per line: ``ROLE TOKEN [NAME]``, where TOKEN is the token itself or
    ``sha256:HEX`` (its hash, so the file need not hold the secret). ``#`` starts a comment.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        msg = f"cannot read token file {path}: {exc.strerror or exc}"
        raise TokenError(msg) from None
    out: dict[str, Principal] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        body = line.split("#", 1)[0].strip()
        if not body:
            continue
        parts = body.split(None, 2)
        if len(parts) < 2:
            msg = f"{path}:{number}: expected 'ROLE TOKEN [NAME]', got {body[:40]!r}"
            raise TokenError(msg)
        role = check_role(parts[0])
        secret = parts[1]
        digest = secret[7:].lower() if secret.startswith("sha256:") else hash_token(secret)
        if len(digest) != 64:
            msg = f"{path}:{number}: a sha256: hash has 64 hex digits"
            raise TokenError(msg)
        name = parts[2] if len(parts) > 2 else f"{path.name}:{number}"
        out[digest] = Principal(actor=f"token:{name}", role=role, token_id=f"file:{number}")
    return out


class TokenStore:
    """The tokens a server accepts: its token file and ``kq_tokens``, re-read every few
    seconds so a new or revoked token takes effect without a restart."""

    def __init__(self, file_tokens: dict[str, Principal],
                 read_stored: Callable[[], dict[str, Principal]], *, ttl_s: float = 3.0) -> None:
        self._file = file_tokens
        self._read_stored = read_stored
        self._ttl = ttl_s
        self._stored: dict[str, Principal] = {}
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def _current(self) -> dict[str, Principal]:
        with self._lock:
            if time.monotonic() - self._read_at > self._ttl:
                self._stored = self._read_stored()
                self._read_at = time.monotonic()
            return {**self._stored, **self._file}

    def refresh(self) -> None:
        """Forget the cached ``kq_tokens`` rows (re-read on the next request)."""
        with self._lock:
            self._read_at = float("-inf")

    def any(self) -> bool:
        """Whether at least one token is accepted."""
        return bool(self._current())

    def principal(self, token: str) -> Principal:
        """The principal of ``token``, or :class:`AccessError`."""
        digest = hash_token(token)
        for known, principal in self._current().items():
            if hmac.compare_digest(known, digest):
                return principal
        msg = "the token is not valid (unknown or revoked); ask an admin for one"
        raise AccessError(msg)
