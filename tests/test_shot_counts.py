"""Per-feed shot counts with their uncertainty: confident, possible, range and the text."""
from __future__ import annotations

import pytest

from media_core.analysis.shot_counts import count_text, feed_count
from media_core.errors import ParameterError


def _shot(conf, confident, kind="gunshot"):
    return {"time_s": 1.0, "confidence": conf, "confident": confident, "kind": kind, "peak_dbfs": -6.0}


def test_confident_and_possible_give_a_range():
    shots = ([_shot(0.9, True)] * 18 + [_shot(0.35, False, "possible_gunshot"), _shot(0.2, False, "possible_fireworks")]
             + [_shot(0.19, False), _shot(0.05, False)])            # below 0.2: not shots at all
    c = feed_count(shots)
    assert c == {"confident": 18, "possible": 2, "low": 18, "high": 20, "text": "20 (18 confident, 2 possible)"}


def test_all_confident_and_nothing():
    assert feed_count([_shot(0.8, True)] * 3)["text"] == "3 (all confident)"
    assert feed_count([]) == {"confident": 0, "possible": 0, "low": 0, "high": 0, "text": "0"}
    assert feed_count([_shot(0.1, False)])["text"] == "0"
    assert feed_count([_shot(0.3, False)])["text"] == "1 (0 confident, 1 possible)"


def test_the_confident_flag_decides_and_older_shapes_still_count():
    # the detector's flag wins over the number; without a flag confidence >= 0.5 is confident
    assert feed_count([_shot(0.7, False)])["possible"] == 1
    assert feed_count([{"time_s": 1.0, "confidence": 0.5}, {"time_s": 2.0, "confidence": 0.49}])["text"] == \
        "2 (1 confident, 1 possible)"
    assert feed_count([1.0, 2.5])["confident"] == 2                  # bare times are confident shots
    assert feed_count([_shot(0.3, False)], possible_min=0.4)["high"] == 0


@pytest.mark.parametrize("call, match", [
    (lambda: feed_count([], possible_min=1.5), "possible_min"),
    (lambda: count_text(-1, 0), "negative"),
])
def test_bad_input(call, match):
    with pytest.raises(ParameterError, match=match):
        call()
