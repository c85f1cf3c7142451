"""Compiling rules to Ibis: attribute conditions, windows, sequences, ranks, references,
predictions, type errors, and hostile text that must stay a literal."""

from __future__ import annotations

import datetime as dt

import pytest
from segment_helpers import AS_OF, Shop, ago, members

from kequn import segments as sg
from kequn.errors import CompileError, NotFoundError, RuleSyntaxError


@pytest.fixture
def people(make_shop):
    s = Shop()
    s.customer("a", member_level="V4", city_tier=1, city="Beijing", email="a@qq.com",
               has_children=True, registered_at=dt.datetime(2024, 1, 1, 9))
    s.customer("b", member_level="V5", city_tier=3, city="Chengdu", email="b@163.com",
               has_children=False, registered_at=dt.datetime(2023, 12, 31, 23))
    s.customer("c", member_level="V1", city_tier=2, city="O'Hare", email=None,
               registered_at=dt.datetime(2024, 3, 1, 8, 30))
    s.customer("d")
    return s.build(make_shop)


@pytest.mark.parametrize(("rule", "expected"), [
    ("member_level IN ('V4','V5') AND city_tier <= 2", ["a"]),
    ("member_level NOT IN ('V4')", ["b", "c"]),
    ("member_level != 'V4'", ["b", "c"]),
    ("NOT member_level = 'V4'", ["b", "c", "d"]),
    ("city_tier BETWEEN 2 AND 3", ["b", "c"]),
    ("city_tier NOT BETWEEN 2 AND 3", ["a"]),
    ("email CONTAINS '@qq'", ["a"]),
    ("email NOT CONTAINS '@qq'", ["b"]),
    ("email IS NULL", ["c", "d"]),
    ("email IS NOT NULL", ["a", "b"]),
    ("has_children", ["a"]),
    ("has_children = FALSE", ["b"]),
    ("city = 'O''Hare'", ["c"]),
    ("registered_at >= 2024-01-01", ["a", "c"]),
    ("registered_at <= 2023-12-31", ["b"]),
    ("registered_at = 2024-03-01", ["c"]),
    ("registered_at > 2024-03-01T08:00", ["c"]),
    ("city_tier * 2 - 1 > 2", ["b", "c"]),
    ("city_tier = 1 OR city_tier = 3 AND member_level = 'V1'", ["a"]),
    ("(city_tier = 1 OR city_tier = 3) AND NOT member_level = 'V4'", ["b"]),
    ("TRUE", ["a", "b", "c", "d"]),
])
def test_attribute_conditions(people, rule: str, expected: list[str]) -> None:
    assert members(people, rule) == expected


def test_custom_attributes_are_extra_customer_columns(people) -> None:
    people.raw.execute("ALTER TABLE customers ADD COLUMN wechat_group VARCHAR")
    people.raw.execute("UPDATE customers SET wechat_group = 'A' WHERE customer_id = 'b'")
    assert members(people, "attr.wechat_group = 'A'") == ["b"]
    with pytest.raises(CompileError, match="did you mean attr.wechat_group"):
        sg.count(people, "attr.wechat_grup = 'A'", as_of=AS_OF)


@pytest.mark.parametrize(("rule", "fragment"), [
    ("city_tier = '2'", "numbers are written without quotes"),
    ("registered_at > '2024-01-01'", "write dates without quotes"),
    ("city > 3", "compares string with number"),
    ("city_tier CONTAINS 'x'", "CONTAINS tests text"),
    ("spend > 30d", "goes in last:, WITHIN or AFTER"),
    ("top_percent(city) <= 10", "ranks numbers"),
])
def test_type_errors_name_the_condition_and_the_fix(people, rule: str, fragment: str) -> None:
    with pytest.raises(CompileError, match=fragment):
        sg.count(people, rule, as_of=AS_OF)


HOSTILE = ["x'; DROP TABLE customers; --", "' OR 1=1 --", "%", "_", "\\'", "\"; SELECT 1",
           "$$; drop table orders; $$", "Robert'); DROP TABLE customers;--"]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_stays_a_literal(people, text: str) -> None:
    quoted = "'" + text.replace("'", "''") + "'"
    for rule in (f"city = {quoted}", f"city CONTAINS {quoted}", f"city IN ({quoted}, 'z')",
                 f"events({quoted}) > 0"):
        assert members(people, rule) == []
    as_json = {"type": "compare", "left": {"type": "field", "name": "city"}, "op": "=",
               "right": text}
    assert members(people, as_json) == []
    assert "customers" in people.con.list_tables()
    assert people.table("customers").count().to_pyarrow().as_py() == 4


def test_a_nul_character_in_text_is_refused_before_it_reaches_the_engine(people) -> None:
    with pytest.raises(RuleSyntaxError, match="NUL"):
        sg.count(people, "city = 'a\x00b'", as_of=AS_OF)


def test_sql_shows_the_escaped_literal(people) -> None:
    text = sg.sql(people, "city = 'x''; DROP TABLE customers; --'", as_of=AS_OF)
    assert "'x''; DROP TABLE customers; --'" in text
    assert text.lstrip().upper().startswith("SELECT")


def test_windows_from_and_to_with_relative_and_absolute_dates(make_shop) -> None:
    s = Shop()
    s.order("jan", 0, created=0)
    s.orders[-1]["paid_at"] = dt.datetime(2024, 1, 31, 23, 0)
    s.order("feb_first", 0)
    s.orders[-1]["paid_at"] = dt.datetime(2024, 2, 1, 0, 0)
    s.order("at_30", 30)
    s.order("at_29", 29.5)
    ws = s.build(make_shop)
    assert members(ws, "paid_orders(from: 2024-02-01, to: 2024-02-29) > 0") == ["feb_first"]
    assert members(ws, "paid_orders(from: 2024-01-31, to: 2024-01-31) > 0") == ["jan"]
    assert members(ws, "paid_orders(last: 30d) > 0") == ["at_29"]
    assert members(ws, "paid_orders(from: -30d) > 0") == ["at_29"]
    assert members(ws, "paid_orders(to: -30d) > 0") == ["at_30", "feb_first", "jan"]
    assert members(ws, "last_paid_at > -1m") == ["at_29"]


def test_cart_then_not_pay_within_24h_needs_the_24h_to_have_passed(make_shop) -> None:
    s = Shop()
    s.event("abandoned", "cart", 2)
    s.event("paid_in_time", "cart", 2)
    s.order("paid_in_time", 2 - 10 / 24)
    s.event("paid_late", "cart", 3)
    s.order("paid_late", 3 - 25 / 24)
    s.event("too_recent", "cart", 5 / 24)
    s.event("paid_before", "cart", 2)
    s.order("paid_before", 2.5)
    ws = s.build(make_shop)
    assert members(ws, "events(cart) THEN NOT paid_orders WITHIN 24h") == [
        "abandoned", "paid_before", "paid_late"]
    assert members(ws, "events(cart) THEN paid_orders WITHIN 24h") == ["paid_in_time"]
    assert members(ws, "events(cart) THEN paid_orders AFTER 1d") == ["paid_late"]


def test_bought_then_not_bought_again_looks_at_each_products_last_purchase(make_shop) -> None:
    s = Shop().product("tea", "drinks", 10).product("cup", "kitchen", 30)
    s.order("due", 40, products=("tea",), quantity=3)  # 40 days ago, not bought again
    s.order("rebought", 40, products=("tea",), quantity=3)
    s.order("rebought", 5, products=("tea",))
    s.order("early_big", 40, products=("tea",), quantity=3)  # the big one is not the last
    s.order("early_big", 20, products=("tea",), quantity=1)
    s.order("other_product", 40, products=("tea",))
    s.order("other_product", 5, products=("cup",))
    ws = s.build(make_shop)
    due = ("items_bought(where: days_since_paid BETWEEN 30 AND 50) "
           "THEN NOT items_bought SAME product")
    assert members(ws, due) == ["due", "other_product"]
    windowed = ("items_bought(last: 30d, where: category = 'drinks') "
                "THEN NOT items_bought SAME product")
    assert members(ws, windowed) == ["early_big", "rebought"]
    # a line's own quantity: any line with none bought after it, not only the last ones
    big = "items_bought(where: quantity >= 3) THEN NOT items_bought SAME product"
    assert members(ws, big) == ["due"]
    big_any = "items_bought(where: quantity >= 1) THEN NOT items_bought SAME product"
    assert members(ws, big_any) == ["due", "early_big", "other_product", "rebought"]


def test_stopped_and_restarted_buying(make_shop) -> None:
    s = Shop()
    s.order("stopped", 200)
    s.order("restarted", 200)
    s.order("restarted", 10)
    s.order("steady", 100)
    s.order("steady", 50)
    s.order("steady", 10)
    for days in (300, 150, 80, 10):  # the lapse was long ago; the last gap is 70 days
        s.order("restarted_earlier", days)
    ws = s.build(make_shop)
    stopped = "paid_orders > 0 AND paid_orders(last: 90d) = 0"
    restarted = "paid_orders THEN NOT paid_orders THEN paid_orders(last: 30d) AFTER 90d"
    assert members(ws, stopped) == ["stopped"]
    assert members(ws, restarted) == ["restarted"]
    lapse_any_time = "paid_orders THEN NOT paid_orders WITHIN 90d THEN paid_orders(last: 30d)"
    assert members(ws, lapse_any_time) == ["restarted", "restarted_earlier"]


def test_product_and_category_conditions(make_shop) -> None:
    s = Shop().product("s1", "shoes", 100).product("s2", "shoes", 80).product("b1", "bags", 50)
    s.event("viewed_shoes", "view", 3, "s1")
    s.event("viewed_bags", "view", 3, "b1")
    s.event("cart_then_same_category", "cart", 5, "s1")
    s.order("cart_then_same_category", 2, products=("s2",))
    s.event("cart_then_other_category", "cart", 5, "s1")
    s.order("cart_then_other_category", 2, products=("b1",))
    ws = s.build(make_shop)
    assert members(ws, "events(view, where: category = 'shoes') > 0") == ["viewed_shoes"]
    assert members(ws, "items_bought(where: category = 'bags') > 0") == [
        "cart_then_other_category"]
    assert members(ws, "events(cart) THEN items_bought SAME category") == [
        "cart_then_same_category"]
    assert members(ws, "top_category(by: purchases) = 'shoes'") == ["cart_then_same_category"]
    assert members(ws, "item_spend(where: brand IS NULL) >= 80") == [
        "cart_then_same_category"]


def test_item_conditions_read_the_order_channel_and_coupon(make_shop) -> None:
    s = Shop().product("s1", "shoes", 100)
    s.order("app_buyer", 3, products=("s1",), channel="app", coupon_id="c9")
    s.order("web_buyer", 3, products=("s1",), channel="web")
    ws = s.build(make_shop)
    rules = ("items_bought(where: channel = 'app') > 0",
             "item_spend(where: coupon_id IS NOT NULL) > 0")
    for rule in rules:
        assert members(ws, rule) == ["app_buyer"]
    with sg.Evaluator(ws, AS_OF) as ev:  # the prepared path keeps the lines once
        ev.prepare([*rules, "items_bought > 0"])
        assert [ev.count(r) for r in rules] == [1, 1]
        assert ev.count("items_bought > 0") == 2


def test_ranks_are_taken_over_known_values_and_ties_share_a_rank(make_shop) -> None:
    s = Shop()
    for cid, amount in (("a", 100), ("b", 100), ("c", 50), ("d", 10)):
        s.order(cid, 5, amount=amount)
    s.customer("no_orders")
    ws = s.build(make_shop)
    assert members(ws, "top_percent(aov) <= 50") == ["a", "b"]
    assert members(ws, "top_percent(aov) <= 25") == ["a", "b"]
    assert members(ws, "spend > median(spend)") == ["a", "b"]
    assert members(ws, "aov >= quantile(aov, 0.75)") == ["a", "b"]


def test_segment_membership_and_cycles(make_shop) -> None:
    s = Shop()
    s.order("a", 10)
    s.order("b", 100)
    ws = s.build(make_shop)
    sg.save_segment(ws, "recent_buyers", "last_paid_at > -30d")
    assert members(ws, "segment(recent_buyers) OR segment(sleeping)") == ["a", "b"]
    assert members(ws, "NOT segment(recent_buyers)") == ["b"]
    sg.save_segment(ws, "x1", "segment(recent_buyers)")
    sg.save_segment(ws, "x2", "segment(x1)")
    with pytest.raises(CompileError, match="x1 → x2 → x1"):
        sg.save_segment(ws, "x1", "segment(x2)", replace=True)
    with pytest.raises(CompileError, match="refers to itself"):
        sg.save_segment(ws, "self_ref", "segment(self_ref)")
    with pytest.raises(NotFoundError, match="did you mean 'recent_buyers'"):
        sg.count(ws, "segment(recent_buyer)", as_of=AS_OF)
    with pytest.raises(CompileError, match="has no label 'gold'"):
        sg.count(ws, "segment(vip_pyramid.gold)", as_of=AS_OF)
    with pytest.raises(CompileError, match="is not a family"):
        sg.count(ws, "segment(active.x)", as_of=AS_OF)


def test_predictions_need_a_fit_first_and_never_come_from_the_future(make_shop) -> None:
    s = Shop()
    s.order("a", 10)
    s.order("b", 10)
    ws = s.build(make_shop)
    with pytest.raises(CompileError, match="run 'kequn predict fit' first"):
        sg.count(ws, "p_alive > 0.5", as_of=AS_OF)
    rows = [("a", ago(5), "bgnbd", 0.9, 400.0), ("b", ago(5), "bgnbd", 0.2, 50.0),
            ("a", ago(-5), "bgnbd", 0.1, 1.0)]  # made after as_of: must not be used
    for cid, made, model, p_alive, clv in rows:
        ws.raw.execute("INSERT INTO kq_predictions (customer_id, as_of, model, p_alive, clv) "
                       "VALUES (?, ?, ?, ?, ?)", [cid, made, model, p_alive, clv])
    assert members(ws, "p_alive > 0.5") == ["a"]
    assert members(ws, "clv >= 100 AND segment(active)") == ["a"]
    later = sg.evaluate(ws, "p_alive < 0.5", as_of=ago(-10)).to_pyarrow().to_pylist()
    assert sorted(r["customer_id"] for r in later) == ["a", "b"]
    with pytest.raises(CompileError, match="no predictions as of"):
        sg.count(ws, "p_alive > 0.5", as_of=ago(30))


def test_evaluate_defaults_as_of_to_the_latest_data(make_shop) -> None:
    s = Shop()
    s.order("a", 10)
    s.order("b", 40)
    ws = s.build(make_shop)
    # latest data is 10 days before AS_OF, so "the last 30 days" reaches back to 40 days ago
    assert sorted(sg.evaluate(ws, "paid_orders(last: 31d) > 0", as_of=None)
                  .customer_id.to_pyarrow().to_pylist()) == ["a", "b"]


def test_customers_registered_after_as_of_are_not_yet_known(make_shop) -> None:
    s = Shop()
    s.customer("early", registered_at=ago(10), member_level="V1")
    s.customer("late", registered_at=ago(-1), member_level="V1")
    ws = s.build(make_shop)
    assert members(ws, "member_level = 'V1'") == ["early"]


def test_explain_shows_each_condition_value_and_outcome(make_shop) -> None:
    s = Shop()
    s.order("c", 720)
    s.order("c", 200)
    ws = s.build(make_shop)
    result = sg.explain(ws, "new_customers", "c", as_of=AS_OF)
    assert result.member is False
    got = [(line.depth, line.text, line.held, line.value) for line in result.lines]
    assert got == [
        (0, "AND", False, None),
        (1, "paid_orders(last: 720d) = 1", True, 1),
        (1, "last_paid_at > -180d", False, ago(200)),
    ]
    family = sg.explain(ws, "lifecycle", "c", as_of=AS_OF)
    assert family.label == "pre_churn"
    assert family.member
    assert ("pre_churn:", True) in [(line.text, line.held) for line in family.lines]
    with pytest.raises(NotFoundError, match="no customer 'zz'"):
        sg.explain(ws, "new_customers", "zz", as_of=AS_OF)


def test_explain_shows_computed_right_hand_values(make_shop) -> None:
    s = Shop()
    for cid, amount in (("a", 100), ("b", 300)):
        s.order(cid, 5, amount=amount)
    ws = s.build(make_shop)
    lines = sg.explain(ws, "spend > median(spend)", "b", as_of=AS_OF).lines
    assert [(ln.text, ln.held, ln.value) for ln in lines] == [
        ("spend > median(spend)", True, 300.0), ("  median(spend)", None, 200.0)]
