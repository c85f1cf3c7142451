"""Segments 人群: list, create from text or JSON, validate, count, members, explain, history."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from kequn import segments as sg
from kequn.api import compute
from kequn.api.deps import (
    Analyst,
    AsOfQuery,
    LimitQuery,
    OffsetQuery,
    ReadWs,
    State,
    Viewer,
    WriteWs,
)
from kequn.api.pages import Page, page_of, page_of_list
from kequn.api.privacy import log_personal
from kequn.errors import CompileError, KequnError, NotFoundError
from kequn.segments.export import member_table
from kequn.segments.registry import check_rule, read_rule

router = APIRouter(prefix="/api/segments", tags=["segments"])


@contextmanager
def rule_errors() -> Iterator[None]:
    """A rule in a request body that names a missing segment is a bad rule (400), not a
    missing resource (404: that is for the URL)."""
    try:
        yield
    except NotFoundError as exc:
        raise CompileError(str(exc)) from None

RuleValue = Annotated[str | dict[str, Any], Field(
    description="A segment id (`interest`, `vip_pyramid.supreme`), rule text, or the rule's "
                "JSON form.")]


class SegmentCreate(BaseModel):
    """A segment to save: its id and rule (text or JSON), with names."""

    id: str = Field(max_length=64, description="lower-case letters, digits and _")
    rule: RuleValue
    name_zh: str | None = Field(default=None, max_length=200)
    name_en: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    replace: bool = False


class RuleRequest(BaseModel):
    """A rule (or segment id) and when to evaluate it."""

    rule: RuleValue
    as_of: str | None = Field(default=None, max_length=40)


class ExplainRequest(RuleRequest):
    """A rule and the customer to explain it for."""

    customer_id: str = Field(max_length=200)


class MembersRequest(RuleRequest):
    """A rule, and which page of its members to return."""

    limit: int = Field(default=50, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    attributes: bool = False
    show_personal: bool = False


@router.get("", summary="Built-in and saved segments, with their sizes", response_model=Page)
def list_segments(who: Viewer, state: State, as_of: AsOfQuery = None,
                  sizes: Annotated[bool, Query(description="Count the members.")] = True,
                  limit: LimitQuery = 100, offset: OffsetQuery = 0) -> Page:
    """人群列表."""
    if sizes and as_of is None:
        from kequn.dashboard.warm import group_features

        # the sizes at the latest data come from the kept feature table (stored once per
        # data version, in a short write of its own: so before this request opens the file)
        with contextlib.suppress(KequnError):
            group_features(state, part="now", background=False)
    with state.gate.open() as ws:
        segs = sg.list_segments(ws)
        moment = compute.resolve_as_of(state, ws, as_of) if sizes else None
        counted = compute.segment_sizes(state, ws, moment) if moment is not None else {}
    rows = []
    for seg in segs:
        row = {"id": seg.id, "origin": seg.origin, "name_zh": seg.name_zh,
               "name_en": seg.name_en, "family": seg.is_family, "seed": seg.seed,
               "description": seg.description}
        row.update(counted.get(seg.id, {}))
        rows.append(row)
    page = page_of_list(rows, limit=limit, offset=offset)
    return page


@router.post("", summary="Save a segment from rule text or JSON", status_code=201)
def create_segment(who: Analyst, ws: WriteWs, body: SegmentCreate) -> dict[str, Any]:
    """新建人群 (checked: it parses, compiles and makes no cycle)."""
    with rule_errors():
        seg = sg.save_segment(ws, body.id, body.rule, name_zh=body.name_zh,
                              name_en=body.name_en, description=body.description,
                              replace=body.replace)
    return seg.to_dict()


@router.post("/validate", summary="Check a rule: its normal text and JSON, or where it fails")
def validate_rule(who: Viewer, ws: ReadWs, body: RuleRequest) -> dict[str, Any]:
    """校验规则. A syntax error answers 422 with line, col, snippet and what was expected."""
    rule, _ = read_rule(body.rule)
    with rule_errors():
        check_rule(ws, rule)
    return {"valid": True, "text": sg.to_text(rule), "json": sg.to_json(rule)}


@router.post("/count", summary="How many customers a rule or segment holds")
def count_rule(who: Viewer, ws: ReadWs, state: State, body: RuleRequest) -> dict[str, Any]:
    """人数 (per label for a family)."""
    moment = compute.resolve_as_of(state, ws, body.as_of)
    with rule_errors():
        counted = compute.segment_count(state, ws, body.rule, moment)
    return {"as_of": moment.isoformat(), **counted}


def _members(ws: Any, state: State, who: Any, rule: str | dict[str, Any], as_of: str | None,
             *, limit: int, offset: int, attributes: bool, show_personal: bool,
             name: str) -> Page:
    if show_personal:
        who.require("admin", "unmasked personal data")
    moment = compute.resolve_as_of(state, ws, as_of)
    members = sg.evaluate(ws, rule, as_of=moment).order_by("customer_id")
    table = member_table(ws, members, with_attributes=attributes,
                         show_personal=show_personal and who.sees_personal)
    page = page_of(table, limit=limit, offset=offset)
    log_personal(ws, who, "personal.view", f"segment:{name}", rows=len(page.items),
                 what="segment members", attributes=attributes,
                 masked_view=not (show_personal and who.sees_personal))
    return page


@router.post("/members", summary="A page of a rule's members", response_model=Page)
def members_of_rule(who: Analyst, ws: WriteWs, state: State, body: MembersRequest) -> Page:
    """人群成员 (contact data masked unless an admin asks for it)."""
    name = body.rule if isinstance(body.rule, str) and len(body.rule) <= 64 else "rule"
    return _members(ws, state, who, body.rule, body.as_of, limit=body.limit,
                    offset=body.offset, attributes=body.attributes,
                    show_personal=body.show_personal, name=name)


@router.post("/explain", summary="Each condition of a rule for one customer")
def explain_rule(who: Analyst, ws: WriteWs, body: ExplainRequest) -> dict[str, Any]:
    """解释: each condition with this customer's value and whether it held."""
    result = sg.explain(ws, body.rule, body.customer_id, as_of=body.as_of)
    log_personal(ws, who, "personal.view", f"customer:{body.customer_id}", rows=1,
                 what="segment explanation")
    return result.to_dict()


@router.get("/{segment_id}", summary="A segment's rule (text and JSON), names and labels")
def read_segment(who: Viewer, ws: ReadWs, segment_id: str) -> dict[str, Any]:
    """人群定义."""
    return sg.get_segment(ws, segment_id).to_dict()


@router.delete("/{segment_id}", summary="Delete a saved segment", status_code=204)
def delete_segment(who: Analyst, ws: WriteWs, segment_id: str,
                   force: Annotated[bool, Query(description="Even if others use it.")] = False,
                   ) -> Response:
    """删除人群 (a built-in one comes back if you had replaced it)."""
    sg.delete_segment(ws, segment_id, force=force)
    return Response(status_code=204)


@router.get("/{segment_id}/count", summary="How many customers a segment holds")
def count_segment(who: Viewer, ws: ReadWs, state: State, segment_id: str,
                  as_of: AsOfQuery = None) -> dict[str, Any]:
    """人数."""
    sg.get_segment(ws, segment_id)
    moment = compute.resolve_as_of(state, ws, as_of)
    return {"as_of": moment.isoformat(), "segment_id": segment_id,
            **compute.segment_count(state, ws, segment_id, moment)}


@router.get("/{segment_id}/members", summary="A page of a segment's members",
            response_model=Page)
def members_of_segment(
    who: Analyst, ws: WriteWs, state: State, segment_id: str, as_of: AsOfQuery = None,
    limit: LimitQuery = 50, offset: OffsetQuery = 0,
    attributes: Annotated[bool, Query(description="Add the customers' columns.")] = False,
    show_personal: Annotated[bool, Query(description="Contact data in the clear (admin).")]
    = False,
) -> Page:
    """人群成员."""
    sg.get_segment(ws, segment_id.split(".")[0])
    return _members(ws, state, who, segment_id, as_of, limit=limit, offset=offset,
                    attributes=attributes, show_personal=show_personal, name=segment_id)


@router.get("/{segment_id}/explain/{customer_id}",
            summary="Why a customer is or is not in a segment")
def explain_segment(who: Analyst, ws: WriteWs, segment_id: str, customer_id: str,
                    as_of: AsOfQuery = None) -> dict[str, Any]:
    """解释为何入选."""
    sg.get_segment(ws, segment_id.split(".")[0])
    result = sg.explain(ws, segment_id, customer_id, as_of=as_of)
    log_personal(ws, who, "personal.view", f"customer:{customer_id}", rows=1,
                 what="segment explanation", segment=segment_id)
    return result.to_dict()


@router.get("/{segment_id}/history", summary="Size over time; who entered and left")
def segment_history(who: Viewer, ws: WriteWs, segment_id: str,
                    before: Annotated[str | None, Query(alias="from", max_length=40)] = None,
                    after: Annotated[str | None, Query(alias="to", max_length=40)] = None,
                    ) -> dict[str, Any]:
    """人群变化. Viewers get the sizes; analysts also the customers who entered and left."""
    history = sg.segment_history(ws, segment_id)
    if not history:
        sg.get_segment(ws, segment_id)
    out: dict[str, Any] = {"segment_id": segment_id,
                           "snapshots": [s.to_dict() for s in history], "changes": None}
    if len(history) >= 2 or (before and after):
        changes = sg.snapshot_changes(ws, segment_id, before, after).to_dict()
        if who.allows("analyst"):
            out["changes"] = changes
            moved = len(changes["entered"]) + len(changes["left"]) + len(changes["moved"])
            log_personal(ws, who, "personal.view", f"segment:{segment_id}", rows=moved,
                         what="segment changes")
        else:
            out["changes"] = {k: changes[k] for k in ("segment_id", "from", "to")} | {
                "entered": len(changes["entered"]), "left": len(changes["left"]),
                "moved": len(changes["moved"])}
    return out


@router.post("/{segment_id}/snapshots", summary="Store who is in the segment now",
             status_code=201)
def take_snapshot(who: Analyst, ws: WriteWs, segment_id: str,
                  as_of: AsOfQuery = None) -> dict[str, Any]:
    """保存人群快照."""
    snaps = sg.take_snapshots(ws, [segment_id], as_of=as_of)
    return snaps[0].to_dict()
