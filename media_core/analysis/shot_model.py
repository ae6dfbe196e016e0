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
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from media_core.errors import ModelError

__all__ = ["ShotModel", "load_model", "default_model_path", "export_hist_gradient_boosting", "MODEL_DIR"]

MODEL_DIR = pathlib.Path(__file__).resolve().parent / "models"
DEFAULT_MODEL = "shots-2.0.npz"
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
        node = np.broadcast_to(self.roots, (n, self.roots.size)).copy()
        rows = np.arange(n)[:, None]
        depth = int(self.meta.get("max_depth_seen", 64))
        for _ in range(depth + 1):
            leaf = self.is_leaf[node]
            if leaf.all():
                break
            f = self.feature[node]
            x = X[rows, f]
            go_left = np.where(np.isnan(x), self.missing_left[node], x <= self.threshold[node])
            nxt = np.where(go_left, self.left[node], self.right[node])
            node = np.where(leaf, node, nxt)
        return raw + self.value[node].sum(axis=1)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """P(gunshot) for each row (logistic of the ensemble's raw score)."""
        return 1.0 / (1.0 + np.exp(-self.decision_function(X)))


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
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            arrs = {k: np.asarray(z[k]) for k in _ARRAYS}
            baseline = float(np.asarray(z["baseline"]).ravel()[0])
            meta = json.loads(bytes(np.asarray(z["meta"]).tobytes()).decode("utf-8"))
    except (OSError, ValueError, KeyError, EOFError, UnicodeDecodeError, IndexError, zipfile.BadZipFile) as exc:
        raise ModelError(path, f"shot model file is damaged ({type(exc).__name__}: {exc})") from None
    nn = arrs["feature"].size
    if any(arrs[k].size != nn for k in _ARRAYS if k != "roots") or (arrs["roots"].size and arrs["roots"].max() >= nn):
        raise ModelError(path, "shot model file is damaged (node arrays of different lengths)")
    return ShotModel(feature=arrs["feature"].astype(np.int64), threshold=arrs["threshold"].astype(np.float64),
                     left=arrs["left"].astype(np.int64), right=arrs["right"].astype(np.int64),
                     missing_left=arrs["missing_left"].astype(bool), is_leaf=arrs["is_leaf"].astype(bool),
                     value=arrs["value"].astype(np.float64), roots=arrs["roots"].astype(np.int64),
                     baseline=baseline, meta=meta, sha256=sha, path=str(path))


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


def export_hist_gradient_boosting(clf: Any, meta: dict[str, Any]) -> bytes:
    """The ``.npz`` bytes of a fitted binary ``HistGradientBoostingClassifier`` (training side)."""
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
    meta = dict(meta, max_depth_seen=max_depth)
    buf = io.BytesIO()
    np.savez_compressed(buf, feature=np.concatenate(feats), threshold=np.concatenate(thr),
                        left=np.concatenate(left), right=np.concatenate(right),
                        missing_left=np.concatenate(miss), is_leaf=np.concatenate(leaf),
                        value=np.concatenate(val), roots=np.asarray(roots, dtype=np.int64),
                        baseline=np.asarray([float(np.ravel(clf._baseline_prediction)[0])]),
                        meta=np.frombuffer(json.dumps(meta, sort_keys=True).encode("utf-8"), dtype=np.uint8))
    return buf.getvalue()
