"""Fit the gunshot model on candidate tables, and score a model on held-out clip tables.

Shared by ``scripts/train_shot_model.py`` (the shipped model) and
``benchmarks/shots_accuracy.py`` (leave-one-family-out validation), so both fit and judge
exactly the same way. Scoring a clip replays the detector's own decision step
(:class:`media_core.analysis.shots._Decider`) on the cached features, which equals running
:func:`media_core.analysis.shots.detect_shots` on its audio with that model.
"""
from __future__ import annotations

import pathlib
import sys
from typing import Any, Iterable

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from media_core.analysis.shot_model import ShotModel, export_hist_gradient_boosting, model_from_npz  # noqa: E402

#: probability at which a shot counts. Chosen on the leave-one-family-out folds of the shippable
#: sources (0.5 -> 0.7 cut held-out false shots by about a third for 1-5 % of exact counts);
#: never on the validation-only sources.
CONFIDENT = 0.7
POSSIBLE = 0.2
HGB = dict(max_iter=250, learning_rate=0.08, max_leaf_nodes=24, min_samples_leaf=30, l2_regularization=1.0,
           max_features=0.5, early_stopping=False, random_state=0)
#: the screen: a small ensemble on the features without the band patch's rise/background/decay
#: columns; a candidate below SCREEN gets no band features and is not a shot. At 0.01 it passes
#: about 11 % of the candidates of half an hour of speech and room tone and, held out, 1345/1346
#: (family a) and 1873/1902 (family b) of the true shots' candidates (fitted without them).
SCREEN = 0.01
SCREEN_HGB = dict(max_iter=80, learning_rate=0.1, max_leaf_nodes=16, min_samples_leaf=30, l2_regularization=1.0,
                  early_stopping=False, random_state=0)


def design(tables_by_source: dict[str, list[dict[str, Any]]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, labels and weights: each source weighs the same in total (split evenly between its
    shots and its non-shots), so a large generated family does not drown a small real one."""
    Xs, ys, ws = [], [], []
    for name, tabs in tables_by_source.items():
        X = np.concatenate([t["F"] for t in tabs]) if tabs else np.zeros((0, 1))
        lab = np.concatenate([t["lab"] for t in tabs]) if tabs else np.zeros(0)
        keep = lab >= 0
        X, lab = X[keep], lab[keep].astype(np.int8)
        if lab.size == 0:
            continue
        w = np.zeros(lab.size)
        npos, nneg = int((lab == 1).sum()), int((lab == 0).sum())
        if npos:
            w[lab == 1] = 0.5 / npos
        if nneg:
            w[lab == 0] = (0.5 if npos else 1.0) / nneg
        Xs.append(X)
        ys.append(lab)
        ws.append(w)
    X = np.concatenate(Xs)
    y = np.concatenate(ys)
    w = np.concatenate(ws)
    # total shot weight = total non-shot weight
    pos, neg = w[y == 1].sum(), w[y == 0].sum()
    w[y == 1] *= 0.5 / max(pos, 1e-12)
    w[y == 0] *= 0.5 / max(neg, 1e-12)
    return X, y, w * y.size


def fit(tables_by_source: dict[str, list[dict[str, Any]]], meta: dict[str, Any] | None = None,
        **hgb: Any) -> tuple[ShotModel, bytes]:
    """A fitted model (as the detector loads it) and its ``.npz`` bytes."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from media_core.analysis.shot_features import FEATURE_NAMES, FEATURE_VERSION, SCREEN_FEATURES

    X, y, w = design(tables_by_source)
    clf = HistGradientBoostingClassifier(**{**HGB, **hgb})
    clf.fit(X, y, sample_weight=w)
    cols = [list(FEATURE_NAMES).index(c) for c in SCREEN_FEATURES]
    # the screen follows the ensemble's seed when one is given (shots_accuracy.py --seeds)
    sclf = HistGradientBoostingClassifier(**{**SCREEN_HGB, **{k: v for k, v in hgb.items() if k == "random_state"}})
    sclf.fit(X[:, cols], y, sample_weight=w)
    m = dict(meta or {})
    m.setdefault("version", "shots-model-dev")
    m.update(feature_names=list(FEATURE_NAMES), feature_version=FEATURE_VERSION,
             training_rows=int(y.size), training_shots=int(y.sum()),
             training_sources=sorted(tables_by_source))
    m.setdefault("threshold_confident", CONFIDENT)
    m.setdefault("threshold_possible", POSSIBLE)
    m.setdefault("screen", {"hyperparameters": SCREEN_HGB})
    blob = export_hist_gradient_boosting(clf, m, screen=(sclf, list(SCREEN_FEATURES), SCREEN))
    model = model_from_bytes(blob)
    # the exported ensembles must score exactly as scikit-learn does
    for name, sk, ours in (("model", clf.predict_proba(X[:2000])[:, 1], model.predict_proba(X[:2000])),
                           ("screen", sclf.predict_proba(X[:2000, cols])[:, 1], model.screen_proba(X[:2000]))):
        if not np.allclose(sk, ours, atol=1e-6):
            raise RuntimeError(f"exported {name} disagrees with scikit-learn (max {np.max(np.abs(sk - ours)):.2e})")
    return model, blob


def bag(models: list[ShotModel], meta: dict[str, Any] | None = None) -> tuple[ShotModel, bytes]:
    """The bag of fitted models (their log-odds averaged) and its ``.npz`` bytes, checked to
    score as the mean of its members."""
    from media_core.analysis.shot_model import average_models, model_to_npz

    m = average_models(models, meta)
    blob = model_to_npz(m)
    back = model_from_bytes(blob)
    X = np.random.default_rng(0).normal(size=(256, len(m.feature_names))) * 20
    X[::7, ::5] = np.nan
    want = np.mean([mm.decision_function(X) for mm in models], axis=0)
    if not np.allclose(back.decision_function(X), want, atol=1e-9):
        raise RuntimeError("the bag does not score as the mean of its members")
    return back, blob


def fit_bag(tables_by_source: dict[str, list[dict[str, Any]]], seeds: Iterable[int],
            meta: dict[str, Any] | None = None) -> tuple[ShotModel, bytes]:
    """:func:`fit` once per seed, then :func:`bag` of the fits."""
    seeds = list(seeds)
    models = [fit(tables_by_source, meta, random_state=s)[0] for s in seeds]
    m = dict(models[0].meta)
    m["bag_seeds"] = seeds
    return bag(models, m)


def model_from_bytes(blob: bytes) -> ShotModel:
    """The model (and its screen) as the detector loads it."""
    return model_from_npz(blob)


# ----------------------------------------------------------------------------------------------
# scoring

def detect_from_table(tab: dict[str, Any], model: ShotModel, **params: Any) -> list[dict[str, Any]]:
    """The shots :func:`media_core.analysis.shots.detect_shots` reports for this clip with ``model``."""
    from media_core.analysis.shots import _Decider, _params

    p = _params(params)
    d = _Decider(p, model)
    if tab["t"].size:
        X = tab["F"].astype(np.float64)
        ps = model.screen_proba(X)
        prob = model.cascade_proba(X, ps)
        d.add([{"time_s": float(t), "p": float(q), "_x": x, "_screen": float(s)}
               for t, q, x, s in zip(tab["t"], prob, tab["F"], ps)])
    return d.finish()


def match(det: list[float], truth: list[float], collar_s: float) -> tuple[int, list[float]]:
    """Greedy one-to-one matching, nearest first; (true positives, |errors| in s)."""
    pairs = sorted((abs(d - t), i, j) for i, d in enumerate(det) for j, t in enumerate(truth) if abs(d - t) <= collar_s)
    ui, uj, errs = set(), set(), []
    for e, i, j in pairs:
        if i not in ui and j not in uj:
            ui.add(i)
            uj.add(j)
            errs.append(e)
    return len(errs), errs


def score(tabs: Iterable[dict[str, Any]], model: ShotModel, **params: Any) -> dict[str, Any]:
    """Counts, F1 at 20 ms, onset errors, detection and false shots over a set of clip tables."""
    r = {"clips": 0, "shot_clips": 0, "exact": 0, "count_clips": 0, "tp": 0, "fp": 0, "fn": 0, "errs": [],
         "any_clips": 0, "any_found": 0, "none_clips": 0, "none_false": 0, "none_clips_with_false": 0,
         "none_hours": 0.0, "rows": []}
    for tab in tabs:
        shots = detect_from_table(tab, model, **params)
        det = [s["time_s"] for s in shots if s["confident"]]
        r["clips"] += 1
        lab = tab["label"]
        row = {"id": tab["id"], "det": len(det), "truth": tab["count"]}
        if lab == "onsets":
            tp, e = match(det, tab["onsets"], 0.020)
            r["tp"] += tp
            r["fp"] += len(det) - tp
            r["fn"] += len(tab["onsets"]) - tp
            r["errs"] += e
        if lab in ("onsets", "count"):
            ok = tab["count"] if isinstance(tab["count"], list) else [tab["count"]]
            r["count_clips"] += 1
            r["exact"] += len(det) in ok
        if lab in ("onsets", "count", "any"):
            r["shot_clips"] += 1
            r["any_clips"] += 1
            r["any_found"] += len(det) > 0
        if lab == "none":
            r["none_clips"] += 1
            r["none_false"] += len(det)
            r["none_clips_with_false"] += len(det) > 0
            r["none_hours"] += tab["dur_s"] / 3600.0
        r["rows"].append(row)
    P = r["tp"] / max(r["tp"] + r["fp"], 1)
    R = r["tp"] / max(r["tp"] + r["fn"], 1)
    r["f1"] = 2 * P * R / max(P + R, 1e-12) if (r["tp"] + r["fp"] + r["fn"]) else float("nan")
    r["precision"], r["recall"] = P, R
    r["median_err_ms"] = 1000 * float(np.median(r["errs"])) if r["errs"] else float("nan")
    r["exact_frac"] = r["exact"] / r["count_clips"] if r["count_clips"] else float("nan")
    r["detect_frac"] = r["any_found"] / r["any_clips"] if r["any_clips"] else float("nan")
    r["false_per_hour"] = r["none_false"] / r["none_hours"] if r["none_hours"] else float("nan")
    r["false_per_20_clips"] = 20.0 * r["none_false"] / r["none_clips"] if r["none_clips"] else float("nan")
    return r


def candidate_recall(tabs: Iterable[dict[str, Any]]) -> tuple[int, int]:
    """(true shots with a candidate within 10 ms, true shots) over clips labelled with onsets."""
    a = b = 0
    for t in tabs:
        if t.get("recall"):
            a += t["recall"][0]
            b += t["recall"][1]
    return a, b
