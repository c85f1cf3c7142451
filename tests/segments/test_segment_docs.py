"""Every rule shown in docs/segments.md parses, round-trips and runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from segment_helpers import AS_OF, ago

from kequn import segments as sg

DOC = Path(__file__).parents[2] / "docs" / "segments.md"
RULES = re.findall(r"```rule\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_the_documentation_shows_rules() -> None:
    assert len(RULES) >= 20


@pytest.mark.parametrize("text", RULES, ids=[r.strip().splitlines()[-1][:40] for r in RULES])
def test_documented_rule_runs(make_shop, text: str) -> None:
    ws = make_shop(customers=[{"customer_id": "c"}])
    ws.raw.execute("ALTER TABLE customers ADD COLUMN wechat_group VARCHAR")
    ws.raw.execute("INSERT INTO kq_predictions (customer_id, as_of, model, p_alive) "
                   "VALUES ('c', ?, 'bgnbd', 0.1)", [ago(1)])
    rule = sg.parse(text)
    assert sg.parse(sg.to_text(rule)) == rule
    assert sg.from_json(sg.to_json(rule)) == rule
    assert sg.count(ws, text, as_of=AS_OF) >= 0
