"""Named segments: the shipped library, saved segments, overrides, deletion, snapshots."""

from __future__ import annotations

import json

import pytest
from segment_helpers import AS_OF, Shop, ago

from kequn import segments as sg
from kequn.errors import CompileError, KequnError, NotFoundError, RuleSyntaxError
from kequn.segments.registry import SegmentIdError

SPEC_IDS = [
    "interest", "new_customers", "repurchase_due", "registered_no_cart", "cart_no_order",
    "order_unpaid", "one_order_only", "favoriters", "active", "sleeping", "pre_churn",
    "churned", "monthly_buyers", "quarterly_buyers", "half_yearly_buyers", "vip_pyramid",
    "rfm_8", "light_buyers", "heavy_buyers", "new_arrival_fans", "price_sensitive",
    "campaign_buyers", "high_end", "category_fans", "price_band", "holiday_shoppers",
    "intent_strong", "intent_medium", "intent_weak", "winback_1m", "winback_3m", "winback_6m",
    "member_v0", "member_v1_v3", "member_v4_plus",
]


def test_library_has_every_spec_group_with_chinese_and_english_names() -> None:
    library = sg.builtin_segments()
    assert set(SPEC_IDS) <= set(library)
    for seg in library.values():
        assert seg.name_zh, seg.id
        assert seg.name_en, seg.id
        assert sg.parse(seg.text) == seg.rule
        for label in seg.label_names:
            assert label in seg.labels, (seg.id, label)
    assert library["vip_pyramid"].labels["supreme"] == ("至尊VIP", "Supreme VIP")


def test_every_built_in_group_compiles_and_counts_on_an_empty_shop(make_shop) -> None:
    ws = make_shop()
    with sg.Evaluator(ws, AS_OF) as ev:
        for seg_id in sg.builtin_segments():
            assert ev.count(seg_id) == 0, seg_id


def test_save_list_show_and_delete(make_shop) -> None:
    ws = make_shop()
    saved = sg.save_segment(ws, "big_spenders", "spend(last: 365d) >= 1000",
                            name_zh="高消费", name_en="Big spenders")
    assert saved.origin == "saved"
    assert saved.text == "spend(last: 365d) >= 1000"
    ids = [s.id for s in sg.list_segments(ws)]
    assert ids[-1] == "big_spenders"
    assert ids[0] == "interest"
    stored = sg.get_segment(ws, "big_spenders").to_dict()
    assert stored["name_zh"] == "高消费"
    assert sg.from_json(stored["json"]) == saved.rule
    with pytest.raises(SegmentIdError, match="exists"):
        sg.save_segment(ws, "big_spenders", "spend > 1")
    sg.save_segment(ws, "big_spenders", "spend > 1", replace=True)
    assert sg.get_segment(ws, "big_spenders").text == "spend > 1"
    sg.delete_segment(ws, "big_spenders")
    with pytest.raises(NotFoundError, match="no segment 'big_spenders'"):
        sg.get_segment(ws, "big_spenders")


def test_a_segment_can_be_saved_from_its_json_form(make_shop) -> None:
    ws = make_shop()
    obj = sg.to_json(sg.parse("member_level = 'V4'"))
    seg = sg.save_segment(ws, "v4", obj)
    assert seg.rule == sg.parse("member_level = 'V4'")
    assert sg.save_segment(ws, "v4b", json.dumps(obj)).rule == seg.rule


@pytest.mark.parametrize(("seg_id", "text", "error"), [
    ("Bad-Id", "spend > 1", SegmentIdError),
    ("ok", "spend >", RuleSyntaxError),
    ("ok", "segment(nowhere)", NotFoundError),
    ("ok", "city_tier = 'x'", CompileError),
])
def test_saving_checks_the_id_and_the_rule(make_shop, seg_id: str, text: str,
                                           error: type[KequnError]) -> None:
    ws = make_shop()
    with pytest.raises(error):
        sg.save_segment(ws, seg_id, text)
    assert [s.id for s in sg.list_segments(ws) if s.origin == "saved"] == []


def test_saving_a_built_in_id_overrides_it_and_deleting_restores_it(make_shop) -> None:
    s = Shop()
    s.order("c", 100)
    ws = s.build(make_shop)
    assert sg.count(ws, "active", as_of=AS_OF) == 0
    with pytest.raises(SegmentIdError, match="built-in segment"):
        sg.save_segment(ws, "active", "last_paid_at > -120d")
    sg.save_segment(ws, "active", "last_paid_at > -120d", replace=True)
    assert sg.get_segment(ws, "active").overrides_builtin
    assert sg.count(ws, "active", as_of=AS_OF) == 1
    assert sg.count(ws, "lifecycle.active", as_of=AS_OF) == 1  # the family uses it too
    sg.delete_segment(ws, "active")
    assert sg.count(ws, "active", as_of=AS_OF) == 0
    with pytest.raises(SegmentIdError, match="built in"):
        sg.delete_segment(ws, "active")


def test_deleting_a_segment_others_use_needs_force(make_shop) -> None:
    ws = make_shop()
    sg.save_segment(ws, "base", "spend > 1")
    sg.save_segment(ws, "uses_base", "segment(base) AND city_tier = 1")
    with pytest.raises(CompileError, match="used by uses_base"):
        sg.delete_segment(ws, "base")
    sg.delete_segment(ws, "base", force=True)
    with pytest.raises(NotFoundError):
        sg.count(ws, "uses_base", as_of=AS_OF)


def test_snapshots_record_size_and_who_entered_and_left(make_shop) -> None:
    s = Shop()
    s.order("early", 100)
    s.order("late", 10)
    s.order("lapsed", 200)
    ws = s.build(make_shop)
    sg.save_segment(ws, "recent", "last_paid_at > -90d")
    sg.save_segment(ws, "empty", "spend > 1000000")
    first = sg.take_snapshots(ws, as_of=ago(50))
    assert sorted((x.segment_id, x.members) for x in first) == [("empty", 0), ("recent", 1)]
    sg.take_snapshots(ws, as_of=AS_OF)
    again = sg.take_snapshots(ws, ["recent"], as_of=AS_OF)  # same as_of: replaces, no duplicate
    history = sg.segment_history(ws, "recent")
    assert [(h.as_of, h.members) for h in history] == [(ago(50), 1), (AS_OF, 1)]
    assert history[-1].snapshot_id == again[0].snapshot_id
    changes = sg.snapshot_changes(ws, "recent")
    assert (changes.entered, changes.left) == (["late"], ["early"])
    assert [h.members for h in sg.segment_history(ws, "empty")] == [0, 0]


def test_family_snapshots_track_label_changes(make_shop) -> None:
    s = Shop()
    s.order("c", 60)
    ws = s.build(make_shop)
    sg.take_snapshots(ws, ["lifecycle"], as_of=ago(0))
    sg.take_snapshots(ws, ["lifecycle"], as_of=ago(-40))
    changes = sg.snapshot_changes(ws, "lifecycle")
    assert changes.moved == [("c", "active", "sleeping")]
    assert changes.entered == []
    assert changes.left == []


def test_history_needs_two_snapshots(make_shop) -> None:
    ws = make_shop()
    sg.take_snapshots(ws, ["active"], as_of=AS_OF)
    with pytest.raises(NotFoundError, match="1 snapshot"):
        sg.snapshot_changes(ws, "active")
    with pytest.raises(NotFoundError, match="no snapshot '2020-01-01'"):
        sg.snapshot_changes(ws, "active", "2020-01-01", "2024-06-30")
