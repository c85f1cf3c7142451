"""Column mappings: TOML files and presets, bound to a file's header, and their one-line errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from ingest_helpers import load, rows

from kequn.errors import IngestError, KequnError, MappingError
from kequn.ingest.mapping import ColumnRule, preset_names, read_mapping, resolve
from kequn.schema.tables import TABLES
from kequn.workspace import Workspace

ORDERS, CUSTOMERS = TABLES["orders"], TABLES["customers"]


def _mapping(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mapping.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_presets_are_listed() -> None:
    assert preset_names() == ["canonical", "shopify", "taobao", "tianchi_userbehavior"]


def test_without_a_mapping_canonical_headers_map_to_themselves_whatever_their_case() -> None:
    mapping = read_mapping(ORDERS)
    bound = resolve(mapping, ORDERS, ["Order_ID", "customer_id", "CREATED_AT", "note"],
                    file="orders.csv")
    assert {t: c.headers for t, c in bound.columns.items()} == {
        "order_id": ("Order_ID",), "customer_id": ("customer_id",),
        "created_at": ("CREATED_AT",)}
    assert bound.ignored == ("note",)
    assert bound.extras == ()


def test_extra_customer_columns_become_custom_attributes_not_ignored_ones() -> None:
    bound = resolve(read_mapping(CUSTOMERS), CUSTOMERS, ["customer_id", "vip_note"],
                    file="customers.csv")
    assert bound.extras == ("vip_note",)
    assert bound.ignored == ()


def test_a_list_of_headers_uses_the_first_one_the_file_has() -> None:
    mapping = read_mapping(ORDERS, preset="taobao")
    bound = resolve(mapping, ORDERS, ["订单编号", "买家昵称", "下单时间", "实付金额", "总金额"],
                    file="订单.csv")
    assert bound.columns["customer_id"].headers == ("买家昵称",)
    assert bound.columns["created_at"].headers == ("下单时间",)
    assert bound.columns["amount"].headers == ("实付金额",)
    assert bound.columns["amount"].rule.transform == "money"
    assert "总金额" in bound.ignored


def test_coalesce_keeps_every_header_the_file_has_in_order() -> None:
    mapping = read_mapping(TABLES["order_items"], preset="taobao")
    bound = resolve(mapping, TABLES["order_items"], ["订单编号", "标题", "商家编码"],
                    file="宝贝.csv")
    assert bound.columns["product_id"].headers == ("商家编码", "标题")


def test_a_user_mapping_reads_columns_values_formats_and_constants(tmp_path: Path) -> None:
    path = _mapping(tmp_path, """
[orders]
[orders.columns]
order_id = "单号"
customer_id = ["会员", "买家"]
created_at = { column = "下单", format = "%d/%m/%Y %H:%M" }
amount = { column = "金额", transform = "money" }
channel = { value = "wechat" }
[orders.values.status]
"已完成" = "paid"
[orders.defaults]
promotion = "none"
""")
    mapping = read_mapping(ORDERS, mapping=path)
    assert mapping.origin == str(path)
    assert mapping.columns["customer_id"] == ColumnRule("customer_id", sources=("会员", "买家"))
    assert mapping.columns["created_at"].formats == ("%d/%m/%Y %H:%M",)
    assert mapping.columns["channel"].constant == "wechat"
    assert mapping.columns["promotion"].constant == "none"
    assert mapping.values == {"status": {"已完成": "paid"}}


def test_a_user_mapping_loads_a_file_with_its_own_headers(ws: Workspace, tmp_path: Path) -> None:
    mapping = _mapping(tmp_path, """
[orders.columns]
order_id = "单号"
customer_id = "买家"
created_at = { column = "下单", format = "%d/%m/%Y %H:%M" }
amount = { column = "金额", transform = "money" }
channel = { value = "wechat" }
status = "状态"
[orders.values.status]
"已完成" = "paid"
"已取消" = "cancelled"
""")
    data = tmp_path / "微信订单.csv"
    data.write_text("单号,买家,下单,金额,状态,备注\n"
                    'A1,u1,02/03/2024 10:00,"¥1,000.00",已完成,hi\n'
                    "A2,u2,13/03/2024 09:30,5元,已取消,\n", encoding="utf-8")
    report = load(ws, "orders", data, mapping=mapping)
    assert report.files[0].ignored_columns == ["备注"]
    assert rows(ws, "orders", "order_id", "customer_id", "created_at", "amount", "status",
                "channel") == [
        {"order_id": "A1", "customer_id": "u1", "created_at": dt.datetime(2024, 3, 2, 10),
         "amount": 1000.0, "status": "paid", "channel": "wechat"},
        {"order_id": "A2", "customer_id": "u2", "created_at": dt.datetime(2024, 3, 13, 9, 30),
         "amount": 5.0, "status": "cancelled", "channel": "wechat"},
    ]


MALFORMED = {
    "not-toml": ("[orders.columns\norder_id = 1\n", "is not valid toml"),
    "no-section": ('[customers.columns]\ncustomer_id = "id"\n',
                   "has no [orders] section (it has: customers)"),
    "unknown-column": ('[orders.columns]\namout = "金额"\n',
                       "orders has no column 'amout' (did you mean 'amount'?)"),
    "unknown-key": ('[orders.columns]\namount = { column = "金额", transfrom = "money" }\n',
                    "column 'amount' has unknown keys ['transfrom']"),
    "unknown-transform": ('[orders.columns]\namount = { column = "金额", transform = "cents" }\n',
                          "unknown transform 'cents'; use one of money"),
    "wrong-type": ("[orders.columns]\namount = 3\n",
                   "column 'amount' must be a header name, a list of names or a table"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_mapping_is_refused_with_one_line(tmp_path: Path, case: str) -> None:
    text, words = MALFORMED[case]
    with pytest.raises(MappingError) as info:
        read_mapping(ORDERS, mapping=_mapping(tmp_path, text))
    assert isinstance(info.value, KequnError)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert "\n" not in message
    assert words in message.lower()
    assert "mapping.toml" in message


def test_a_missing_mapping_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match=r"mapping file .*nope\.toml"):
        read_mapping(ORDERS, mapping=tmp_path / "nope.toml")


def test_a_mapping_and_a_preset_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="give --mapping or --preset, not both"):
        read_mapping(ORDERS, mapping=_mapping(tmp_path, ""), preset="taobao")


def test_an_unknown_preset_lists_the_choices() -> None:
    with pytest.raises(MappingError) as info:
        read_mapping(ORDERS, preset="shopfy")
    assert str(info.value) == ("unknown preset 'shopfy' (did you mean 'shopify'?); choose one of "
                               "canonical, shopify, taobao, tianchi_userbehavior")


def test_a_header_missing_a_required_column_names_it_and_the_fix() -> None:
    with pytest.raises(IngestError) as info:
        resolve(read_mapping(ORDERS), ORDERS, ["order_id", "buyer", "created"], file="o.csv")
    message = str(info.value)
    assert message.startswith("o.csv lacks required orders columns customer_id, created_at ")
    assert "(found: order_id, buyer, created)" in message
    assert "is 'created' the created_at?" in message
    assert "--mapping FILE" in message
    assert "--preset" in message


def test_a_preset_for_another_shop_names_the_columns_it_lacks() -> None:
    missing = "lacks required orders columns order_id, customer_id, created_at"
    with pytest.raises(IngestError, match=missing):
        resolve(read_mapping(ORDERS, preset="shopify"), ORDERS, ["订单编号", "买家会员名"],
                file="淘宝.csv")
