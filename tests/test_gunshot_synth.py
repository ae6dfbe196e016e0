"""Tests of the synthetic gunshot and distractor renderers (known truth for shot detection)."""
from __future__ import annotations

import numpy as np
import pytest

from media_core.errors import ParameterError
from sample_media.distractors import KINDS, distractor_events, render_distractor
from sample_media.gunshot import (
    apply_agc,
    apply_clipping,
    friedlander,
    render_gunshot,
    render_incident_audio,
)

SR = 48000


def test_friedlander_positive_phase_crosses_zero_at_T():
    T = 0.001
    t = np.arange(0, 0.005, 1 / SR)
    p = friedlander(t, T)
    assert p[0] == pytest.approx(1.0)
    k = int(np.argmax(p < 0))
    assert abs(k / SR - T) < 2 / SR
    assert p.min() < 0  # negative phase follows


@pytest.mark.parametrize("caliber", ["pistol", "rifle"])
def test_gunshot_onset_is_sample_zero_and_peak_is_early(caliber):
    y = render_gunshot(sr=SR, rng=np.random.default_rng(1), caliber=caliber, peak_dbfs=-6.0)
    assert y.dtype == np.float32
    assert 20 * np.log10(np.abs(y[: int(0.003 * SR)]).max()) == pytest.approx(-6.0, abs=0.01)
    assert np.argmax(np.abs(y)) < int(0.003 * SR)


def test_wall_echoes_appear_at_their_delays():
    y = render_gunshot(sr=SR, rng=np.random.default_rng(2), wall_echoes=((0.040, 0.5),),
                       reverb_level_db=-60, ground_reflection=False)
    env = np.abs(y)
    k = int(0.040 * SR)
    assert env[k: k + int(0.004 * SR)].max() > 0.2 * env.max()
    assert env[int(0.015 * SR): int(0.035 * SR)].max() < 0.1 * env.max()


def test_distance_lowers_level_and_highs():
    near = render_gunshot(sr=SR, rng=np.random.default_rng(3), distance_m=5, wall_echoes=None)
    far = render_gunshot(sr=SR, rng=np.random.default_rng(3), distance_m=80, wall_echoes=None)
    assert np.abs(far).max() < np.abs(near).max() / 8

    def hf_share(x):
        s = np.abs(np.fft.rfft(x[: int(0.01 * SR)])) ** 2
        f = np.fft.rfftfreq(int(0.01 * SR), 1 / SR)
        return s[f > 5000].sum() / s.sum()

    assert hf_share(far) < hf_share(near)


def test_clipping_and_agc_do_not_change_input():
    x = np.linspace(-2, 2, 1000, dtype=np.float32)
    before = x.copy()
    c = apply_clipping(x, clip_dbfs=0.0)
    a = apply_agc(x, SR)
    assert np.array_equal(x, before)
    assert np.abs(c).max() <= 1.0
    assert a.dtype == np.float32


def test_agc_pumps_after_loud_event():
    rng = np.random.default_rng(4)
    y = (rng.standard_normal(SR * 3) * 0.01).astype(np.float32)
    y[SR: SR + 480] = 0.9
    g = apply_agc(y, SR, release_s=1.0)
    before = np.std(g[SR // 2: SR - 100])
    just_after = np.std(g[SR + 2400: SR + 7200])
    later = np.std(g[SR * 3 - 4800:])
    assert just_after < before / 4  # gain pumped down
    assert just_after < later  # and recovering


def test_incident_truth_matches_placed_onsets():
    rng = np.random.default_rng(5)
    times = [0.5, 0.56, 1.3, 2.0]
    y, truth = render_incident_audio(3.0, SR, times, rng, distractors=distractor_events(["knock"], [2.5], sr=SR, rng=rng))
    shots = [e for e in truth if e["kind"] == "gunshot"]
    assert [e["time_s"] for e in shots] == pytest.approx(times, abs=1 / SR)
    assert any(e["kind"] == "knock" for e in truth)
    assert y.shape == (3 * SR,) and np.abs(y).max() <= 1.0
    # the first arrival really is at the truth time: quiet before, loud right after
    k = int(times[0] * SR)
    assert np.abs(y[k - 480: k - 10]).max() < 0.5 * np.abs(y[k: k + 96]).max()


@pytest.mark.parametrize("kind", KINDS)
def test_every_distractor_renders(kind):
    y = render_distractor(kind, sr=SR, rng=np.random.default_rng(6))
    assert y.dtype == np.float32 and y.ndim == 1 and y.size > SR // 20
    assert np.isfinite(y).all()


def test_bad_parameters_raise():
    with pytest.raises(ParameterError, match="unknown caliber"):
        render_gunshot(sr=SR, rng=np.random.default_rng(0), caliber="cannon")
    with pytest.raises(ParameterError, match="unknown distractor kind"):
        render_distractor("thunder", sr=SR, rng=np.random.default_rng(0))
    with pytest.raises(ParameterError, match="duration_s must be positive"):
        render_incident_audio(0, SR, [], np.random.default_rng(0))
