"""Ids: the documented shape, unique, and later ones sort later (index locality)."""

from __future__ import annotations

import re
import time

from mailbot_sandbox.ids import id_pattern, new_id


def test_ids_have_the_documented_shape_and_do_not_repeat() -> None:
    ids = [new_id("msg") for _ in range(20_000)]
    assert all(re.fullmatch(r"msg_[a-z2-7]{20}", i) for i in ids)
    assert all(re.match(id_pattern("msg"), i) for i in ids)  # what the API document states
    assert len(set(ids)) == len(ids)


def test_later_ids_sort_later() -> None:
    earlier = [new_id("thr") for _ in range(50)]
    time.sleep(0.003)
    later = [new_id("thr") for _ in range(50)]
    assert max(earlier) < min(later)
