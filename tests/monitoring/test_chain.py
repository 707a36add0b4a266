"""The use log's hash chain: sealing and the verification of edited, removed and reordered records."""

from __future__ import annotations

import json

import pytest

from pipeline.monitoring import chain


def lines(n: int = 3) -> list[bytes]:
    out, prev = [], chain.GENESIS
    for seq in range(1, n + 1):
        record = chain.seal({"kind": "use", "use_id": f"use-{seq:04d}"}, prev, seq)
        out.append(chain.line(record))
        prev = record["hash"]
    return out


@pytest.mark.verifies("SRS-MON-002")
def test_an_intact_chain_verifies_with_its_count_and_last_hash():
    log = lines(3)
    result = chain.verify(log)
    assert result.ok and result.records == 3
    assert result.last_hash == json.loads(log[-1])["hash"]


@pytest.mark.verifies("SRS-MON-002")
def test_a_record_edited_by_hand_is_named():
    log = lines(3)
    log[1] = log[1].replace(b"use-0002", b"use-9999")
    result = chain.verify(log)
    assert result.broken_line == 2 and "edited" in result.reason


@pytest.mark.verifies("SRS-MON-002")
def test_an_edit_that_recomputes_the_record_hash_breaks_the_next_link():
    log = lines(3)
    record = json.loads(log[1])
    record["use_id"] = "use-9999"
    record["hash"] = chain.record_hash(record)
    log[1] = chain.line(record)
    result = chain.verify(log)
    assert result.broken_line == 3 and "prev" in result.reason


@pytest.mark.verifies("SRS-MON-002")
def test_a_removed_record_is_named():
    log = lines(4)
    del log[1]
    assert chain.verify(log).broken_line == 2


@pytest.mark.verifies("SRS-MON-002")
def test_reordered_records_are_named():
    log = lines(3)
    log[1], log[2] = log[2], log[1]
    assert chain.verify(log).broken_line == 2


@pytest.mark.verifies("SRS-MON-002")
def test_a_truncated_last_line_is_named_as_cut_off():
    log = lines(2)
    log[-1] = log[-1][:20]
    result = chain.verify(log)
    assert result.broken_line == 2 and "cut off" in result.reason and result.records == 1


@pytest.mark.verifies("SRS-MON-002")
def test_a_body_may_not_set_the_chain_keys():
    with pytest.raises(ValueError, match="prev"):
        chain.seal({"prev": "x"}, chain.GENESIS, 1)
