"""Each shipped preset loads a small realistic export (tests/fixtures/ingest) to exact values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from ingest_helpers import FIXTURES, counts, load, quarantined, rows

from kequn.schema.tables import TABLES
from kequn.workspace import Workspace

TAOBAO_ORDERS = FIXTURES / "taobao_orders_gb18030.csv"
TAOBAO_ITEMS = FIXTURES / "taobao_items.csv"
SHOPIFY = FIXTURES / "shopify_orders_export.csv"
TIANCHI = FIXTURES / "tianchi_userbehavior.csv"

T = dt.datetime
ORDER_COLUMNS = ("order_id", "customer_id", "created_at", "paid_at", "status", "amount",
                 "discount", "coupon_id", "channel")


def _counts(read: int, *, inserted: int = 0, unchanged: int = 0, merged: int = 0,
            updated: int = 0, quarantined: int = 0) -> dict[str, int]:
    return {"read": read, "stored": inserted + unchanged + merged, "inserted": inserted,
            "unchanged": unchanged, "merged": merged, "updated": updated,
            "quarantined": quarantined}


# -- Taobao / Tmall 千牛 exports ----------------------------------------------------------------

def test_the_taobao_sample_is_a_gb18030_file_as_qianniu_writes_it() -> None:
    data = TAOBAO_ORDERS.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert data.decode("gb18030").startswith("订单编号,买家会员名,")


def test_a_taobao_order_report_loads_as_orders(shop_ws: Workspace) -> None:
    report = load(shop_ws, "orders", TAOBAO_ORDERS, preset="taobao")
    assert counts(report) == _counts(5, inserted=5)
    assert report.customers_added == 3
    mobile = "手机订单"
    assert rows(shop_ws, "orders", *ORDER_COLUMNS) == [
        {"order_id": "3081234567890123456", "customer_id": "tb_小明2020",
         "created_at": T(2024, 3, 1, 10, 15, 32), "paid_at": T(2024, 3, 1, 10, 16, 5),
         "status": "paid", "amount": 1299.0, "discount": None, "coupon_id": None,
         "channel": mobile},
        {"order_id": "3081234567890123457", "customer_id": "lily_购物",
         "created_at": T(2024, 3, 2, 20, 1), "paid_at": None, "status": "cancelled",
         "amount": 89.9, "discount": None, "coupon_id": None, "channel": None},
        {"order_id": "3081234567890123458", "customer_id": "tb_小明2020",
         "created_at": T(2024, 3, 5, 9), "paid_at": None, "status": "created",
         "amount": 59.0, "discount": None, "coupon_id": None, "channel": mobile},
        {"order_id": "3081234567890123459", "customer_id": "lily_购物",
         "created_at": T(2024, 3, 6, 21, 30), "paid_at": T(2024, 3, 6, 21, 31, 10),
         "status": "paid", "amount": 2088.5, "discount": None, "coupon_id": None,
         "channel": mobile},
        {"order_id": "3081234567890123460", "customer_id": "张三的店铺控",
         "created_at": T(2024, 3, 7, 8, 5), "paid_at": T(2024, 3, 7, 8, 6),
         "status": "refunded", "amount": 138.0, "discount": None, "coupon_id": None,
         "channel": None},
    ]
    assert rows(shop_ws, "customers", "customer_id") == [
        {"customer_id": "lily_购物"}, {"customer_id": "tb_小明2020"},
        {"customer_id": "张三的店铺控"}]


TAOBAO_BUYERS = [
    # 联系手机 is empty on lily's first order: the first non-empty value (her second order) wins
    {"customer_id": "lily_购物", "name": "李丽", "phone": "13900000002",
     "address": "上海 上海市 浦东新区 世纪大道1号"},
    # her later order went to 王先生 at another address: the first order's values win
    {"customer_id": "tb_小明2020", "name": "王小明", "phone": "13800000001",
     "address": "浙江省 杭州市 西湖区 文三路100号"},
    {"customer_id": "张三的店铺控", "name": "张三", "phone": "13700000003",
     "address": "北京 北京市 朝阳区 建国路3号"},
]

def test_a_taobao_order_report_loads_as_customers_one_per_buyer(shop_ws: Workspace) -> None:
    report = load(shop_ws, "customers", TAOBAO_ORDERS, preset="taobao")
    assert counts(report) == _counts(5, inserted=3, merged=2)
    assert rows(shop_ws, "customers", "customer_id", "name", "phone", "address") == TAOBAO_BUYERS


def test_taobao_buyers_loaded_after_their_orders_fill_in_the_bare_customers(
        shop_ws: Workspace) -> None:
    load(shop_ws, "orders", TAOBAO_ORDERS, preset="taobao")
    report = load(shop_ws, "customers", TAOBAO_ORDERS, preset="taobao")
    assert counts(report) == _counts(5, merged=2, updated=3)
    assert rows(shop_ws, "customers", "customer_id", "name", "phone", "address") == TAOBAO_BUYERS


def test_a_taobao_order_report_adds_no_order_columns_to_customers(shop_ws: Workspace) -> None:
    # 订单编号, 买家实际支付金额, 物流单号 ... describe one order, not the buyer; collapsed
    # per buyer they would mix values of different orders into one customer row.
    load(shop_ws, "customers", TAOBAO_ORDERS, preset="taobao")
    assert shop_ws.table("customers").columns == TABLES["customers"].column_names


def test_a_taobao_item_report_loads_as_order_items(shop_ws: Workspace) -> None:
    load(shop_ws, "orders", TAOBAO_ORDERS, preset="taobao")
    report = load(shop_ws, "order_items", TAOBAO_ITEMS, preset="taobao")
    assert counts(report) == _counts(6, inserted=5, quarantined=1)
    assert rows(shop_ws, "order_items") == [
        {"order_id": "3081234567890123456", "product_id": "GL-002", "quantity": 2,
         "unit_price": 200.0},
        {"order_id": "3081234567890123456", "product_id": "SC-001", "quantity": 1,
         "unit_price": 899.0},
        # no 商家编码: the next non-empty of 外部系统编号, ..., 标题 names the product
        {"order_id": "3081234567890123457", "product_id": "纯棉T恤 白色 L", "quantity": 1,
         "unit_price": 89.9},
        {"order_id": "3081234567890123458", "product_id": "SOCK-5", "quantity": 1,
         "unit_price": 59.0},
        {"order_id": "3081234567890123459", "product_id": "DR-100", "quantity": 1,
         "unit_price": 2088.5},
    ]
    assert quarantined(shop_ws) == [
        ("taobao_items.csv", 7, "order_id",
         "unknown order_id '3081234567890199999': load its orders first")]


def test_a_taobao_item_report_loads_as_products(shop_ws: Workspace) -> None:
    report = load(shop_ws, "products", TAOBAO_ITEMS, preset="taobao")
    assert counts(report) == _counts(6, inserted=6)
    assert rows(shop_ws, "products", "product_id", "name", "price") == [
        {"product_id": "CUP-500", "name": "保温杯 500ml", "price": 128.0},
        {"product_id": "DR-100", "name": "真丝连衣裙", "price": 2088.5},
        {"product_id": "GL-002", "name": "触屏手套", "price": 200.0},
        {"product_id": "SC-001", "name": "羊绒围巾 女 冬季加厚", "price": 899.0},
        {"product_id": "SOCK-5", "name": "加绒袜子 5双装", "price": 59.0},
        {"product_id": "纯棉T恤 白色 L", "name": "纯棉T恤 白色 L", "price": 89.9},
    ]


# -- Shopify orders_export.csv ------------------------------------------------------------------

def test_a_shopify_export_loads_as_orders_one_per_order(shop_ws: Workspace) -> None:
    report = load(shop_ws, "orders", SHOPIFY, preset="shopify")
    # #1001 has two line items: its second row merges into the first (order fields are there)
    assert counts(report) == _counts(5, inserted=4, merged=1)
    assert rows(shop_ws, "orders", *ORDER_COLUMNS) == [
        {"order_id": "#1001", "customer_id": "alice@example.com",
         "created_at": T(2024, 3, 1, 12, 34, 56), "paid_at": T(2024, 3, 1, 12, 40),
         "status": "paid", "amount": 59.0, "discount": 0.0, "coupon_id": None,
         "channel": "web"},
        # "2024-03-02 08:00:00 -0500" is 21:00 in Shanghai
        {"order_id": "#1002", "customer_id": "bob@example.com",
         "created_at": T(2024, 3, 2, 21), "paid_at": None, "status": "created",
         "amount": 35.0, "discount": 3.5, "coupon_id": "SPRING10", "channel": "web"},
        {"order_id": "#1003", "customer_id": "alice@example.com",
         "created_at": T(2024, 3, 5, 9, 59), "paid_at": T(2024, 3, 5, 10),
         "status": "refunded", "amount": 1020.0, "discount": 0.0, "coupon_id": None,
         "channel": "pos"},
        # no e-mail: the billing name identifies the buyer; "+0000" 23:30 is 07:30 next day
        {"order_id": "#1004", "customer_id": "Chen Wei", "created_at": T(2024, 3, 7, 7, 30),
         "paid_at": None, "status": "cancelled", "amount": 20.0, "discount": None,
         "coupon_id": None, "channel": "web"},
    ]
    assert report.customers_added == 3


def test_a_shopify_export_loads_as_order_items_one_per_line_item(shop_ws: Workspace) -> None:
    load(shop_ws, "orders", SHOPIFY, preset="shopify")
    report = load(shop_ws, "order_items", SHOPIFY, preset="shopify")
    assert counts(report) == _counts(5, inserted=5)
    assert rows(shop_ws, "order_items") == [
        {"order_id": "#1001", "product_id": "MUG-01", "quantity": 1, "unit_price": 20.0},
        {"order_id": "#1001", "product_id": "TEE-WHT-M", "quantity": 2, "unit_price": 19.5},
        {"order_id": "#1002", "product_id": "Gift Card", "quantity": 1, "unit_price": 38.5},
        {"order_id": "#1003", "product_id": "COAT-1", "quantity": 1, "unit_price": 1020.0},
        {"order_id": "#1004", "product_id": "MUG-01", "quantity": 1, "unit_price": 20.0},
    ]


def test_a_shopify_export_loads_as_customers_one_per_buyer(shop_ws: Workspace) -> None:
    report = load(shop_ws, "customers", SHOPIFY, preset="shopify")
    assert counts(report) == _counts(5, inserted=3, merged=2)
    assert rows(shop_ws, "customers", "customer_id", "email", "name", "phone", "city",
                "province", "opted_out") == [
        {"customer_id": "Chen Wei", "email": None, "name": "Chen Wei", "phone": None,
         "city": "Beijing", "province": None, "opted_out": True},
        {"customer_id": "alice@example.com", "email": "alice@example.com", "name": "Alice Wang",
         "phone": "+8613800000001", "city": "Shanghai", "province": "SH", "opted_out": False},
        {"customer_id": "bob@example.com", "email": "bob@example.com", "name": "Bob Smith",
         "phone": "+16170000000", "city": "Boston", "province": "MA", "opted_out": True},
    ]


# -- Tianchi UserBehavior -----------------------------------------------------------------------

def test_a_headerless_tianchi_file_loads_as_events_in_the_shop_time_zone(
        shop_ws: Workspace) -> None:
    report = load(shop_ws, "events", TIANCHI, preset="tianchi_userbehavior")
    assert counts(report) == _counts(20, inserted=20)
    assert report.customers_added == 5
    stored = rows(shop_ws, "events", "event_time", "customer_id", "event", "product_id")
    assert stored[0] == {"event_time": T(2017, 11, 25, 0, 0), "customer_id": "1",
                         "event": "view", "product_id": "100001"}
    assert stored[-2:] == [
        {"event_time": T(2017, 11, 27, 23, 59, 59), "customer_id": "5", "event": "view",
         "product_id": "500001"},
        {"event_time": T(2017, 11, 28, 0, 0), "customer_id": "5", "event": "order",
         "product_id": "500001"},
    ]
    words = {"pv": "view", "fav": "favorite", "cart": "cart", "buy": "order"}
    shanghai = ZoneInfo("Asia/Shanghai")
    expected = []
    for line in TIANCHI.read_text().splitlines():
        user, item, _category, behavior, stamp = line.split(",")
        local = dt.datetime.fromtimestamp(int(stamp), shanghai).replace(tzinfo=None)
        expected.append({"event_time": local, "customer_id": user, "event": words[behavior],
                         "product_id": item})
    assert stored == sorted(expected, key=lambda r: (r["event_time"], r["customer_id"],
                                                     r["event"], r["product_id"]))
    assert rows(shop_ws, "customers", "customer_id") == [{"customer_id": c} for c in "12345"]


def test_the_canonical_preset_is_what_loads_without_one(ws: Workspace,
                                                        tmp_path: Path) -> None:
    path = tmp_path / "costs.csv"
    path.write_text("date,channel,cost\n2024-03-01,直通车,\"1,200.50\"\n2024-03-01,钻展,300\n",
                    encoding="utf-8")
    load(ws, "marketing_costs", path, preset="canonical")
    with_preset = rows(ws, "marketing_costs")
    load(ws, "marketing_costs", path)
    assert rows(ws, "marketing_costs") == with_preset == [
        {"date": dt.date(2024, 3, 1), "channel": "直通车", "cost": 1200.5},
        {"date": dt.date(2024, 3, 1), "channel": "钻展", "cost": 300.0},
    ]
