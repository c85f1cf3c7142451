"""kequn's own state beside the shop's tables, on every engine: segment snapshots and history,
campaign preview, send and report, automation entries.

Each story runs twice on a tiny shop — on the embedded DuckDB, and on local PySpark with a
fresh state database that holds no shop rows — and both runs must give the same answer (and
the one written here). On Spark the stories join Spark's tables with the embedded state
tables (unsubscribes, earlier sends, recipient lists), which only works through
:func:`kequn.storage.engines.on_engine` and :func:`~kequn.storage.engines.to_state`.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest
from engine_helpers import TEST_SPARK_CONF

import kequn
from kequn import segments as sg
from kequn.campaigns import (
    Message,
    create_campaign,
    enable_automation,
    preview_campaign,
    recipients,
    send_campaign,
    unsubscribe,
    write_settings,
)
from kequn.campaigns.automations import enter_automation
from kequn.campaigns.measurement import measure
from kequn.campaigns.store import insert_arrow
from kequn.campaigns.targeting import is_held_out
from kequn.schema.tables import TABLES
from kequn.storage.engines import export_tables, on_engine, to_state
from kequn.storage.setup import table_schema
from kequn.workspace import Workspace

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.usefixtures("spark")]

AS_OF = dt.datetime(2024, 6, 30, 23, 0)
SENT_AT = dt.datetime(2024, 6, 10, 10, 0)  # a Monday morning, outside the quiet hours
EARLY = dt.datetime(2024, 4, 1)
LATER = dt.datetime(2024, 8, 15)
IDS = [f"c{i}" for i in range(1, 9)]


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def order(oid: str, cid: str, paid: str | None, amount: float, *, created: str | None = None,
          coupon: str | None = None) -> dict[str, Any]:
    made = at(created or paid or "")
    return {"order_id": oid, "customer_id": cid, "created_at": made,
            "paid_at": at(paid) if paid else None, "status": "paid" if paid else "created",
            "amount": amount, "coupon_id": coupon}


ROWS: dict[str, list[dict[str, Any]]] = {
    "customers": [
        {"customer_id": cid, "registered_at": at("2023-01-01"), "name": f"顾客{cid}",
         "email": None if cid == "c3" else f"{cid}@example.com", "opted_out": cid == "c2",
         "birthday": dt.date(1990, 6, 30) if cid == "c1" else None, "language": "zh"}
        for cid in IDS
    ],
    "orders": [
        order("o01", "c1", "2024-03-01 12:00", 90.0),
        order("o02", "c2", "2024-03-02 12:00", 60.0),
        *(order(f"o1{i}", f"c{i}", "2024-05-01 12:00", 50.0 + i) for i in range(1, 8)),
        order("o20", "c6", "2024-05-31 12:00", 40.0),  # lapsed a month at AS_OF: win-back
        # after the campaign left on 10 June: inside the 14-day window, and after it
        order("o30", "c1", "2024-06-12 09:00", 120.0, coupon="SUMMER"),
        order("o31", "c4", "2024-06-15 20:00", 80.0),
        order("o32", "c5", "2024-06-20 08:00", 200.0),
        order("o33", "c7", "2024-06-28 08:00", 70.0),
        order("o34", "c8", None, 30.0, created="2024-06-29 12:00"),  # unpaid: a reminder
    ],
    "events": [
        {"event_time": at("2024-06-29 10:00"), "customer_id": "c3", "event": "cart"},
        {"event_time": at("2024-06-30 22:00"), "customer_id": "c7", "event": "visit"},
    ],
}


def write_rows(ws: Workspace) -> None:
    for name, rows in ROWS.items():
        schema = table_schema(TABLES[name]).to_pyarrow()
        ws.con.insert(name, pa.table({c: [r.get(c) for r in rows] for c in schema.names},
                                     schema=schema))


Fresh = Callable[[str], Workspace]


@pytest.fixture(scope="module")
def parquet(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The tiny shop exported once, for every Spark workspace of the module."""
    root = tmp_path_factory.mktemp("state_shop")
    with kequn.open(root / "shop.duckdb") as ws:
        write_rows(ws)
        export_tables(ws, root / "parquet")
    return str(root / "parquet")


@pytest.fixture
def fresh(parquet: str, tmp_path: Path) -> Iterator[Fresh]:
    """``fresh(engine)``: a new workspace with no state yet (on Spark, no shop rows either)."""
    opened: list[Workspace] = []
    counter = itertools.count()

    def make(engine: str) -> Workspace:
        ws = kequn.open(tmp_path / f"{engine}-{next(counter)}.duckdb")
        opened.append(ws)
        if engine == "duckdb":
            write_rows(ws)
        else:
            ws.use_engine("pyspark", data_url=parquet, spark_conf=TEST_SPARK_CONF)
        return ws

    yield make
    for ws in opened:
        ws.close()


def on_both(fresh: Fresh, story: Callable[[Workspace], Any]) -> Any:
    """The story's answer on DuckDB, checked equal to its answer on Spark."""
    duck, spark = fresh("duckdb"), fresh("pyspark")
    assert spark.con.table("orders").count().execute() == 0  # Spark has to compute it
    expected, actual = story(duck), story(spark)
    assert actual == expected
    return expected


# -- the one helper ----------------------------------------------------------------------------


def test_state_rows_join_the_shop_tables_on_either_engine(fresh: Fresh) -> None:
    def story(ws: Workspace) -> list[dict[str, Any]]:
        unsubscribe(ws, "c4", channel="email", clock=lambda: SENT_AT)
        unsub = on_engine(ws, ws.con.table("kq_unsubscribes").select("customer_id", "at"))
        customers = ws.table("customers")
        joined = customers.join(unsub, "customer_id").select("customer_id", "name", "at")
        return joined.to_pyarrow().to_pylist()

    assert on_both(fresh, story) == [{"customer_id": "c4", "name": "顾客c4", "at": SENT_AT}]


def test_engine_results_come_back_to_the_state_database(fresh: Fresh) -> None:
    def story(ws: Workspace) -> list[str]:
        o = ws.table("orders")
        buyers = to_state(ws, o.filter(o.paid_at.notnull()).select("customer_id").distinct())
        ws.raw.execute("CREATE TABLE kq_test_ids (customer_id VARCHAR)")
        ws.con.insert("kq_test_ids", buyers)
        rows = ws.raw.execute("SELECT customer_id FROM kq_test_ids ORDER BY 1").fetchall()
        return [r[0] for r in rows]

    assert on_both(fresh, story) == [f"c{i}" for i in range(1, 8)]


def test_an_expression_already_there_is_not_moved(fresh: Fresh) -> None:
    ws = fresh("duckdb")
    state = ws.con.table("kq_unsubscribes")
    assert on_engine(ws, state) is state
    shop = ws.table("orders")
    assert to_state(ws, shop) is shop
    listed = ibis.memtable({"customer_id": ["c1"]})
    assert on_engine(fresh("pyspark"), listed) is listed  # bound to no backend: runs anywhere


# -- segment snapshots ---------------------------------------------------------------------------


def test_snapshots_history_and_changes_are_the_same(fresh: Fresh) -> None:
    def story(ws: Workspace) -> dict[str, Any]:
        sg.save_segment(ws, "buyers", "paid_orders(last: 365d) >= 1")
        for seg, dates in (("buyers", (EARLY, AS_OF)), ("lifecycle", (AS_OF, LATER))):
            for when in dates:
                sg.take_snapshots(ws, [seg], as_of=when)
        sg.take_snapshots(ws, ["buyers"], as_of=AS_OF)  # again: replaces, no duplicate
        out: dict[str, Any] = {}
        for seg in ("buyers", "lifecycle"):
            changes = sg.snapshot_changes(ws, seg).to_dict()
            for side in ("from", "to"):
                del changes[side]["taken_at"]  # the wall clock
            out[seg] = changes
        return out

    result = on_both(fresh, story)
    buyers = result["buyers"]
    assert (buyers["from"]["members"], buyers["to"]["members"]) == (2, 7)
    assert buyers["entered"] == ["c3", "c4", "c5", "c6", "c7"]
    assert buyers["left"] == []
    lifecycle = result["lifecycle"]  # by 15 August c2's and c3's last order is 3 months old
    assert (lifecycle["from"]["members"], lifecycle["to"]["members"]) == (7, 7)
    assert lifecycle["moved"] == [{"customer_id": c, "from": "active", "to": "sleeping"}
                                  for c in ("c2", "c3")]


# -- campaigns -------------------------------------------------------------------------------


class Inbox:
    """A channel that keeps what it is given (email: needs a usable address)."""

    name = "email"
    contact_field = "email"
    idempotent = False

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def open(self) -> None:
        pass

    def deliver(self, message: Message) -> None:
        self.messages.append(message)

    def close(self) -> None:
        pass


def summer_campaign(ws: Workspace) -> str:
    """The buyers of 10 June get a coupon by email; c4 left email, c5 had a message the day
    before (frequency cap 1 a week), c2 opted out, c3 has no address."""
    clock = lambda: SENT_AT  # noqa: E731
    write_settings(ws, frequency_cap=1, frequency_days=7, margin_rate=0.4)
    sg.save_segment(ws, "buyers", "paid_orders(last: 365d) >= 1")
    unsubscribe(ws, "c4", channel="email", clock=clock)
    insert_arrow(ws.con, "kq_sends", [{
        "idem_key": "earlier|c5", "campaign_id": "cmp-earlier", "event_key": "x",
        "customer_id": "c5", "channel": "email", "status": "sent",
        "created_at": SENT_AT - dt.timedelta(days=1), "sent_at": SENT_AT - dt.timedelta(days=1)}])
    c = create_campaign(ws, {
        "name": "夏日券", "segment": "buyers", "as_of": SENT_AT, "channel": "email",
        "holdout": 0.3, "code_salt": "fixed",  # the same coupon codes in both workspaces
        "coupon": {"threshold": 100, "discount": 20, "validity_days": 10, "coupon_id": "SUMMER"},
    }, clock=clock)
    return c.campaign_id


def test_campaign_preview_is_the_same(fresh: Fresh) -> None:
    def story(ws: Workspace) -> dict[str, Any]:
        cid = summer_campaign(ws)
        preview = preview_campaign(ws, cid, clock=lambda: SENT_AT, sample=2).as_dict()
        return {k: v for k, v in preview.items() if k != "warnings"}

    preview = on_both(fresh, story)
    target = [c for c in IDS[:7] if not is_held_out("cmp-0001", c, 0.3)]
    assert preview["audience"] == 7
    assert preview["target"] == len(target)
    assert preview["removed"] == {
        "unknown_customer": 0, "opted_out": int("c2" in target),
        "unsubscribed": int("c4" in target), "no_contact": int("c3" in target),
        "frequency_cap": int("c5" in target)}
    eligible = sorted(set(target) - {"c2", "c3", "c4", "c5"})
    assert preview["to_send"] == len(eligible) > 0
    assert {s["customer_id"] for s in preview["sample"]} <= set(eligible)
    assert all("***" in s["contact"] for s in preview["sample"])


def test_a_listed_audience_is_guarded_on_the_engine(fresh: Fresh) -> None:
    def story(ws: Workspace) -> dict[str, Any]:
        c = create_campaign(ws, {"name": "名单", "channel": "email", "holdout": 0},
                            audience=ibis.memtable({"customer_id": ["c1", "c3", "ghost"]}),
                            clock=lambda: SENT_AT)
        return preview_campaign(ws, c.campaign_id, clock=lambda: SENT_AT, sample=0).counts

    counts = on_both(fresh, story)
    assert counts["removed"]["unknown_customer"] == 1
    assert counts["removed"]["no_contact"] == 1
    assert counts["to_send"] == 1


def test_campaign_send_and_report_are_the_same(fresh: Fresh) -> None:
    def story(ws: Workspace) -> dict[str, Any]:
        cid = summer_campaign(ws)
        inbox = Inbox()
        sent = send_campaign(ws, cid, clock=lambda: SENT_AT, channel=inbox)
        frozen = recipients(ws, cid).drop("sent_at").to_pyarrow().to_pylist()
        report = measure(ws, cid, as_of=AS_OF).as_dict()
        return {"totals": sent.totals, "frozen": frozen, "report": report,
                "messages": sorted((m.customer_id, m.contact, m.body) for m in inbox.messages)}

    result = on_both(fresh, story)
    target = [c for c in IDS[:7] if not is_held_out("cmp-0001", c, 0.3)]
    holdout = [c for c in IDS[:7] if c not in target]
    eligible = sorted(set(target) - {"c2", "c3", "c4", "c5"})
    assert [m[0] for m in result["messages"]] == eligible
    assert all(m[1] == f"{m[0]}@example.com" and f"顾客{m[0]}" in m[2]
               for m in result["messages"])
    assert result["totals"] == {"sent": len(eligible)}
    assert len(result["frozen"]) == 7
    report = result["report"]
    measured = {"target": eligible, "holdout": sorted(set(holdout) - {"c2", "c3", "c4", "c5"})}
    # paid in the 14 days after 10 June: c1 (120, with the coupon), c4 (80), c5 (200);
    # c7's order of 28 June is after the window
    window = {"c1": 120.0, "c4": 80.0, "c5": 200.0}
    for grp in ("target", "holdout"):
        assert report[grp]["customers"] == len(measured[grp])
        assert report[grp]["revenue"] == pytest.approx(
            sum(window.get(c, 0.0) for c in measured[grp]))
    assert report["target"]["redeemers"] == int("c1" in eligible)
    assert report["window_complete"] is True


def test_automation_entries_are_the_same(fresh: Fresh) -> None:
    def story(ws: Workspace) -> list[dict[str, Any]]:
        for automation_id in ("winback", "unpaid_reminder", "cart_abandon", "birthday"):
            automation = enable_automation(ws, automation_id, clock=lambda: AS_OF)
            enter_automation(ws, automation, AS_OF)
        again = enter_automation(ws, automation, AS_OF)  # the same tick: nobody twice
        assert again.total() == 0
        r = ws.con.table("kq_recipients")
        rows = r.select("campaign_id", "event_key", "customer_id", "grp", "skip_reason")
        return sorted(rows.to_pyarrow().to_pylist(),
                      key=lambda x: (x["campaign_id"], x["customer_id"]))

    rows = on_both(fresh, story)
    assert [(r["campaign_id"], r["customer_id"], r["event_key"]) for r in rows] == [
        ("birthday", "c1", "birthday/2024"),
        ("cart_abandon", "c3", "cart/2024-06-29/1d"),
        ("unpaid_reminder", "c8", "o34/1d"),
        ("winback", "c6", "1m/20240531T120000"),
    ]
