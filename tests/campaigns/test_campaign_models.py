"""A campaign's definition: coupon rules of thumb (seed 001), holdout, templates, schedule."""

from __future__ import annotations

import datetime as dt

import pytest

from kequn.campaigns import CampaignSpec, Coupon, Schedule, Template
from kequn.campaigns.messages import coupon_label, mask_email, mask_phone, render
from kequn.campaigns.models import parse_duration


def test_coupon_below_1000_warns_because_the_platform_issues_at_least_1000():
    coupon = Coupon(threshold=200, discount=30, validity_days=10, quantity=500)
    assert any("below 1000" in w for w in coupon.warnings())
    assert Coupon(threshold=200, discount=30, quantity=1000).warnings() == []


def test_coupon_quantity_defaults_to_one_per_recipient_when_counting_the_warning():
    coupon = Coupon(threshold=200, discount=30)
    assert any("999" in w for w in coupon.warnings(recipients=999))
    assert coupon.warnings(recipients=5000) == []


@pytest.mark.parametrize(("days", "warns"), [(6, True), (7, False), (15, False), (16, True)])
def test_coupon_validity_outside_7_to_15_days_warns(days, warns):
    coupon = Coupon(threshold=100, discount=10, validity_days=days, quantity=2000)
    assert any("7–15" in w for w in coupon.warnings()) is warns


def test_fewer_coupons_than_recipients_warns():
    coupon = Coupon(threshold=100, discount=10, quantity=1500)
    assert any("1500 coupons for 2000" in w for w in coupon.warnings(recipients=2000))


def test_a_discount_not_below_its_threshold_is_refused():
    with pytest.raises(ValueError, match="not below its threshold"):
        Coupon(threshold=30, discount=30)
    assert Coupon(threshold=0, discount=5).discount == 5  # 无门槛


def test_holdout_defaults_to_ten_percent_and_zero_warns_that_nothing_can_be_measured():
    assert CampaignSpec(name="a", segment="s").holdout == 0.1
    spec = CampaignSpec(name="a", segment="s", holdout=0)
    assert any("nothing this campaign does can be measured" in w for w in spec.warnings())
    with pytest.raises(ValueError, match="less than or equal to 0.5"):
        CampaignSpec(name="a", segment="s", holdout=0.8)


def test_template_with_an_unknown_field_fails_when_the_campaign_is_defined():
    with pytest.raises(ValueError, match=r"unknown field \{nmae\}"):
        Template(zh="{nmae}您好")
    with pytest.raises(ValueError, match="unknown field"):
        Template(en="{name.__class__}")


def test_templates_render_in_both_languages_with_coupon_and_deadline():
    t = Template()
    fields = {"name": "张三", "shop": "小店", "coupon": coupon_label(200, 30, "zh"),
              "code": "K-1", "deadline": "3月15日", "unsubscribe": ""}
    expect = "张三您好，小店送您一张满200减30优惠券（券码 K-1），3月15日前有效。"
    assert render(t.body("zh"), fields) == expect
    en = render(t.body("en"), {**fields, "coupon": coupon_label(200, 30, "en")})
    assert en.startswith("Hi 张三, 小店 sends you a coupon: 30 off orders of 200 or more")
    assert coupon_label(0, 5, "zh") == "无门槛减5"


def test_schedules_now_at_and_every():
    created = dt.datetime(2024, 3, 1, 9)
    assert Schedule().first_run(created) is None
    at = Schedule(kind="at", at=dt.datetime(2024, 3, 2, 10))
    assert at.first_run(created) == dt.datetime(2024, 3, 2, 10)
    assert at.after(dt.datetime(2024, 3, 2, 10), created) is None
    weekly = Schedule(kind="every", every="7d", at=dt.datetime(2024, 3, 2, 10))
    assert weekly.after(dt.datetime(2024, 3, 2, 10), dt.datetime(2024, 3, 2, 10)) == \
        dt.datetime(2024, 3, 9, 10)
    # a scheduler that was down for three weeks fires once, not three times
    assert weekly.after(dt.datetime(2024, 3, 2, 10), dt.datetime(2024, 3, 25)) == \
        dt.datetime(2024, 3, 30, 10)
    with pytest.raises(ValueError, match="needs a time"):
        Schedule(kind="at")


def test_durations():
    assert parse_duration("5m") == dt.timedelta(minutes=5)
    assert parse_duration("7d") == dt.timedelta(days=7)
    with pytest.raises(ValueError, match="5 minutes"):
        parse_duration("5 minutes")


def test_personal_data_is_masked():
    assert mask_email("alice@example.com") == "a***@example.com"
    assert mask_phone("13812345678") == "138****5678"
