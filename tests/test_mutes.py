"""Muted spans: every kind found with accurate edges; quiet live audio never called muted."""
from __future__ import annotations

import numpy as np
import pytest

from media_core.analysis.mutes import ALGORITHM_VERSION, KINDS, MuteListener, find_mutes, muted_seconds
from media_core.errors import ParameterError
from media_core.io.decode import run_listeners
from sample_media import car_rumble, dead_floor, room_tone, speech_like, tone, write_media

SR = 48000
EDGE_MAX = 0.025     # one AAC frame at 48 kHz
EDGE_MEDIAN = 0.005
EDGE_AAC_GRID = 0.020  # digital silence through AAC, edges on the codec's window grid (max 14.6 ms here)


def live(duration_s, sr=SR, seed=1, level=-20.0):
    """Speech-like sound over -60 dBFS room tone: a live microphone."""
    return speech_like(duration_s, sr, level_dbfs=level, rng=seed) + room_tone(duration_s, sr, -60.0, seed + 50)


def analyse(path, **kw):
    return run_listeners(path, [MuteListener(**kw)])["mutes"]


def spans(res, kind=None):
    return [(m["start_s"], m["end_s"]) for m in res["mutes"] if kind is None or m["kind"] == kind]


def cut(y, sr, a, b):
    y = y.copy()
    y[..., int(round(a * sr)):int(round(b * sr))] = 0.0
    return y


def check_contract(res):
    for m in res["mutes"] + res["quiet"]:
        assert set(m) == {"start_s", "end_s", "kind", "confidence", "evidence"}
        assert 0.0 <= m["confidence"] <= 1.0 and m["end_s"] > m["start_s"] >= 0.0
        assert m["evidence"]["algorithm_version"] == ALGORITHM_VERSION and m["evidence"]["method"]
    assert all(m["kind"] in KINDS for m in res["mutes"])


# ------------------------------------------------------------------ arrays (no codec)

def test_find_mutes_exact_on_arrays_and_input_untouched():
    y = live(6.0)
    y = cut(cut(y, SR, 1.2345, 2.5), SR, 4.0, 6.0)
    before = y.copy()
    res = find_mutes(y, SR, start_s=10.0, block_s=0.37)
    np.testing.assert_array_equal(y, before)
    got = spans(res, "digital-silence")
    assert len(got) == 2
    assert got[0][0] == pytest.approx(11.2345, abs=1 / SR) and got[0][1] == pytest.approx(12.5, abs=1 / SR)
    assert got[1][0] == pytest.approx(14.0, abs=1 / SR) and got[1][1] == pytest.approx(16.0, abs=1e-9)
    check_contract(res)


def test_short_silence_is_not_a_mute_and_min_is_configurable():
    y = cut(live(4.0), SR, 1.0, 1.3)
    assert find_mutes(y, SR)["mutes"] == []
    assert spans(find_mutes(y, SR, min_mute_s=0.25)) == [pytest.approx((1.0, 1.3), abs=1e-4)]


def test_one_lsb_dither_counts_as_digital_silence():
    rng = np.random.default_rng(3)
    y = live(3.0)
    y[SR:2 * SR] = rng.integers(-1, 2, SR) / 32768.0
    assert spans(find_mutes(y, SR), "digital-silence") == [pytest.approx((1.0, 2.0), abs=2e-3)]


@pytest.mark.parametrize("kw", [dict(min_mute_s=0), dict(min_mute_s=-1)])
def test_bad_parameters(kw):
    with pytest.raises(ParameterError, match="min_mute_s"):
        MuteListener(**kw)


def test_bad_array():
    with pytest.raises(ParameterError, match="sr must be"):
        find_mutes(np.zeros(10), 0)
    with pytest.raises(ParameterError, match="shaped"):
        find_mutes(np.zeros((2, 2, 2)), SR)


# ------------------------------------------------------------------ through AAC

@pytest.mark.parametrize("sr", [16000, 32000, 48000])
def test_digital_silence_edges_through_aac(tmp_path, sr):
    errors = []
    for seed, sig in enumerate(["speech", "room", "tone", "car", "soft"]):
        n_s = 8.0
        y = {"speech": live(n_s, sr, seed), "room": room_tone(n_s, sr, -55.0, seed),
             "tone": tone(300 + 100 * seed, n_s, sr, level_dbfs=-20),
             # a closed car under room tone; soft speech over -70 dBFS room tone (cuts in quiet tails)
             "car": car_rumble(n_s, sr, -50.0, seed) + room_tone(n_s, sr, -60.0, seed + 3),
             "soft": speech_like(n_s, sr, level_dbfs=-30, rng=seed + 7) + room_tone(n_s, sr, -70.0, seed)}[sig]
        rng = np.random.default_rng(seed + sr)
        a = 1.0 + rng.uniform(0, 1)
        b = a + rng.uniform(0.6, 1.5)
        c = b + rng.uniform(1.0, 2.0)
        d = c + rng.uniform(0.5, 1.5)
        y = cut(cut(y, sr, a, b), sr, c, d)
        res = analyse(write_media(tmp_path / f"{sig}.m4a", audio=y, sr=sr, video=False))
        got = spans(res)
        assert [m["kind"] for m in res["mutes"]] == ["digital-silence"] * 2, (sig, res["mutes"])
        errors += [g - t for (gs, ge), (ts, te) in zip(got, [(a, b), (c, d)]) for g, t in ((gs, ts), (ge, te))]
        check_contract(res)
    errors = np.abs(errors)
    assert errors.max() <= EDGE_AAC_GRID and np.median(errors) <= EDGE_MEDIAN, errors


@pytest.mark.parametrize("sr", [16000, 32000, 48000])
def test_near_silence_edges_through_aac(tmp_path, sr):
    """A dead floor right after speech: the codec smears the speech into the floor's start."""
    errors = []
    for seed, floor_db in enumerate([-82.0, -90.0, -100.0]):
        y = speech_like(8.0, sr, level_dbfs=-20, rng=seed + 3) + room_tone(8.0, sr, -65.0, seed)
        rng = np.random.default_rng(seed + sr)
        a = 1.5 + rng.uniform(0, 1)
        b = a + rng.uniform(1.0, 2.0)
        i0, i1 = int(round(a * sr)), int(round(b * sr))
        y[i0:i1] = dead_floor((i1 - i0) / sr, sr, floor_db, seed)[:i1 - i0]
        res = analyse(write_media(tmp_path / f"n{seed}.m4a", audio=y, sr=sr, video=False))
        assert [m["kind"] for m in res["mutes"]] == ["near-silence"], (floor_db, res["mutes"])
        m = res["mutes"][0]
        errors += [m["start_s"] - a, m["end_s"] - b]
    errors = np.abs(errors)
    assert errors.max() <= EDGE_MAX and np.median(errors) <= EDGE_MEDIAN, errors


def test_mutes_at_very_start_and_very_end(tmp_path):
    y = cut(cut(live(8.0), SR, 0.0, 1.5), SR, 7.0, 8.0)
    res = analyse(write_media(tmp_path / "se.mp4", audio=y, fps=10))
    got = spans(res, "digital-silence")
    assert len(got) == 2 and got[0][0] == 0.0 and abs(got[0][1] - 1.5) <= EDGE_MAX
    assert abs(got[1][0] - 7.0) <= EDGE_MAX and got[1][1] == pytest.approx(8.0, abs=0.03)


def test_near_silence_dead_floor(tmp_path):
    y = live(9.0)
    y[3 * SR:6 * SR] = dead_floor(3.0, SR, -90.0, 2)
    res = analyse(write_media(tmp_path / "nf.m4a", audio=y, video=False))
    assert [m["kind"] for m in res["mutes"]] == ["near-silence"]
    m = res["mutes"][0]
    assert abs(m["start_s"] - 3.0) <= EDGE_MAX and abs(m["end_s"] - 6.0) <= EDGE_MAX
    meas = m["evidence"]["measurements"]
    assert meas["rms_dbfs"] <= -85 and meas["peak_dbfs"] <= -60 and meas["whiteness"] >= 0.5


@pytest.mark.parametrize("make, level", [(room_tone, -65.0), (room_tone, -70.0), (room_tone, -75.0),
                                         (car_rumble, -65.0), (car_rumble, -72.0), (car_rumble, -78.0)])
def test_quiet_live_audio_is_never_muted(tmp_path, make, level):
    y = live(10.0)
    y[2 * SR:8 * SR] = make(6.0, SR, level, 7)
    y[5 * SR:int(5.4 * SR)] *= 0.3  # a pause inside the quiet
    res = analyse(write_media(tmp_path / "q.m4a", audio=y, video=False))
    assert res["mutes"] == [] and muted_seconds(res["mutes"]) == 0.0
    q = [s for s in res["quiet"] if s["kind"] == "quiet-live"]
    assert q and q[0]["start_s"] <= 2.1 and q[-1]["end_s"] >= 7.9  # reported as quiet instead
    check_contract(res)


def test_whole_feed_very_quiet_room_is_not_muted(tmp_path):
    y = np.concatenate([room_tone(5.0, SR, -78.0, 3), car_rumble(5.0, SR, -80.0, 4)])
    res = analyse(write_media(tmp_path / "vq.m4a", audio=y, video=False))
    assert res["mutes"] == []


def test_packet_gaps(tmp_path):
    res = analyse(write_media(tmp_path / "g.mp4", audio=live(10.0), audio_gaps=[(2.0, 3.0), (6.0, 6.6)], fps=10))
    got = spans(res, "packet-gap")
    assert len(got) == 2 and all(abs(g - t) <= EDGE_MAX for gt, tt in zip(got, [(2.0, 3.0), (6.0, 6.6)])
                                 for g, t in zip(gt, tt))
    assert res["mutes"][0]["evidence"]["measurements"]["missing_packets"] == pytest.approx(47, abs=1)


def test_late_start_and_early_end(tmp_path):
    p = write_media(tmp_path / "le.mp4", audio=live(6.0), audio_start_s=3.0, duration_s=12.0, fps=10)
    res = analyse(p)
    kinds = [m["kind"] for m in res["mutes"]]
    assert kinds == ["late-audio-start", "audio-ends-early"]
    late, early = res["mutes"]
    assert late["start_s"] == 0.0 and abs(late["end_s"] - 3.0) <= EDGE_MAX
    assert abs(early["start_s"] - 9.0) <= EDGE_MAX and early["end_s"] == pytest.approx(12.0, abs=0.01)
    assert late["evidence"]["measurements"]["video_start_s"] == 0.0


def test_no_audio_track(tmp_path):
    res = analyse(write_media(tmp_path / "na.mp4", audio=None, duration_s=4.0, fps=10))
    assert res["mutes"] == [{**res["mutes"][0], "start_s": 0.0, "end_s": 4.0, "kind": "no-audio-track"}]


@pytest.mark.parametrize("corrupt, expect", [((3.0, 4.0), (3.0, 4.0)), ((5.0, 99.0), (5.0, 8.0))])
def test_undecodable_and_broken_stream(tmp_path, corrupt, expect):
    res = analyse(write_media(tmp_path / "u.mp4", audio=live(8.0), audio_corrupt=[corrupt], fps=10))
    got = spans(res, "undecodable")
    assert len(got) == 1 and abs(got[0][0] - expect[0]) <= EDGE_MAX and abs(got[0][1] - expect[1]) <= EDGE_MAX


def test_stereo_with_one_channel_cut_is_not_a_mute(tmp_path):
    left, right = live(8.0, seed=1), live(8.0, seed=2)
    right = cut(right, SR, 2.0, 5.0)
    res = analyse(write_media(tmp_path / "st.m4a", audio=np.stack([left, right]), video=False))
    assert res["mutes"] == []
    cs = [q for q in res["quiet"] if q["kind"] == "channel-silence"]
    assert len(cs) == 1 and cs[0]["evidence"]["measurements"]["channel"] == 1
    assert abs(cs[0]["start_s"] - 2.0) <= 0.045 and abs(cs[0]["end_s"] - 5.0) <= 0.045
    # both channels cut: a mute
    both = np.stack([cut(left, SR, 2.0, 5.0), right])
    res = analyse(write_media(tmp_path / "st2.m4a", audio=both, video=False))
    got = spans(res, "digital-silence")
    assert len(got) == 1 and abs(got[0][0] - 2.0) <= EDGE_MAX and abs(got[0][1] - 5.0) <= EDGE_MAX


def test_everything_in_one_feed(tmp_path):
    y = live(20.0, seed=4)
    y = cut(y, SR, 0.0, 0.8)                       # mute at the very start
    y[4 * SR:6 * SR] = room_tone(2.0, SR, -70.0, 9)  # quiet, not muted
    y = cut(y, SR, 8.0, 9.25)                      # digital silence
    y[11 * SR:13 * SR] = dead_floor(2.0, SR, -92.0, 5)  # near-silence
    p = write_media(tmp_path / "all.mp4", audio=y, audio_start_s=1.0, duration_s=23.0,
                    audio_gaps=[(15.0, 15.7)], audio_corrupt=[(17.0, 17.8)], fps=10)
    res = analyse(p)
    check_contract(res)
    truth = [("late-audio-start", 0.0, 1.0), ("digital-silence", 1.0, 1.8), ("digital-silence", 9.0, 10.25),
             ("near-silence", 12.0, 14.0), ("packet-gap", 15.0, 15.7), ("undecodable", 17.0, 17.8),
             ("audio-ends-early", 21.0, 23.0)]
    got = [(m["kind"], m["start_s"], m["end_s"]) for m in res["mutes"]]
    assert [g[0] for g in got] == [t[0] for t in truth], got
    for (_, gs, ge), (_, ts, te) in zip(got, truth):
        assert abs(gs - ts) <= EDGE_MAX and abs(ge - te) <= EDGE_MAX
    # the -70 dBFS room tone is listed as quiet, and no muted second lies inside it
    assert not any(m["start_s"] < 7.0 and m["end_s"] > 5.0 for m in res["mutes"])


def test_streaming_result_does_not_depend_on_block_size(tmp_path):
    from media_core.io.decode import iter_audio_blocks

    y = cut(cut(live(9.0, seed=6), SR, 1.1, 2.7), SR, 5.0, 5.9)
    y[7 * SR:int(8.5 * SR)] = dead_floor(1.5, SR, -90.0, 1)
    p = write_media(tmp_path / "b.m4a", audio=y, video=False)
    z = np.concatenate([b.y for b in iter_audio_blocks(p)], axis=1)
    for kw in (dict(codec_smear=True), dict(codec_smear=True, codec_frame=1024)):  # without, with grid
        results = [find_mutes(z, SR, block_s=bs, **kw)["mutes"] for bs in (0.05, 0.5, 2.0, 9.0)]
        assert len(results[0]) == 3 and all(r == results[0] for r in results[1:])
    grid = find_mutes(z, SR, codec_smear=True, codec_frame=1024)["mutes"]
    assert [m["evidence"]["measurements"].get("codec_frame_grid") for m in grid][:2] == [1024, 1024]


def test_memory_stays_flat_on_a_long_stream():
    from media_core.listeners import AudioBlock, AudioStreamInfo

    sr = 16000
    bank = [(live(2.0, sr, seed=s)[None, :]) for s in range(3)]
    li = MuteListener()
    li.on_start(AudioStreamInfo("long", sr, 1, "aac", None, None, 0.0, 3600.0))
    held = []
    for i in range(1800):  # one hour in 2 s blocks
        y = bank[i % 3]
        if i % 97 == 0:
            y = np.zeros_like(y)  # a mute now and then
        li.on_block(AudioBlock(i * 2.0, sr, y))
        held.append(sum(b.nbytes for _, b in li.seg.hist))
    res = li.finish(3600.0)
    assert max(held) <= 4 * bank[0].nbytes + 16 * 4096  # a few blocks of samples, whatever the length
    per_window = sum(a.nbytes for v in li.w.values() for a in v) / (3600 / (li.win / sr))
    assert per_window < 40  # bytes per analysis window (~16 ms here)
    assert len(res["mutes"]) == len(range(0, 1800, 97))
