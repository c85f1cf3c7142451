"""The per-customer feature table: values at as_of, one aggregation per source, predictions."""

from __future__ import annotations

import datetime as dt

import ibis
import pytest
from segment_helpers import AS_OF, Shop, ago

from kequn import segments as sg
from kequn.storage import features as ft


@pytest.fixture
def shop(make_shop):
    s = Shop().product("p1", "shoes", 100).product("p2", "bags", 50)
    s.customer("a", birthday=dt.date(1990, 7, 1), registered_at=ago(500))
    s.order("a", 400, amount=100, products=("p1",))
    s.order("a", 100, amount=300, products=("p2",), quantity=3)
    s.order("a", 50, amount=999, status="refunded")
    s.order("a", -1, amount=555)  # after as_of
    s.event("a", "view", 3, "p1", duration_s=60.0)
    s.event("a", "view", 3.5, "p2", duration_s=20.0)
    s.event("a", "cart", 2, "p1")
    s.event("a", "order", 20)
    s.customer("b", birthday=dt.date(1990, 6, 30))
    s.customer("later", registered_at=ago(-2))
    return s.build(make_shop)


def _row(table, cid: str) -> dict:
    rows = table.filter(table.customer_id == cid).to_pyarrow().to_pylist()
    assert len(rows) == 1
    return rows[0]


def test_standard_features_at_as_of(shop) -> None:
    table = ft.customer_features(shop, AS_OF)
    a = _row(table, "a")
    assert (a["paid_orders"], a["spend"], a["aov"]) == (2, 400.0, 200.0)
    assert (a["first_paid_at"], a["last_paid_at"]) == (ago(400), ago(100))
    assert a["recency_days"] == pytest.approx(100)
    assert a["mean_gap_days"] == pytest.approx(300)
    assert (a["paid_orders_365d"], a["spend_365d"], a["paid_orders_720d"]) == (1, 300.0, 2)
    assert (a["events_30d"], a["active_days_30d"]) == (4, 3)
    assert a["intent_score_14d"] == pytest.approx(0.1 + 0.1 + 1.0)
    assert (a["top_category_viewed"], a["top_category_viewed_share"]) == ("shoes", 0.75)
    assert a["top_category_bought"] == "bags"
    assert a["top_category_bought_share"] == 1.0
    assert a["age"] == 33
    b = _row(table, "b")
    assert (b["paid_orders"], b["spend"], b["aov"], b["last_paid_at"]) == (0, 0, None, None)
    assert b["age"] == 34
    assert "later" not in table.customer_id.to_pyarrow().to_pylist()


def test_features_reflect_a_past_as_of(shop) -> None:
    table = ft.customer_features(shop, ago(200))
    a = _row(table, "a")
    assert (a["paid_orders"], a["spend"], a["last_paid_at"]) == (1, 100.0, ago(400))
    assert a["events_30d"] == 0


def test_every_measure_of_a_source_shares_one_aggregation(shop) -> None:
    rule = ("paid_orders(last: 720d) = 1 AND spend(last: 365d) > 10 AND aov > 1 "
            "AND last_paid_at > -180d AND mean_gap_days(last: 90d) < 3 "
            "AND events(cart, last: 10d) > 0 AND intent_score(last: 14d) > 1 "
            "AND active_days(last: 30d) > 2")
    sql = sg.sql(shop, rule, as_of=AS_OF)
    assert sql.count('FROM "orders"') == 1
    assert sql.count('FROM "events"') == 1


@pytest.mark.slow
def test_a_prepared_evaluator_reads_the_sources_once_for_all_built_in_groups(shop) -> None:
    ids = [s.id for s in sg.list_segments(shop)]
    with sg.Evaluator(shop, AS_OF) as ev:
        ev.prepare(ids)
        kept = ev._table
        assert kept is not None
        plain = [i for i in ids if not sg.get_segment(shop, i).is_family]
        for seg_id in plain:
            expr = ev.evaluate(seg_id)
            # Segments built on the kept table read no shop table except through sequences.
            sql = str(ibis.to_sql(expr))
            if "THEN" not in sg.get_segment(shop, seg_id).text:
                assert 'FROM "orders"' not in sql, seg_id
        direct = {i: sg.count(shop, i, as_of=AS_OF) for i in plain}
        assert {i: ev.count(i) for i in plain} == direct


def test_predictions_are_joined_when_present(shop) -> None:
    shop.raw.execute("INSERT INTO kq_predictions (customer_id, as_of, model, p_alive, clv, "
                     "churn_risk) VALUES ('a', ?, 'bgnbd', 0.8, 123.0, 'low')", [ago(1)])
    a = _row(ft.customer_features(shop, AS_OF), "a")
    assert (a["p_alive"], a["clv"], a["churn_risk"], a["prediction_model"]) == (
        0.8, 123.0, "low", "bgnbd")
    assert _row(ft.customer_features(shop, ago(2)), "a")["p_alive"] is None
    assert sg.count(shop, "churn_risk = 'low'", as_of=AS_OF) == 1


def _lines(table: ibis.Table) -> list[tuple]:
    cols = ["order_id", "customer_id", "paid_at", "product_id", "quantity", "days_since_paid"]
    return sorted(tuple(r.values()) for r in table.select(*cols).to_pyarrow().to_pylist())


def test_an_earlier_dates_paid_lines_come_from_the_later_dates_kept_lines(shop) -> None:
    later, earlier = AS_OF + dt.timedelta(days=2), ago(120)
    scope = ft.Scope(shop)
    with scope.keeping():
        kept_later = _lines(ft.item_rows(scope, later))
        kept_earlier = _lines(ft.item_rows(scope, earlier, products=False))
        assert len(scope._kept) == 1  # one join of orders to their lines, not two
    assert kept_later == _lines(ft.item_rows(shop, later))
    assert kept_earlier == _lines(ft.item_rows(shop, earlier))
    assert [r[0] for r in kept_earlier] == ["o1"]  # paid 400 days ago; the others later


def test_nested_keeping_blocks_keep_row_sets_until_the_outermost_ends(shop) -> None:
    scope = ft.Scope(shop)
    with scope.keeping():
        with scope.keeping():
            ft.item_rows(scope, AS_OF)
        assert scope.keeps
        assert len(scope._kept) == 1
    assert not scope.keeps
