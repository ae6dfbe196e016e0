"""Known failure (issue 12 open): a sparse 15-minute pair matched 242 s off at confidence 0.84.

Calibration incident 4036: three cameras, shared sounds every 15-45 s, the second camera 569 s
long. The whole-feed correlation peak is weak (1.2x its runner-up), the alternatives tried by
their events do not include the true lag, and one wrong lag lines up 19 events of 18 "sources",
most of them private handling sounds that no other camera heard. Chance events are accepted at
z (peak over the curve's MAD) of 20-40, above the 15 that marks a *strong* source.
"""
import numpy as np
import pytest

from media_core.clock import Clock


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="issue 12 open: chance events pass the strong-source z; "
                                       "a sparse pair is placed 242 s off at confidence 0.84")
def test_a_sparse_pair_is_placed_right_or_not_at_all():
    from media_core.sync import features_from_array
    from media_core.sync.pairwise import estimate_offset_features
    from sample_media.sync_scenes import calibration_case, placement_error_s

    sc = calibration_case(4036)
    a, b = sc["feeds"][0], sc["feeds"][1]
    est = estimate_offset_features(features_from_array(a["audio"], a["sr"]), features_from_array(b["audio"], b["sr"]))
    if est.uncertain_reason is not None:
        return                               # refused, with a reason: acceptable
    err = placement_error_s(Clock(est.offset_s, est.drift_ppm), b, a)
    assert err <= 0.1 or est.confidence < 0.35, (est.offset_s, est.confidence, err)
    assert np.isfinite(err)
