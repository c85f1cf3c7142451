"""``kequn serve`` (the web dashboard and HTTP API) and ``kequn token`` (access tokens)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import kequn
from kequn.api.access import ROLES, create_token, list_tokens, revoke_token
from kequn.api.config import DEFAULT_HOST, DEFAULT_PORT, MiB, ServerConfig, is_loopback
from kequn.cli._app import JsonOpt, WorkspaceOpt, echo_json, make_app
from kequn.cli._app import app as root
from kequn.config import workspace_path


def run_server(config: ServerConfig, *, log_level: str = "warning") -> None:
    """Serve ``config`` with uvicorn until interrupted, after printing the URL.

    ``kequn demo --serve`` calls this with the demo workspace.
    """
    import uvicorn

    from kequn.api import create_app

    app = create_app(config)
    where = "" if is_loopback(config.host) else " (tokens required 需要令牌)"
    typer.echo(f"kequn 客群 dashboard 看板: {config.url}{where}")
    typer.echo(f"  API: {config.url}api/docs · workspace 工作区 {config.workspace} · "
               "Ctrl+C to stop 停止")
    uvicorn.run(app, host=config.host, port=config.port, log_level=log_level,
                timeout_graceful_shutdown=5)


@root.command("serve")
def serve_command(
    workspace: WorkspaceOpt = None,
    host: Annotated[str, typer.Option(
        "--host", help="Address to listen on; anything but 127.0.0.1/localhost needs tokens. "
                       "监听地址")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option("--port", "-p", min=1, max=65535, help="Port. 端口")]
    = DEFAULT_PORT,
    token_file: Annotated[Path | None, typer.Option(
        "--token-file", help="Accept the tokens in this file: one 'ROLE TOKEN [NAME]' per line "
                             "(TOKEN may be sha256:HASH). 令牌文件")] = None,
    require_token: Annotated[bool, typer.Option(
        "--require-token", help="Ask for a token even on 127.0.0.1. 本机也需要令牌")] = False,
    max_upload_mb: Annotated[int, typer.Option(
        "--max-upload-mb", min=1, help="Largest file to upload. 上传大小上限 (MB)")] = 512,
    warm: Annotated[bool, typer.Option(
        "--warm/--no-warm", help="Compute the dashboard's figures in the background. "
                                 "后台预先计算")] = True,
    keep_open: Annotated[float, typer.Option(
        "--keep-open", min=0, help="Seconds to keep the workspace open after the last request "
        "(warm caches; other kequn processes still get it when they ask). 空闲保持打开秒数")]
    = 60.0,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")]
    = "warning",
) -> None:
    """Serve the dashboard and the HTTP API; prints the URL. 启动看板与接口"""
    config = ServerConfig(workspace=workspace_path(workspace), host=host, port=port,
                          token_file=token_file, require_tokens=True if require_token else None,
                          max_upload_bytes=max_upload_mb * MiB, warm_cache=warm,
                          keep_open_s=keep_open)
    run_server(config, log_level=log_level)


token_app = make_app("token", "Access tokens for kequn serve: viewer, analyst, admin. 访问令牌")
root.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option("--role", help=f"{', '.join(ROLES)}. 角色")],
    name: Annotated[str | None, typer.Option("--name", help="Who it is for (in the audit log). "
                                                            "名称")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a token and print it once (only its hash is stored). 新建令牌（只显示一次）"""
    with kequn.open(workspace) as ws:
        token_id, token = create_token(ws, role, name=name)
    if as_json:
        echo_json({"token_id": token_id, "role": role, "token": token})
        return
    typer.echo(token)
    typer.echo(f"  id {token_id} · role 角色 {role} — shown once; keep it safe "
               "仅显示一次，请妥善保存", err=True)


@token_app.command("list")
def token_list(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Stored tokens (ids, names, roles; never the tokens). 令牌列表"""
    with kequn.open(workspace, read_only=True) as ws:
        rows = list_tokens(ws)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        typer.echo("no tokens yet 暂无令牌; kequn token create --role analyst")
    for r in rows:
        state = f"revoked 已吊销 {r['revoked_at']:%Y-%m-%d}" if r["revoked_at"] else "active 有效"
        typer.echo(f"{r['token_id']}  {r['role']:<8} {r['name']:<24} "
                   f"{r['created_at']:%Y-%m-%d %H:%M}  {state}")


@token_app.command("revoke")
def token_revoke(token_id: Annotated[str, typer.Argument(help="Token id. 令牌编号")],
                 workspace: WorkspaceOpt = None) -> None:
    """Revoke a token; a running server stops accepting it within seconds. 吊销令牌"""
    with kequn.open(workspace) as ws:
        revoke_token(ws, token_id)
    typer.echo(f"revoked 已吊销 {token_id}")
