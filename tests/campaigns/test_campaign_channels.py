"""Each channel on its own: list export, SMTP email, signed webhook with retries, SMS."""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import json
from urllib.parse import parse_qsl

import ibis
import pytest
from campaign_helpers import customers, use_smtp
from openpyxl import load_workbook

from kequn.campaigns import (
    CampaignSettings,
    ChannelError,
    Message,
    create_campaign,
    read_settings,
    send_campaign,
    write_settings,
)
from kequn.campaigns.channels import make_channel
from kequn.campaigns.channels.email import message_id
from kequn.campaigns.channels.sms import aliyun_signature
from kequn.campaigns.channels.webhook import verify_signature
from kequn.campaigns.settings import public_settings


def _everyone(ws):
    return ibis.memtable({"customer_id": ws.table("customers").customer_id.to_pyarrow()
                          .to_pylist()})


def _message(key="k1", contact="user1@example.com"):
    return Message(idem_key=key, campaign_id="cmp-0001", customer_id="c1", contact=contact,
                   language="zh", subject="主题", body="正文 你好", coupon_code="X-1",
                   fields={"coupon": "满200减30", "deadline": "3月15日", "name": "张三"})


# -- list export ----------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_list_export_has_one_row_per_recipient_with_its_coupon_code(make_shop, clock, tmp_path,
                                                                    fmt):
    ws = make_shop(customers=customers(25))
    c = create_campaign(ws, {"name": "海报", "coupon": {"threshold": 200, "discount": 30},
                             "channel": "export",
                             "channel_options": {"format": fmt, "directory": str(tmp_path),
                                                 "contact": "phone"}},
                        audience=_everyone(ws), clock=clock)
    report = send_campaign(ws, c.campaign_id, clock=clock)
    if fmt == "csv":
        with (tmp_path / f"{c.campaign_id}.csv").open(encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    else:
        sheet = load_workbook(tmp_path / f"{c.campaign_id}.xlsx").active
        values = list(sheet.values)
        rows = [dict(zip(values[0], r, strict=True)) for r in values[1:]]
    assert len(rows) == report.delivery.sent > 0
    codes = {r["coupon_code"] for r in rows}
    assert len(codes) == len(rows)
    assert all(code.startswith(f"{c.campaign_id}-") for code in codes)
    assert all(r["coupon"] == "满200减30" for r in rows)
    assert all("****" in r["contact"] for r in rows)  # masked unless asked to reveal


def test_export_reveals_contacts_only_when_asked(tmp_path):
    channel = make_channel("export", CampaignSettings(), {
        "directory": str(tmp_path), "contact": "phone", "reveal_contact": True}, target="t")
    channel.open()
    channel.deliver(_message(contact="13800001111"))
    channel.deliver(_message(contact="13800001111"))  # an in-doubt row sent again
    channel.close()
    rows = list(csv.DictReader((tmp_path / "t.csv").open(encoding="utf-8-sig")))
    assert [r["contact"] for r in rows] == ["13800001111"]  # de-duplicated by key


# -- email ----------------------------------------------------------------------------------

def test_email_goes_through_a_real_smtp_server(make_shop, clock, smtp_server):
    ws = make_shop(customers=customers(12))
    use_smtp(ws, smtp_server)
    c = create_campaign(ws, {"name": "邮件", "channel": "email", "holdout": 0,
                             "coupon": {"threshold": 100, "discount": 15}},
                        audience=_everyone(ws), clock=clock)
    report = send_campaign(ws, c.campaign_id, clock=clock)
    assert report.delivery.sent == 12
    assert sorted(smtp_server.recipients()) == sorted(f"user{i}@example.com" for i in range(12))
    rcpts, msg = next(m for m in smtp_server.messages if m[0] == ["user3@example.com"])
    assert str(msg["Subject"]) == "=?utf-8?b?5bCP5bqX5LiT5bGe5LyY5oOg5Yi4?="  # 小店专属优惠券
    from email.header import decode_header, make_header
    assert str(make_header(decode_header(msg["Subject"]))) == "小店专属优惠券"
    body = smtp_server.body(msg)
    assert body.startswith("顾客3您好，小店送您一张满100减15优惠券（券码 cmp-0001-")
    assert msg["Message-ID"] == message_id(f"{c.campaign_id}|{report.run_key}|c0003")


def test_smtp_refusing_a_recipient_fails_that_message_only(make_shop, clock, smtp_server):
    ws = make_shop(customers=customers(3))
    use_smtp(ws, smtp_server)
    settings = read_settings(ws)
    channel = make_channel("email", settings, {}, target="t")
    channel.open()
    with pytest.raises(ChannelError) as err:
        channel.deliver(_message(contact="bad address@@example.com"))
    assert err.value.permanent
    assert not err.value.in_doubt
    channel.deliver(_message(contact="ok@example.com"))
    channel.close()
    assert smtp_server.recipients() == ["ok@example.com"]


def test_unreachable_smtp_server_stops_the_send_and_sends_nothing(make_shop, clock):
    ws = make_shop(customers=customers(3))
    write_settings(ws, smtp_host="127.0.0.1", smtp_port=1, smtp_security="none",
                   smtp_from="a@b.cn")
    c = create_campaign(ws, {"name": "x", "channel": "email"}, audience=_everyone(ws),
                        clock=clock)
    report = send_campaign(ws, c.campaign_id, clock=clock)
    assert report.delivery.aborted
    assert "cannot connect" in report.delivery.aborted
    assert report.status == "sending"
    assert report.totals == {}


# -- webhook --------------------------------------------------------------------------------

def test_webhook_signs_and_retries_with_backoff(make_shop, clock, http_receiver):
    ws = make_shop(customers=customers(4))
    write_settings(ws, webhook_url=http_receiver.url, webhook_secret="s3cret",
                   webhook_backoff_s=0.01, webhook_max_attempts=4)
    http_receiver.fail_first = 3  # the first message needs its 4th attempt
    c = create_campaign(ws, {"name": "hook", "channel": "webhook", "holdout": 0},
                        audience=_everyone(ws), clock=clock)
    report = send_campaign(ws, c.campaign_id, clock=clock)
    assert report.delivery.sent == 4
    assert len(http_receiver.requests) == 3 + 4
    keys = [h["Idempotency-Key"] for h, _ in http_receiver.requests]
    assert keys[:4] == [keys[0]] * 4  # the retries repeat the same key
    for headers, body in http_receiver.delivered:
        assert verify_signature("s3cret", headers["X-Kequn-Timestamp"], body,
                                headers["X-Kequn-Signature"])
        assert not verify_signature("wrong", headers["X-Kequn-Timestamp"], body,
                                    headers["X-Kequn-Signature"])
    payload = http_receiver.json_bodies()[0]
    assert payload["idempotency_key"] == keys[0]
    assert "email" not in payload


def test_webhook_backoff_doubles_and_gives_up(http_receiver):
    http_receiver.fail_first = 99
    waits: list[float] = []
    settings = CampaignSettings(webhook_url=http_receiver.url, webhook_secret="k",
                                webhook_backoff_s=0.5, webhook_max_attempts=4)
    channel = make_channel("webhook", settings, {}, target="t", sleep=waits.append)
    with pytest.raises(ChannelError, match="gave up after 4 attempts") as err:
        channel.deliver(_message())
    assert waits == [0.5, 1.0, 2.0]
    assert not err.value.permanent


def test_webhook_410_means_unsubscribed_and_other_4xx_is_permanent(make_shop, clock,
                                                                   http_receiver):
    ws = make_shop(customers=customers(3))
    write_settings(ws, webhook_url=http_receiver.url, webhook_secret="k")
    http_receiver.respond = lambda body, headers: (
        (410, {}) if json.loads(body)["customer_id"] == "c0001" else
        (422, {}) if json.loads(body)["customer_id"] == "c0002" else (200, {}))
    c = create_campaign(ws, {"name": "h", "channel": "webhook", "holdout": 0},
                        audience=_everyone(ws), clock=clock)
    report = send_campaign(ws, c.campaign_id, clock=clock)
    assert (report.delivery.sent, report.delivery.failed) == (1, 1)
    assert report.delivery.skipped == {"unsubscribed": 1}
    assert ws.raw.execute("SELECT customer_id, channel FROM kq_unsubscribes").fetchall() == \
        [("c0001", "webhook")]
    assert len(http_receiver.requests) == 3  # no retries for final answers


# -- SMS ------------------------------------------------------------------------------------

def _aliyun_receiver(secret: str, accepted: list[dict[str, str]], throttle_first: int = 0):
    seen = {"n": 0}

    def respond(body: bytes, headers: dict[str, str]):
        seen["n"] += 1
        form = dict(parse_qsl(body.decode()))
        signature = form.pop("Signature")
        if signature != aliyun_signature(form, secret):
            return 400, {"Code": "SignatureDoesNotMatch"}
        if seen["n"] <= throttle_first:
            return 200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发业务流控"}
        if form["PhoneNumbers"].endswith("0002"):
            return 200, {"Code": "isv.BLACK_KEY_CONTROL_LIMIT", "Message": "黑名单管控"}
        accepted.append(form)
        return 200, {"Code": "OK", "BizId": "1", "RequestId": "r"}
    return respond


def test_sms_through_an_aliyun_style_api(make_shop, clock, http_receiver):
    ws = make_shop(customers=customers(4))
    write_settings(ws, sms_url=http_receiver.url, sms_access_key_id="LTAI", webhook_backoff_s=0,
                   sms_access_key_secret="topsecret", sms_sign_name="小店",
                   sms_template_code="SMS_1")
    forms: list[dict[str, str]] = []
    http_receiver.respond = _aliyun_receiver("topsecret", forms, throttle_first=1)
    c = create_campaign(ws, {"name": "短信", "channel": "sms", "holdout": 0,
                             "coupon": {"threshold": 99, "discount": 10}},
                        audience=_everyone(ws), clock=clock)
    report = send_campaign(ws, c.campaign_id, clock=clock)
    assert report.delivery.sent == 3
    assert report.delivery.skipped == {"unsubscribed": 1}  # the carrier's blacklist
    assert len(http_receiver.requests) == 1 + 4  # one throttled request was retried
    assert {f["PhoneNumbers"] for f in forms} == {"13800000000", "13800000001", "13800000003"}
    params = json.loads(forms[0]["TemplateParam"])
    assert params["coupon"] == "满99减10"
    assert params["code"].startswith("cmp-0001-")
    assert forms[0]["SignName"] == "小店"
    assert forms[0]["TemplateCode"] == "SMS_1"


def test_aliyun_signature_matches_the_documented_algorithm():
    params = {"AccessKeyId": "testid", "Action": "SendSms", "PhoneNumbers": "15300000001",
              "SignName": "阿里云短信测试", "Timestamp": "2017-07-12T02:42:19Z"}
    canonical = "&".join(
        f"{k}={v}" for k, v in sorted({
            "AccessKeyId": "testid", "Action": "SendSms", "PhoneNumbers": "15300000001",
            "SignName": "%E9%98%BF%E9%87%8C%E4%BA%91%E7%9F%AD%E4%BF%A1%E6%B5%8B%E8%AF%95",
            "Timestamp": "2017-07-12T02%3A42%3A19Z"}.items()))
    to_sign = "POST&%2F&" + canonical.replace("%", "%25").replace("=", "%3D").replace("&", "%26")
    expect = base64.b64encode(hmac.new(b"testsecret&", to_sign.encode(), hashlib.sha1).digest())
    assert aliyun_signature(params, "testsecret") == expect.decode()


def test_sms_without_credentials_names_what_is_missing():
    with pytest.raises(ChannelError, match="sms_access_key_id") as err:
        make_channel("sms", CampaignSettings(), {}, target="t")
    assert err.value.abort


# -- secrets --------------------------------------------------------------------------------

def test_secrets_never_print(make_shop, monkeypatch):
    ws = make_shop()
    write_settings(ws, smtp_host="mail.example.com", smtp_password="hunter2",
                   webhook_url="http://x", webhook_secret="whsec")
    monkeypatch.setenv("KEQUN_SMS_ACCESS_KEY_SECRET", "from-env")
    settings = read_settings(ws)
    shown = json.dumps(public_settings(settings))
    assert "hunter2" not in shown
    assert "whsec" not in shown
    assert "from-env" not in shown
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings)
    assert settings.secret("sms_access_key_secret") == "from-env"
    assert "whsec" not in repr(make_channel("webhook", settings, {}, target="t"))


def test_a_server_closing_the_session_fails_one_message_and_the_next_reconnects():
    from aiosmtpd.controller import Controller
    from campaign_helpers import free_port

    class Handler:
        mails = 0
        delivered: list[str] = []

        async def handle_MAIL(self, server, session, envelope, address, options):  # noqa: N802
            Handler.mails += 1
            if Handler.mails == 2:
                return "421 too many messages, closing"
            envelope.mail_from = address
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            Handler.delivered.extend(envelope.rcpt_tos)
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = CampaignSettings(smtp_host="127.0.0.1", smtp_port=port,
                                    smtp_security="none", smtp_from="shop@example.com")
        channel = make_channel("email", settings, {}, target="t")
        channel.open()
        channel.deliver(_message("k1", "a@example.com"))
        with pytest.raises(ChannelError, match="421") as err:
            channel.deliver(_message("k2", "b@example.com"))
        assert not err.value.permanent
        assert not err.value.in_doubt  # refused before DATA: certainly not sent
        channel.deliver(_message("k3", "c@example.com"))
        channel.close()
    finally:
        controller.stop()
    assert Handler.delivered == ["a@example.com", "c@example.com"]


def test_exports_land_beside_the_workspace_file_by_default(tmp_path, clock, monkeypatch):
    from campaign_helpers import insert

    import kequn

    monkeypatch.chdir(tmp_path / ".." )  # not where the workspace is
    shop = tmp_path / "shop"
    shop.mkdir()
    with kequn.open(shop / "s.duckdb") as ws:
        insert(ws, "customers", customers(3))
        c = create_campaign(ws, {"name": "x", "holdout": 0}, audience=_everyone(ws),
                            clock=clock)
        send_campaign(ws, c.campaign_id, clock=clock)
    assert (shop / "kequn-exports" / f"{c.campaign_id}.csv").exists()
