"""The server's parts on their own: the workspace gate, the result cache, language choice,
masking of free text."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from kequn.api.cache import ResultCache, data_version
from kequn.api.gate import WorkspaceGate
from kequn.api.privacy import mask_text
from kequn.dashboard.i18n import choose, from_accept_language


def test_readers_share_the_workspace_and_a_writer_waits_for_them(ws_path: Path):
    gate = WorkspaceGate(ws_path)
    events: list[str] = []
    with gate.open() as first, gate.open() as second:
        assert first.table("customers").count().to_pyarrow().as_py() == 120
        assert second.table("customers").count().to_pyarrow().as_py() == 120

        def write() -> None:
            with gate.open(write=True) as ws:
                events.append("write")
                ws.set(small_cell_k=5)

        writer = threading.Thread(target=write)
        writer.start()
        time.sleep(0.3)
        events.append("readers done")
    writer.join(10)
    assert events == ["readers done", "write"]
    with gate.open() as ws:
        assert ws.settings.small_cell_k == 5


def test_the_cache_computes_once_per_key_even_when_asked_at_once():
    cache = ResultCache()
    calls: list[int] = []

    def slow() -> int:
        calls.append(1)
        time.sleep(0.2)
        return 42

    threads = [threading.Thread(target=cache.get_or_compute, args=("k", slow))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.get("k") == (True, 42)
    assert len(calls) == 1


def test_the_cache_keeps_only_the_newest_entries():
    cache = ResultCache(max_entries=2)
    for key in "abc":
        cache.put(key, key)
    assert cache.get("a") == (False, None)
    assert len(cache) == 2


def test_the_data_version_changes_with_settings_and_segments(ws_path: Path):
    import kequn
    from kequn import segments as sg

    with kequn.open(ws_path) as ws:
        before = data_version(ws)
        assert data_version(ws) == before
        ws.set(small_cell_k=10)
        after_setting = data_version(ws)
        sg.save_segment(ws, "vip", "member_level = 'V5'")
        assert len({before, after_setting, data_version(ws)}) == 3


@pytest.mark.parametrize(("header", "lang"), [
    ("en-US,en;q=0.9,zh-CN;q=0.8", "en"), ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
    ("fr-FR,en;q=0.5", "en"), ("fr-FR", "zh"), (None, "zh"), ("en;q=0.2,zh;q=0.9", "zh"),
])
def test_language_follows_accept_language(header, lang):
    assert from_accept_language(header) == lang


def test_an_explicit_language_beats_the_cookie_and_the_browser():
    assert choose("en", "zh", "zh-CN") == "en"
    assert choose(None, "en", "zh-CN") == "en"
    assert choose("xx", None, "en") == "en"


def test_free_text_masks_phones_and_emails():
    assert mask_text("c1,13812341234,zhang@example.com") == "c1,138****1234,z***@example.com"
    assert mask_text("order 2024-03-01 amount 12") == "order 2024-03-01 amount 12"
    assert mask_text(None) is None
