"""The fitted gunshot model: a boosted tree ensemble shipped as a small ``.npz``, never a pickle.

The model is trained by ``scripts/train_shot_model.py`` (scikit-learn's
``HistGradientBoostingClassifier``) and exported to flat node arrays: ``feature``,
``threshold``, ``left``, ``right``, ``missing_left``, ``is_leaf``, ``value`` and ``roots``, plus
``baseline`` and a ``meta`` JSON string (version, feature names, training data, cross-validation
summary). Scoring is pure numpy: every candidate walks every tree at once, one level per step.
A missing feature (NaN) goes where the training put missing values.

The file's SHA-256 is recorded in ``media_core/analysis/models/MODELS.json``; :func:`load_model` checks
it, so a damaged or swapped model gives a :class:`~media_core.errors.ModelError` naming the
file, and the detector never falls back to something else. Every shot's evidence carries the
model's version and SHA-256.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import pathlib
import zipfile
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np

from media_core.errors import ModelError

__all__ = ["ShotModel", "load_model", "model_from_npz", "default_model_path", "export_hist_gradient_boosting",
           "average_models", "model_to_npz", "MODEL_DIR"]

MODEL_DIR = pathlib.Path(__file__).resolve().parent / "models"
DEFAULT_MODEL = "shots-2.1.npz"
_ARRAYS = ("feature", "threshold", "left", "right", "missing_left", "is_leaf", "value", "roots")


def default_model_path() -> pathlib.Path:
    """The shipped model (``EVIDENCE_AUDIT_SHOT_MODEL`` overrides it, for experiments)."""
    env = os.environ.get("EVIDENCE_AUDIT_SHOT_MODEL")
    return pathlib.Path(env) if env else MODEL_DIR / DEFAULT_MODEL


@dataclass(frozen=True)
class ShotModel:
    """A loaded tree ensemble. ``predict_proba(X)`` gives P(gunshot) per row of ``X``."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    missing_left: np.ndarray
    is_leaf: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    baseline: float
    meta: dict[str, Any] = field(default_factory=dict)
    sha256: str = ""
    path: str = ""
    #: the screen: a small ensemble on :data:`~media_core.analysis.shot_features.SCREEN_FEATURES`
    #: (``screen_columns`` of the full vector) that passes the candidates worth the band features
    screen: "ShotModel | None" = None
    screen_columns: tuple[int, ...] = ()
    screen_threshold: float = 0.0

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "unknown"))

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(self.meta.get("feature_names", ()))

    @property
    def threshold_confident(self) -> float:
        return float(self.meta.get("threshold_confident", 0.5))

    @property
    def threshold_possible(self) -> float:
        return float(self.meta.get("threshold_possible", 0.2))

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(f"features must be 2-D, got shape {X.shape}")
        n = X.shape[0]
        raw = np.full(n, self.baseline, dtype=np.float64)
        if n == 0 or self.roots.size == 0:
            return raw
        T = self.roots.size
        node = np.tile(self.roots, n)                 # (row, tree) flattened, row-major
        row = np.repeat(np.arange(n), T)
        act = np.flatnonzero(~self.is_leaf[node])     # walk only the entries not yet at a leaf
        Xf = np.ascontiguousarray(X).ravel()
        width = X.shape[1]
        while act.size:
            nd = node[act]
            x = Xf[row[act] * width + self.feature[nd]]
            go_left = np.where(np.isnan(x), self.missing_left[nd], x <= self.threshold[nd])
            nxt = np.where(go_left, self.left[nd], self.right[nd])
            node[act] = nxt
            act = act[~self.is_leaf[nxt]]
        return raw + self.value[node].reshape(n, T).sum(axis=1)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """P(gunshot) for each row (logistic of the ensemble's raw score)."""
        return 1.0 / (1.0 + np.exp(-self.decision_function(X)))

    def screen_proba(self, X: np.ndarray) -> np.ndarray:
        """The screen's P(gunshot) per row of the full vector (its band columns may be NaN);
        all ones for a model without a screen (every candidate gets the band features).
        """
        X = np.asarray(X, dtype=np.float64)
        if self.screen is None:
            return np.ones(X.shape[0])
        return self.screen.predict_proba(X[:, list(self.screen_columns)])

    def cascade_proba(self, X: np.ndarray, screen_p: np.ndarray) -> np.ndarray:
        """P(gunshot) per row: the full model where the screen passed (``screen_p`` at or above
        ``screen_threshold``: those rows have every feature), ``screen_p`` itself elsewhere (below
        the threshold, so never reported at the thresholds the model was fitted for).
        """
        X = np.asarray(X, dtype=np.float64)
        out = np.array(screen_p, dtype=np.float64, copy=True)
        passed = out >= self.screen_threshold
        if passed.any():
            out[passed] = self.predict_proba(X[passed])
        return out


def recorded_hashes() -> dict[str, str]:
    """``MODELS.json``: model file name -> SHA-256 recorded when it was trained."""
    p = MODEL_DIR / "MODELS.json"
    try:
        return {k: v["sha256"] for k, v in json.loads(p.read_text("utf-8")).items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelError(p, f"cannot read the model registry ({exc})") from None


def _load(path: pathlib.Path, expect_sha: str | None) -> ShotModel:
    try:
        data = path.read_bytes()  # read once: the bytes hashed are the bytes loaded
    except OSError:
        raise ModelError(path, "shot model file is missing (reinstall Evidence Audit, or retrain it with "
                               "scripts/train_shot_model.py)") from None
    sha = hashlib.sha256(data).hexdigest()
    if expect_sha is not None and sha != expect_sha:
        raise ModelError(path, f"shot model file does not match its recorded SHA-256 (found {sha[:16]}..., "
                               f"recorded {expect_sha[:16]}...): damaged or replaced")
    try:
        return model_from_npz(data, sha=sha, path=str(path))
    except (OSError, ValueError, KeyError, EOFError, UnicodeDecodeError, IndexError, TypeError,
            zipfile.BadZipFile) as exc:
        raise ModelError(path, f"shot model file is damaged ({type(exc).__name__}: {exc})") from None


def _ensemble(z: Any, prefix: str, meta: dict[str, Any]) -> ShotModel:
    arrs = {k: np.asarray(z[prefix + k]) for k in _ARRAYS}
    nn = arrs["feature"].size
    if any(arrs[k].size != nn for k in _ARRAYS if k != "roots") or (arrs["roots"].size and arrs["roots"].max() >= nn):
        raise ValueError("node arrays of different lengths")
    return ShotModel(feature=arrs["feature"].astype(np.int64), threshold=arrs["threshold"].astype(np.float64),
                     left=arrs["left"].astype(np.int64), right=arrs["right"].astype(np.int64),
                     missing_left=arrs["missing_left"].astype(bool), is_leaf=arrs["is_leaf"].astype(bool),
                     value=arrs["value"].astype(np.float64), roots=arrs["roots"].astype(np.int64),
                     baseline=float(np.asarray(z[prefix + "baseline"]).ravel()[0]), meta=meta)


def model_from_npz(data: bytes, *, sha: str | None = None, path: str = "") -> ShotModel:
    """A model (with its screen, if it has one) from the bytes of its ``.npz``."""
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        meta = json.loads(bytes(np.asarray(z["meta"]).tobytes()).decode("utf-8"))
        main = _ensemble(z, "", meta)
        screen, cols, thr = None, (), 0.0
        if "screen_roots" in z.files:
            sm = dict(meta.get("screen") or {})
            names = list(meta.get("feature_names", ()))
            cols = tuple(names.index(c) for c in sm["columns"])
            thr = float(sm["threshold"])
            screen = _ensemble(z, "screen_", {"max_depth_seen": sm.get("max_depth_seen", 64)})
    return replace(main, sha256=sha if sha is not None else hashlib.sha256(data).hexdigest(), path=path,
                   screen=screen, screen_columns=cols, screen_threshold=thr)


@lru_cache(maxsize=8)
def _load_cached(path: str, mtime_ns: int, size: int, expect_sha: str | None) -> ShotModel:
    return _load(pathlib.Path(path), expect_sha)


def load_model(path: str | os.PathLike | None = None, *, verify: bool = True) -> ShotModel:
    """Load a shot model; the shipped one (checked against ``MODELS.json``) by default.

    Raises
    ------
    ModelError
        The file is missing, damaged, or (``verify``) differs from its recorded SHA-256.
    """
    p = pathlib.Path(path) if path is not None else default_model_path()
    expect = None
    if verify and p.resolve().parent == MODEL_DIR:
        expect = recorded_hashes().get(p.name)
        if expect is None:
            raise ModelError(p, "shot model is not recorded in media_core/analysis/models/MODELS.json")
    try:
        st = p.stat()
    except OSError:
        raise ModelError(p, "shot model file is missing (reinstall Evidence Audit, or retrain it with "
                            "scripts/train_shot_model.py)") from None
    return _load_cached(str(p), st.st_mtime_ns, st.st_size, expect)


def _flat(clf: Any) -> tuple[dict[str, np.ndarray], int]:
    """Flat node arrays of a fitted binary ``HistGradientBoostingClassifier`` and its depth."""
    feats, thr, left, right, miss, leaf, val, roots = [], [], [], [], [], [], [], []
    off = 0
    max_depth = 0
    for stage in clf._predictors:
        nodes = stage[0].nodes
        roots.append(off)
        feats.append(nodes["feature_idx"].astype(np.int32))
        thr.append(nodes["num_threshold"].astype(np.float64))
        left.append(nodes["left"].astype(np.int64) + off)
        right.append(nodes["right"].astype(np.int64) + off)
        miss.append(nodes["missing_go_to_left"].astype(bool))
        leaf.append(nodes["is_leaf"].astype(bool))
        val.append(nodes["value"].astype(np.float64))
        max_depth = max(max_depth, int(nodes["depth"].max()))
        off += nodes.size
    arrs = dict(feature=np.concatenate(feats), threshold=np.concatenate(thr), left=np.concatenate(left),
                right=np.concatenate(right), missing_left=np.concatenate(miss), is_leaf=np.concatenate(leaf),
                value=np.concatenate(val), roots=np.asarray(roots, dtype=np.int64),
                baseline=np.asarray([float(np.ravel(clf._baseline_prediction)[0])]))
    return arrs, max_depth


def export_hist_gradient_boosting(clf: Any, meta: dict[str, Any],
                                  screen: tuple[Any, list[str], float] | None = None) -> bytes:
    """The ``.npz`` bytes of a fitted binary ``HistGradientBoostingClassifier`` (training side),
    with an optional screen: ``(classifier fitted on those columns, column names, threshold)``.
    """
    arrs, max_depth = _flat(clf)
    meta = dict(meta, max_depth_seen=max_depth)
    if screen is not None:
        sclf, cols, sthr = screen
        sarrs, sdepth = _flat(sclf)
        meta["screen"] = dict(meta.get("screen") or {}, columns=list(cols), threshold=float(sthr),
                              max_depth_seen=sdepth)
        arrs.update({"screen_" + k: v for k, v in sarrs.items()})
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrs,
                        meta=np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"), dtype=np.uint8))
    return buf.getvalue()


def _average(models: list[ShotModel]) -> ShotModel:
    """One ensemble whose raw score is the mean of ``models``' raw scores (their trees side by side)."""
    k = len(models)
    off = 0
    parts: dict[str, list[np.ndarray]] = {a: [] for a in _ARRAYS}
    for m in models:
        n = m.feature.size
        parts["feature"].append(m.feature)
        parts["threshold"].append(m.threshold)
        parts["left"].append(m.left + off)
        parts["right"].append(m.right + off)
        parts["missing_left"].append(m.missing_left)
        parts["is_leaf"].append(m.is_leaf)
        parts["value"].append(m.value / k)
        parts["roots"].append(m.roots + off)
        off += n
    arrs = {a: np.concatenate(v) for a, v in parts.items()}
    return ShotModel(**arrs, baseline=float(np.mean([m.baseline for m in models])), meta=dict(models[0].meta))


def average_models(models: list[ShotModel], meta: dict[str, Any] | None = None) -> ShotModel:
    """A bag: the ensemble (and screen) whose log-odds are the mean of ``models``' log-odds.

    The models must share their feature vector and screen columns (fits of the same data with
    different seeds). Scoring costs the sum of theirs.
    """
    if not models:
        raise ValueError("average_models needs at least one model")
    first = models[0]
    if any(m.feature_names != first.feature_names or m.screen_columns != first.screen_columns for m in models):
        raise ValueError("models to average must share their features and screen columns")
    main = _average(list(models))
    screen = None
    if first.screen is not None:
        screen = _average([m.screen for m in models])
        screen = replace(screen, meta=dict(first.screen.meta))
    m = dict(meta if meta is not None else first.meta)
    m["bag"] = len(models)
    return replace(main, meta=m, screen=screen, screen_columns=first.screen_columns,
                   screen_threshold=first.screen_threshold)


def model_to_npz(model: ShotModel) -> bytes:
    """The ``.npz`` bytes of a model (and its screen) as :func:`model_from_npz` reads them."""
    def arrays(m: ShotModel, prefix: str) -> dict[str, np.ndarray]:
        out = {prefix + a: getattr(m, a) for a in _ARRAYS}
        out[prefix + "feature"] = out[prefix + "feature"].astype(np.int32)
        out[prefix + "baseline"] = np.asarray([m.baseline])
        return out

    arrs = arrays(model, "")
    meta = dict(model.meta)
    if model.screen is not None:
        arrs.update(arrays(model.screen, "screen_"))
        names = list(meta.get("feature_names", ()))
        meta["screen"] = dict(meta.get("screen") or {}, columns=[names[c] for c in model.screen_columns],
                              threshold=float(model.screen_threshold),
                              max_depth_seen=int(model.screen.meta.get("max_depth_seen", 64)))
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrs,
                        meta=np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"), dtype=np.uint8))
    return buf.getvalue()
