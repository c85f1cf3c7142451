"""The dashboard: server-rendered pages (Jinja2 + htmx) over the same services as the API.

Every page answers at once: a figure already computed for the current data is drawn in the
page, one that is not yet is a panel the page fetches with htmx (``/panel/...``) while it
shows "computing…". Pages need the viewer role; member tables and explanations the analyst
role (contact data masked), sending a campaign the admin role.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from importlib import resources
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from kequn import campaigns as cp
from kequn import segments as sg
from kequn.api import compute
from kequn.api.access import AccessError, Principal
from kequn.api.deps import TOKEN_COOKIE, State, current_principal, get_state
from kequn.api.privacy import log_personal
from kequn.api.routes.campaigns import detail, preview_dict
from kequn.api.routes.data import load_upload, workspace_status
from kequn.api.routes.predictions import latest
from kequn.dashboard import charts, panels, warm
from kequn.dashboard.i18n import COLUMN_LABELS, LANG_COOKIE, TABLE_LABELS, Lang, choose, t
from kequn.errors import KequnError, NotFoundError, RuleSyntaxError, WorkspaceError
from kequn.ingest.mapping import preset_names
from kequn.schema.tables import TABLES
from kequn.segments.export import member_table

router = APIRouter(include_in_schema=False)
_TEMPLATES = resources.files("kequn.dashboard") / "templates"
templates = Jinja2Templates(directory=str(_TEMPLATES))
PERIODS = ("day", "week", "month")


# -- formatting -------------------------------------------------------------------------------
def fmt_int(v: Any) -> str:
    """``12,345``; a suppressed ``<k`` as it is; ``–`` for nothing."""
    if isinstance(v, str):
        return v
    if v is None or (isinstance(v, float) and v != v):
        return "–"
    return f"{int(round(v)):,}"


def fmt_money(v: Any) -> str:
    """``12,345.60``; large values without cents."""
    if isinstance(v, str):
        return v
    if v is None or (isinstance(v, float) and v != v):
        return "–"
    return f"{v:,.0f}" if abs(v) >= 10000 else f"{v:,.2f}"


def fmt_pct(v: Any, digits: int = 1) -> str:
    """``12.3%``."""
    if isinstance(v, str):
        return v
    if v is None or (isinstance(v, float) and v != v):
        return "–"
    return f"{v * 100:.{digits}f}%"


def fmt_signed(v: Any, kind: str = "money") -> str:
    """``+1,234.00`` or ``+2.1 pp`` for a change."""
    if v is None or isinstance(v, str):
        return "–" if v is None else v
    if kind == "pp":
        return f"{v * 100:+.2f} pp"
    return f"{v:+,.2f}"


templates.env.filters.update(int=fmt_int, money=fmt_money, pct=fmt_pct, signed=fmt_signed)
# JSON for an HTML attribute: returned as plain text, so autoescaping quotes it safely
templates.env.globals["json"] = lambda v: json.dumps(v, ensure_ascii=False, default=str)


# -- request context --------------------------------------------------------------------------
def page_principal(request: Request, state: State) -> Principal:
    """The principal of a page request (401 becomes a redirect to the sign-in page)."""
    return current_principal(request, state)


Who = Annotated[Principal, Depends(page_principal)]


def request_lang(request: Request, lang: Annotated[str | None, Query()] = None) -> Lang:
    """The page language (see :mod:`kequn.dashboard.i18n`)."""
    return choose(lang, request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


PageLang = Annotated[Lang, Depends(request_lang)]


def render(request: Request, template: str, lang: Lang, who: Principal | None,
           **context: Any) -> HTMLResponse:
    """A page or fragment in ``lang``, remembering a language chosen with ``?lang=``."""
    state = get_state(request)
    response = templates.TemplateResponse(request, template, {
        "lang": lang, "t": lambda key: t(key, lang), "who": who, "path": request.url.path,
        "query": dict(request.query_params), "tokens_required": state.config.tokens_required,
        "other_lang": "en" if lang == "zh" else "zh",
        "switch_url": _with_query(request, lang="en" if lang == "zh" else "zh"),
        "table_label": lambda name: TABLE_LABELS.get(name, (name, name))[lang == "en"],
        "column_label": lambda name: COLUMN_LABELS.get(name, (name, name))[lang == "en"],
        **context})
    if request.query_params.get("lang") in ("zh", "en"):
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
    return response


def _with_query(request: Request, **changes: str) -> str:
    params = dict(request.query_params)
    params.update(changes)
    return f"{request.url.path}?{urlencode(params)}"


def _ws_read(request: Request) -> Any:
    return get_state(request).gate.open(write=False)


def _ws_write(request: Request) -> Any:
    return get_state(request).gate.open(write=True)


def panel_page(request: Request, lang: Lang, who: Principal, *, page: str, panel: str,
               builder: Callable[..., dict[str, Any]], params: dict[str, Any],
               **context: Any) -> HTMLResponse:
    """A page whose main panel is drawn now when cached, else fetched by htmx."""
    state = get_state(request)
    with _ws_read(request) as ws:
        try:
            as_of = compute.default_as_of(state, ws)
            data = builder(state, ws, lang, only_cached=True, **params)
        except compute.NotCached:
            data = None
        except WorkspaceError:  # nothing loaded yet: say what to do, not which flag to pass
            data = {"error": t("no_data", lang), "empty": True}
            as_of = None
        except KequnError as exc:
            data = {"error": str(exc)}
            as_of = None
    return render(request, page, lang, who, as_of=as_of, panel=data, params=params,
                  panel_template=f"panels/{panel}.html",
                  panel_url=f"/panel/{panel}?{urlencode({**params, 'lang': lang})}", **context)


# -- pages ------------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
def overview(request: Request, who: Who, lang: PageLang,
             period: Annotated[str, Query(pattern="^(day|week|month)$")] = "week"
             ) -> HTMLResponse:
    """经营概览: SPEC §2 figures of the last complete period against the one before."""
    return panel_page(request, lang, who, page="overview.html", panel="overview",
                      builder=panels.overview, params={"period": period}, periods=PERIODS)


@router.get("/groups", response_class=HTMLResponse)
def groups(request: Request, who: Who, lang: PageLang) -> HTMLResponse:
    """客户分群: every group with its size and its change over 30 days."""
    return panel_page(request, lang, who, page="groups.html", panel="groups",
                      builder=panels.groups, params={"part": "now"})


@router.get("/rfm", response_class=HTMLResponse)
def rfm(request: Request, who: Who, lang: PageLang) -> HTMLResponse:
    """RFM 客户分类: the eight classes."""
    return panel_page(request, lang, who, page="simple.html", panel="rfm",
                      builder=panels.rfm, params={}, title="rfm_title", intro="rfm_intro")


@router.get("/retention", response_class=HTMLResponse)
def retention(request: Request, who: Who, lang: PageLang,
              action: Annotated[str, Query(pattern="^(any|visit|login|purchase)$")] = "any",
              period: Annotated[str, Query(pattern="^(day|week|month)$")] = "week",
              mode: Annotated[str, Query(pattern="^(in|within)$")] = "in") -> HTMLResponse:
    """留存热力图."""
    return panel_page(request, lang, who, page="retention.html", panel="retention",
                      builder=panels.retention,
                      params={"action": action, "period": period, "mode": mode},
                      periods=PERIODS)


@router.get("/funnel", response_class=HTMLResponse)
def funnel(request: Request, who: Who, lang: PageLang,
           period: Annotated[str, Query(pattern="^(day|week|month)$")] = "month"
           ) -> HTMLResponse:
    """转化漏斗."""
    return panel_page(request, lang, who, page="simple.html", panel="funnel",
                      builder=panels.funnel, params={"period": period}, periods=PERIODS,
                      title="funnel_title", intro="funnel_intro")


@router.get("/channels", response_class=HTMLResponse)
def channels(request: Request, who: Who, lang: PageLang,
             period: Annotated[str, Query(pattern="^(day|week|month)$")] = "month"
             ) -> HTMLResponse:
    """渠道象限."""
    return panel_page(request, lang, who, page="simple.html", panel="channels",
                      builder=panels.channels, params={"period": period}, periods=PERIODS,
                      title="channels_title", intro="channels_intro")


_PANELS: dict[str, Callable[..., dict[str, Any]]] = {
    "overview": panels.overview, "groups": panels.groups, "rfm": panels.rfm,
    "retention": panels.retention, "funnel": panels.funnel, "channels": panels.channels,
}
_PANEL_PARAMS = {"overview": ("period",), "groups": ("part",), "rfm": (),
                 "retention": ("action", "period", "mode"), "funnel": ("period",),
                 "channels": ("period",)}


@router.get("/panel/{name}", response_class=HTMLResponse)
def panel(request: Request, who: Who, lang: PageLang, name: str) -> HTMLResponse:
    """One page's main panel, computed now if needed (htmx fetches it)."""
    if name not in _PANELS:
        msg = f"no panel {name!r}"
        raise NotFoundError(msg)
    params = {k: request.query_params[k] for k in _PANEL_PARAMS[name]
              if k in request.query_params}
    _check_params(params)
    state = get_state(request)
    if name == "groups" and not _cached(request, name, lang, params):
        # Every group's size (now; then 30 days before) from a kept feature table, stored on
        # the way if the warm-up has not yet: one scan instead of a feature build per request.
        with contextlib.suppress(KequnError):  # e.g. no data yet: the panel says so itself
            warm.group_features(state, part=params.get("part", "all"), background=False)
    with _ws_read(request) as ws:
        data = _PANELS[name](state, ws, lang, **params)
    return render(request, f"panels/{name}.html", lang, who, panel=data, params=params)


def _cached(request: Request, name: str, lang: Lang, params: dict[str, Any]) -> bool:
    """Whether panel ``name`` is computed for the current data already."""
    state = get_state(request)
    with _ws_read(request) as ws:
        try:
            _PANELS[name](state, ws, lang, only_cached=True, **params)
        except compute.NotCached:
            return False
    return True


def _check_params(params: dict[str, str]) -> None:
    allowed = {"period": PERIODS, "action": ("any", "visit", "login", "purchase"),
               "mode": ("in", "within"), "part": ("now", "all")}
    for key, value in params.items():
        if value not in allowed[key]:
            msg = f"{key} {value!r} is not one of {', '.join(allowed[key])}"
            raise KequnError(msg)


@router.get("/report", response_class=HTMLResponse)
def weekly_report(request: Request, who: Who, lang: PageLang,
                  period: Annotated[str, Query(pattern="^(day|week|month)$")] = "week"
                  ) -> HTMLResponse:
    """运营周报: the self-contained report of :mod:`kequn.report`, cached per data version."""
    state = get_state(request)
    chosen: Any = period
    with _ws_read(request) as ws:
        try:
            return HTMLResponse(panels.report_html(state, ws, lang, period=chosen,
                                                   only_cached=True))
        except compute.NotCached:
            pass
    with contextlib.suppress(KequnError):  # its groups from kept feature tables, stored first
        warm.report_features(state, chosen, background=False)
    with _ws_read(request) as ws:
        return HTMLResponse(panels.report_html(state, ws, lang, period=chosen))


# -- the group builder ------------------------------------------------------------------------
@router.get("/groups/builder", response_class=HTMLResponse)
def builder(request: Request, who: Who, lang: PageLang,
            segment: Annotated[str | None, Query(max_length=64)] = None,
            rule: Annotated[str | None, Query(max_length=20000)] = None) -> HTMLResponse:
    """圈选人群: type or click a rule, see its count live, its members, an explanation."""
    text = rule or ""
    seg = None
    with _ws_read(request) as ws:
        if segment:
            seg = sg.get_segment(ws, segment)
            text = seg.text.strip()
        segs = sg.list_segments(ws)
    return render(request, "builder.html", lang, who, rule=text, segment=seg,
                  palette=panels.palette(lang), segments=segs)


def _rule_or_none(rule: str) -> str | None:
    text = rule.strip()
    return text or None


@router.post("/groups/count", response_class=HTMLResponse)
def builder_count(request: Request, who: Who, lang: PageLang,
                  rule: Annotated[str, Form(max_length=20000)] = "") -> HTMLResponse:
    """The live count under the builder's text box (or the positioned syntax error)."""
    text = _rule_or_none(rule)
    if text is None:
        return render(request, "fragments/count.html", lang, who, empty=True)
    state = get_state(request)
    try:
        with _ws_read(request) as ws:
            as_of = compute.default_as_of(state, ws)
            result = compute.segment_count(state, ws, text, as_of)
    except RuleSyntaxError as exc:
        return render(request, "fragments/count.html", lang, who, syntax=exc,
                      caret=" " * max(exc.col - 1, 0) + "^", bad_line=_line(text, exc.line))
    except KequnError as exc:
        return render(request, "fragments/count.html", lang, who, error=str(exc))
    return render(request, "fragments/count.html", lang, who, result=result, as_of=as_of)


def _line(text: str, number: int) -> str:
    lines = text.splitlines()
    return lines[number - 1] if 0 < number <= len(lines) else ""


@router.post("/groups/members", response_class=HTMLResponse)
def builder_members(request: Request, who: Who, lang: PageLang,
                    rule: Annotated[str, Form(max_length=20000)] = "",
                    offset: Annotated[int, Form(ge=0)] = 0) -> HTMLResponse:
    """A page of the rule's members with their attributes (masked unless admin)."""
    if not who.allows("analyst"):
        return render(request, "fragments/message.html", lang, who, kind="warn",
                      message=t("needs_role", lang) + " (analyst)")
    text = _rule_or_none(rule)
    if text is None:
        return HTMLResponse("")
    state = get_state(request)
    limit = 20
    try:
        with _ws_write(request) as ws:
            as_of = compute.default_as_of(state, ws)
            members = sg.evaluate(ws, text, as_of=as_of).order_by("customer_id")
            table = member_table(ws, members, with_attributes=True,
                                 show_personal=who.sees_personal)
            columns = [c for c in ("customer_id", "label", "name", "phone", "email",
                                   "gender", "city", "member_level", "source_channel")
                       if c in table.columns]
            total = int(table.count().to_pyarrow().as_py())
            rows = table.select(*columns).limit(limit, offset=offset).to_pyarrow().to_pylist()
            log_personal(ws, who, "personal.view", "segment:builder", rows=len(rows),
                         what="segment members (dashboard)")
    except KequnError as exc:
        return render(request, "fragments/message.html", lang, who, kind="error",
                      message=str(exc))
    return render(request, "fragments/members.html", lang, who, rows=rows, columns=columns,
                  total=total, offset=offset, limit=limit, rule=text,
                  masked=not who.sees_personal)


@router.post("/groups/explain", response_class=HTMLResponse)
def builder_explain(request: Request, who: Who, lang: PageLang,
                    rule: Annotated[str, Form(max_length=20000)] = "",
                    customer_id: Annotated[str, Form(max_length=200)] = "") -> HTMLResponse:
    """Each condition of the rule for one customer."""
    if not who.allows("analyst"):
        return render(request, "fragments/message.html", lang, who, kind="warn",
                      message=t("needs_role", lang) + " (analyst)")
    text = _rule_or_none(rule)
    if text is None or not customer_id.strip():
        return HTMLResponse("")
    state = get_state(request)
    try:
        with _ws_write(request) as ws:
            as_of = compute.default_as_of(state, ws)
            result = sg.explain(ws, text, customer_id.strip(), as_of=as_of)
            log_personal(ws, who, "personal.view", f"customer:{customer_id.strip()}", rows=1,
                         what="segment explanation (dashboard)")
    except KequnError as exc:
        return render(request, "fragments/message.html", lang, who, kind="error",
                      message=str(exc))
    return render(request, "fragments/explain.html", lang, who, result=result.to_dict())


@router.post("/groups/save", response_class=HTMLResponse)
def builder_save(request: Request, who: Who, lang: PageLang,
                 rule: Annotated[str, Form(max_length=20000)] = "",
                 segment_id: Annotated[str, Form(max_length=64)] = "",
                 name_zh: Annotated[str, Form(max_length=200)] = "",
                 name_en: Annotated[str, Form(max_length=200)] = "",
                 replace: Annotated[bool, Form()] = False) -> HTMLResponse:
    """Save the rule as a named group."""
    if not who.allows("analyst"):
        return render(request, "fragments/message.html", lang, who, kind="warn",
                      message=t("needs_role", lang) + " (analyst)")
    try:
        with _ws_write(request) as ws:
            seg = sg.save_segment(ws, segment_id.strip(), rule, name_zh=name_zh or None,
                                  name_en=name_en or None, replace=replace)
    except KequnError as exc:
        return render(request, "fragments/message.html", lang, who, kind="error",
                      message=str(exc))
    return render(request, "fragments/message.html", lang, who, kind="ok",
                  message=f"{t('saved', lang)}: {seg.id}",
                  link=(f"/campaigns?segment={seg.id}", t("create_campaign_for", lang)))


# -- predictions ------------------------------------------------------------------------------
@router.get("/predictions", response_class=HTMLResponse)
def predictions_page(request: Request, who: Who, lang: PageLang) -> HTMLResponse:
    """预测: the latest run, churn risk bands and (analyst) the most valuable customers."""
    run = None
    top: list[dict[str, Any]] = []
    with _ws_write(request) if who.allows("analyst") else _ws_read(request) as ws:
        try:
            run = latest(ws)
        except NotFoundError:
            run = None
        if run is not None and who.allows("analyst"):
            from kequn.clv import predictions

            p = predictions(ws)
            top = p.order_by([p.clv.desc(), "customer_id"]).limit(15).to_pyarrow().to_pylist()
            log_personal(ws, who, "personal.view", "predictions", rows=len(top),
                         what="customer predictions (dashboard)")
    report = run["report"] if run else None
    chart = charts.churn_bars(report["totals"].get("churn_risk", {}), lang) if report else {}
    return render(request, "predictions.html", lang, who, run=run, report=report, top=top,
                  risk_chart=chart)


@router.post("/predictions/fit")
def predictions_fit(request: Request, who: Who, lang: PageLang) -> Response:
    """Fit the models (analyst), then show the page again."""
    who.require("analyst", "fitting predictions")
    import warnings

    from kequn.clv import PredictionWarning, fit_predictions

    with _ws_write(request) as ws, warnings.catch_warnings():
        warnings.simplefilter("ignore", PredictionWarning)
        fit_predictions(ws)
    return RedirectResponse(f"/predictions?lang={lang}", status_code=303)


# -- campaigns --------------------------------------------------------------------------------
@router.get("/campaigns", response_class=HTMLResponse)
def campaigns_page(request: Request, who: Who, lang: PageLang,
                   segment: Annotated[str | None, Query(max_length=64)] = None,
                   rule: Annotated[str | None, Query(max_length=20000)] = None) -> HTMLResponse:
    """定向运营: the campaigns and a form for a new one."""
    with _ws_read(request) as ws:
        rows = [detail(ws, c) for c in reversed(cp.list_campaigns(ws))]
        segs = sg.list_segments(ws)
    return render(request, "campaigns.html", lang, who, campaigns=rows, segments=segs,
                  chosen=(rule or "").strip() or segment)


@router.post("/campaigns")
def campaigns_create(request: Request, who: Who, lang: PageLang,
                     name: Annotated[str, Form(max_length=200)],
                     segment: Annotated[str, Form(max_length=20000)],
                     threshold: Annotated[float | None, Form(ge=0)] = None,
                     discount: Annotated[float | None, Form(gt=0)] = None,
                     validity_days: Annotated[int, Form(ge=1, le=365)] = 10,
                     channel: Annotated[str, Form(max_length=20)] = "export",
                     holdout: Annotated[float, Form(ge=0, le=50)] = 10) -> Response:
    """Create a campaign, then open it."""
    who.require("analyst", "creating a campaign")
    spec: dict[str, Any] = {"name": name, "segment": segment, "channel": channel,
                            "holdout": holdout / 100}
    if discount:
        spec["coupon"] = {"threshold": threshold or 0, "discount": discount,
                          "validity_days": validity_days}
    with _ws_write(request) as ws:
        campaign = cp.create_campaign(ws, spec, actor=who.actor)
    return RedirectResponse(f"/campaigns/{campaign.campaign_id}?lang={lang}", status_code=303)


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
def campaign_page(request: Request, who: Who, lang: PageLang, campaign_id: str) -> HTMLResponse:
    """One campaign: its definition, the preview, sending and the results."""
    with _ws_read(request) as ws:
        c = cp.get_campaign(ws, campaign_id)
        info = detail(ws, c)
        report = cp.measure(ws, campaign_id).as_dict() if info["recipients"] else None
    chart = (charts.uplift_bars(report["target"], report["holdout"], lang)
             if report and report["target"]["customers"] else {})
    return render(request, "campaign.html", lang, who, c=info, report=report,
                  uplift_chart=chart)


@router.post("/campaigns/{campaign_id}/preview", response_class=HTMLResponse)
def campaign_preview(request: Request, who: Who, lang: PageLang,
                     campaign_id: str) -> HTMLResponse:
    """What a send would do now (nothing is sent)."""
    if not who.allows("analyst"):
        return render(request, "fragments/message.html", lang, who, kind="warn",
                      message=t("needs_role", lang) + " (analyst)")
    try:
        with _ws_write(request) as ws:
            data = preview_dict(cp.preview_campaign(ws, campaign_id, actor=who.actor))
    except KequnError as exc:
        return render(request, "fragments/message.html", lang, who, kind="error",
                      message=str(exc))
    return render(request, "fragments/preview.html", lang, who, p=data)


@router.post("/campaigns/{campaign_id}/send")
def campaign_send(request: Request, who: Who, lang: PageLang, campaign_id: str) -> Response:
    """Send (admin), then show the campaign again."""
    who.require("admin", "sending a campaign")
    with _ws_write(request) as ws:
        cp.send_campaign(ws, campaign_id, now=True, actor=who.actor)
    return RedirectResponse(f"/campaigns/{campaign_id}?lang={lang}", status_code=303)


# -- loading data -----------------------------------------------------------------------------
@router.get("/load", response_class=HTMLResponse)
def load_page(request: Request, who: Who, lang: PageLang) -> HTMLResponse:
    """导入数据: what the workspace holds, recent loads, and an upload form."""
    with _ws_read(request) as ws:
        status = workspace_status(ws)
    return render(request, "load.html", lang, who, status=status, tables=list(TABLES),
                  presets=preset_names())


@router.post("/load", response_class=HTMLResponse)
def load_upload_page(request: Request, who: Who, lang: PageLang,
                     table: Annotated[str, Form(max_length=40)],
                     file: Annotated[UploadFile, File()],
                     preset: Annotated[str, Form(max_length=40)] = "") -> HTMLResponse:
    """Load the uploaded file; the report and the first quarantined rows."""
    if not who.allows("analyst"):
        return render(request, "fragments/message.html", lang, who, kind="warn",
                      message=t("needs_role", lang) + " (analyst)")
    try:
        with _ws_write(request) as ws:
            report = load_upload(ws, who, table, file.filename, file.file,
                                 preset=preset or None)
    except KequnError as exc:
        return render(request, "fragments/message.html", lang, who, kind="error",
                      message=str(exc))
    return render(request, "fragments/load_report.html", lang, who, r=report)


# -- signing in -------------------------------------------------------------------------------
@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, lang: PageLang, bad: bool = False) -> HTMLResponse:
    """The sign-in form (a token)."""
    return render(request, "login.html", lang, None, bad=bad)


@router.post("/login")
def login(request: Request, lang: PageLang,
          token: Annotated[str, Form(max_length=200)]) -> Response:
    """Check the token and keep it in an HttpOnly, same-site cookie."""
    state = get_state(request)
    try:
        state.tokens.principal(token.strip())
    except AccessError:
        return RedirectResponse(f"/login?bad=1&lang={lang}", status_code=303)
    response = RedirectResponse(f"/?lang={lang}", status_code=303)
    response.set_cookie(TOKEN_COOKIE, token.strip(), httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", max_age=30 * 86400)
    return response


@router.post("/logout")
def logout(lang: PageLang) -> Response:
    """Forget the token cookie."""
    response = RedirectResponse(f"/login?lang={lang}", status_code=303)
    response.delete_cookie(TOKEN_COOKIE)
    return response


@router.get("/vendor/echarts.min.js")
def echarts() -> FileResponse:
    """The ECharts build vendored in ``kequn/static`` (shared with ``kequn report``)."""
    path = resources.files("kequn") / "static" / "echarts.min.js"
    return FileResponse(str(path), media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})


# -- errors as pages --------------------------------------------------------------------------
def html_error(request: Request, status: int, body: dict[str, Any]) -> Response:
    """An error on a dashboard path: sign-in redirect, htmx fragment, or an error page."""
    lang = choose(request.query_params.get("lang"), request.cookies.get(LANG_COOKIE),
                  request.headers.get("accept-language"))
    if status == 401:
        if request.headers.get("hx-request"):
            return Response(status_code=204, headers={"HX-Redirect": "/login"})
        return RedirectResponse(f"/login?lang={lang}", status_code=303)
    template = ("fragments/message.html" if request.headers.get("hx-request")
                else "error.html")
    response = templates.TemplateResponse(request, template, {
        "lang": lang, "t": lambda key: t(key, lang), "who": None, "path": request.url.path,
        "query": {}, "tokens_required": False, "other_lang": "en" if lang == "zh" else "zh",
        "switch_url": _with_query(request, lang="en" if lang == "zh" else "zh"),
        "kind": "error", "message": body.get("message", ""), "status": status})
    response.status_code = status
    return response

