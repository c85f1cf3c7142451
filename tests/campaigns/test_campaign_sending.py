"""Exactly once: recorded before it leaves, settled after a crash, never sent twice."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import ibis
import pytest
from campaign_helpers import customers, insert

import kequn
from kequn.campaigns import (
    CampaignStateError,
    ChannelError,
    Message,
    cancel_campaign,
    create_campaign,
    get_campaign,
    recipients,
    run_tick,
    send_campaign,
)
from kequn.campaigns.service import journal_for


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs in the send loop (no commit, no outcome)."""


class FakeChannel:
    """Records deliveries; can die during the n-th delivery, before or after it 'left'."""

    name = "email"
    contact_field = "email"
    idempotent = False

    def __init__(self, inbox: list[str], die_at: int | None = None, left: bool = True,
                 abort_at: int | None = None) -> None:
        self.inbox, self.die_at, self.left, self.abort_at = inbox, die_at, left, abort_at
        self.calls = 0

    def open(self) -> None:
        pass

    def deliver(self, message: Message) -> None:
        self.calls += 1
        if self.calls == self.abort_at:
            msg = "daily quota reached"
            raise ChannelError(msg, abort=True)
        if self.calls == self.die_at:
            if self.left:
                self.inbox.append(message.customer_id)
            raise Killed
        self.inbox.append(message.customer_id)

    def close(self) -> None:
        pass


def _campaign(ws, clock, n=None, **spec):
    ids = ws.table("customers").customer_id.to_pyarrow().to_pylist()
    return create_campaign(ws, {"name": "x", "channel": "email", "holdout": 0, **spec},
                           audience=ibis.memtable({"customer_id": ids[:n]}), clock=clock)


def _statuses(ws, campaign_id):
    return dict(ws.raw.execute("SELECT status, count(*) FROM kq_sends WHERE campaign_id = ? "
                               "GROUP BY status", [campaign_id]).fetchall())


@pytest.mark.parametrize("left", [True, False], ids=["in-flight-left", "in-flight-lost"])
def test_a_send_killed_mid_batch_resumes_and_nobody_gets_two(make_shop, clock, left):
    ws = make_shop(customers=customers(50))
    c = _campaign(ws, clock)
    inbox: list[str] = []
    with pytest.raises(Killed):
        send_campaign(ws, c.campaign_id, clock=clock, batch_size=20,
                      channel=FakeChannel(inbox, die_at=27, left=left))
    assert _statuses(ws, c.campaign_id) == {"sent": 20, "pending": 20}  # batch 2 in flight
    report = send_campaign(ws, c.campaign_id, clock=clock, batch_size=20,
                           channel=FakeChannel(inbox))
    assert report.recovered == {"sent": 6, "failed": 0, "skipped": 0, "unknown": 1, "retry": 13}
    assert max(Counter(inbox).values()) == 1  # nobody twice
    assert len(inbox) == 50 - (0 if left else 1)
    assert report.status == "sent"
    assert report.totals == {"sent": 49, "unknown": 1}
    # the operator decides about the one message whose fate is unknown
    again = send_campaign(ws, c.campaign_id, clock=clock, resend_unknown=True,
                          channel=FakeChannel(inbox))
    assert again.delivery.sent == 1
    assert Counter(inbox).most_common(1)[0][1] == (2 if left else 1)
    assert len(set(inbox)) == 50


def test_a_killed_send_on_a_deduplicating_channel_resends_the_in_flight_one(make_shop, clock):
    ws = make_shop(customers=customers(10))
    c = _campaign(ws, clock, channel="webhook")
    inbox: list[str] = []
    chan = FakeChannel(inbox, die_at=4)
    chan.name, chan.contact_field, chan.idempotent = "webhook", None, True
    with pytest.raises(Killed):
        send_campaign(ws, c.campaign_id, clock=clock, channel=chan)
    done = FakeChannel(inbox)
    report = send_campaign(ws, c.campaign_id, clock=clock, channel=done)
    assert report.recovered["retry"] == 7
    assert report.recovered["unknown"] == 0
    assert report.totals == {"sent": 10}
    assert Counter(inbox)["c0003"] == 2  # same idempotency key: the receiver keeps one


def test_the_journal_survives_on_disk_and_settles_pending_sends(tmp_path, clock):
    path = tmp_path / "shop.duckdb"
    with kequn.open(path) as ws:
        insert(ws, "customers", customers(30))
        c = _campaign(ws, clock)
        inbox: list[str] = []
        with pytest.raises(Killed):
            send_campaign(ws, c.campaign_id, clock=clock, batch_size=100,
                          channel=FakeChannel(inbox, die_at=12))
        journal = journal_for(ws).path
        assert journal is not None
        assert journal.exists()
        kinds = Counter(line.split("\t")[0] for line in journal.read_text().splitlines())
        assert kinds == {"try": 12, "ok": 11}
    with kequn.open(path) as ws:  # a new process
        report = send_campaign(ws, c.campaign_id, clock=clock, channel=FakeChannel(inbox))
        sent_at = ws.raw.execute("SELECT min(sent_at) FROM kq_sends").fetchone()[0]
    assert report.recovered["sent"] == 11
    assert report.recovered["unknown"] == 1
    assert len(inbox) == 30
    assert max(Counter(inbox).values()) == 1
    assert sent_at == clock()
    assert not journal.exists()


def test_a_channel_that_cannot_send_stops_and_the_rest_goes_later(make_shop, clock):
    ws = make_shop(customers=customers(30))
    c = _campaign(ws, clock)
    inbox: list[str] = []
    first = send_campaign(ws, c.campaign_id, clock=clock, batch_size=10,
                          channel=FakeChannel(inbox, abort_at=15))
    assert first.delivery.aborted == "daily quota reached"
    assert (first.delivery.sent, first.delivery.remaining, first.status) == (14, 16, "sending")
    later = run_tick(ws, clock=clock)  # kequn run picks the unfinished run up...
    assert later.campaigns
    assert later.campaigns[0]["delivery"]["aborted"]
    second = send_campaign(ws, c.campaign_id, clock=clock, channel=FakeChannel(inbox))
    assert second.delivery.sent == 16
    assert len(set(inbox)) == len(inbox) == 30


def test_sending_again_after_it_is_done_sends_nothing(make_shop, clock):
    ws = make_shop(customers=customers(5))
    c = _campaign(ws, clock)
    inbox: list[str] = []
    send_campaign(ws, c.campaign_id, clock=clock, channel=FakeChannel(inbox))
    again = send_campaign(ws, c.campaign_id, clock=clock, channel=FakeChannel(inbox))
    assert again.delivery.sent == 0
    assert len(inbox) == 5
    assert again.frozen is None


def test_a_cancelled_campaign_sends_nothing_more(make_shop, clock):
    ws = make_shop(customers=customers(30))
    c = _campaign(ws, clock)
    inbox: list[str] = []
    send_campaign(ws, c.campaign_id, clock=clock, batch_size=10,
                  channel=FakeChannel(inbox, abort_at=5))
    cancel_campaign(ws, c.campaign_id, clock=clock)
    with pytest.raises(CampaignStateError, match="cancelled"):
        send_campaign(ws, c.campaign_id, clock=clock, channel=FakeChannel(inbox))
    assert run_tick(ws, clock=clock).campaigns == []
    assert len(inbox) == 4


def test_a_campaign_scheduled_at_a_time_is_sent_by_the_tick_when_due(make_shop, clock,
                                                                     tmp_path):
    ws = make_shop(customers=customers(8))
    at = clock() + dt.timedelta(hours=3)
    c = _campaign(ws, clock, channel="export", channel_options={"directory": str(tmp_path)},
                  schedule={"kind": "at", "at": at})
    assert c.status == "scheduled"
    assert c.next_run_at == at
    with pytest.raises(CampaignStateError, match="--now"):
        send_campaign(ws, c.campaign_id, clock=clock)
    assert run_tick(ws, clock=clock).campaigns == []
    clock.advance(hours=3)
    tick = run_tick(ws, clock=clock)
    assert [r["delivery"]["sent"] for r in tick.campaigns] == [8]
    assert get_campaign(ws, c.campaign_id).status == "sent"


def test_a_recurring_campaign_freezes_a_new_list_each_period(make_shop, clock, tmp_path):
    ws = make_shop(customers=customers(6))
    c = _campaign(ws, clock, channel="export", channel_options={"directory": str(tmp_path)},
                  schedule={"kind": "every", "every": "7d"})
    assert run_tick(ws, clock=clock).sent() == 6
    clock.advance(days=1)
    assert run_tick(ws, clock=clock).sent() == 0
    clock.advance(days=6)
    assert run_tick(ws, clock=clock).sent() == 6
    runs = recipients(ws, c.campaign_id).event_key.to_pyarrow().to_pylist()
    assert len(set(runs)) == 2
    assert get_campaign(ws, c.campaign_id).status == "scheduled"
