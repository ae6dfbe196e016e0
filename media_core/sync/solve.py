"""N feeds on one time line: every feed's clock from all pairwise estimates (:func:`solve_global`).

Log-rates are solved first by weighted least squares (``log r_b - log r_a = log(1 + drift_ab)``,
exact for any drift), then offsets at each pair's overlap midpoint, both weighted by confidence.
Loops whose pairwise offsets disagree are reported and their worst pair dropped.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from media_core.clock import IDENTITY, Clock, ppm_to_log_rate
from media_core.errors import ParameterError

from .estimate import SyncEstimate


@dataclass
class GlobalSync:
    """Every feed's clock on the reference's time line, from pairwise estimates."""

    reference: Any
    clocks: dict[Any, Clock]
    confidence: dict[Any, float]
    unplaced: dict[Any, str]
    warnings: list[str]
    residuals_ms: dict[tuple[Any, Any], float]
    edges_used: list[tuple[Any, Any]]
    #: per placed feed: its :class:`~media_core.sync.uncertainty.Uncertainty` along its best chain
    uncertainty: dict[Any, Any] = field(default_factory=dict)
    #: per placed feed: the feeds its best chain passes through, reference first
    chain: dict[Any, list] = field(default_factory=dict)
    #: per placed feed: the probability that every match along its chain is right
    p_correct: dict[Any, float] = field(default_factory=dict)


def solve_global(pairwise: Mapping[tuple[Any, Any], SyncEstimate], *, reference=None,
                 durations: Mapping[Any, float] | None = None, feeds: Sequence[Any] | None = None,
                 tolerance_s: float = 0.015, names: Mapping[Any, str] | None = None) -> GlobalSync:
    """Solve every feed's clock from pairwise estimates by weighted least squares.

    Parameters
    ----------
    pairwise : mapping (a, b) -> SyncEstimate
        ``est`` maps feed ``b``'s media time onto feed ``a``'s. Uncertain estimates are ignored.
    reference : feed id, optional
        The feed whose clock is the identity; default: the longest (``durations``), else the
        first feed.
    durations : mapping feed id -> seconds, optional
    feeds : sequence of feed ids, optional
        Feeds to place (default: every id in ``pairwise`` and ``durations``).
    tolerance_s : float
        Loops whose pairwise offsets disagree by more than this are reported in ``warnings``;
        the worst contradicting pair is dropped while the rest still connects the feeds.
    names : mapping feed id -> str, optional
        How warnings and reasons name the feeds (default: the ids).

    Returns
    -------
    GlobalSync
        Log-rates are solved first (``log r_b - log r_a = log(1 + drift_ab)``, exact for any
        drift), then offsets at each pair's overlap midpoint, both weighted by confidence.
    """
    ids: list[Any] = list(feeds) if feeds is not None else []
    for a, b in pairwise:
        for x in (a, b):
            if x not in ids:
                ids.append(x)
    for x in (durations or {}):
        if x not in ids:
            ids.append(x)
    if not ids:
        raise ParameterError("solve_global needs at least one feed")
    if reference is None:
        reference = max(ids, key=lambda x: (durations or {}).get(x, 0.0)) if durations else ids[0]
    if reference not in ids:
        raise ParameterError(f"reference {reference!r} is not one of the feeds")
    edges = {k: e for k, e in pairwise.items()
             if e is not None and not e.uncertain and k[0] != k[1] and k[0] in ids and k[1] in ids}
    warnings: list[str] = []

    def nm(x) -> str:
        return str((names or {}).get(x, x))

    only_links: set = set()
    while True:
        placed = _reachable(reference, edges)
        sol = _solve_ls(reference, placed, edges)
        res = {k: _edge_residual(sol, k, e) for k, e in edges.items() if k[0] in placed}
        bad = {k: r for k, r in res.items() if abs(r) > tolerance_s and k not in only_links}
        if not bad:
            break
        worst = max(bad, key=lambda k: abs(bad[k]) / max(edges[k].confidence, 1e-3))
        warnings.append(f"pairwise results contradict: {nm(worst[0])} vs {nm(worst[1])} is off the joint "
                        f"solution by {res[worst] * 1e3:.1f} ms (loop inconsistency); pair dropped")
        trial = dict(edges)
        trial.pop(worst)
        if _reachable(reference, trial) != placed:
            warnings[-1] = warnings[-1].replace("pair dropped", "kept: it is the only link")
            only_links.add(worst)     # the other contradictions are still looked at
            continue
        edges = trial
    clocks = {x: sol[x] for x in placed}
    clocks[reference] = IDENTITY
    conf = _widest_paths(reference, edges)
    unc, chain, p_ok = _best_chains(reference, edges)
    unplaced = {x: "no confident audio match links it to the reference" for x in ids if x not in placed}
    for (a, b), e in pairwise.items():
        if e is not None and e.uncertain and b in unplaced:
            unplaced[b] = f"audio match to {nm(a)} uncertain: {e.uncertain_reason}"
        elif e is not None and e.uncertain and a in unplaced:
            unplaced[a] = f"audio match to {nm(b)} uncertain: {e.uncertain_reason}"
    return GlobalSync(reference=reference, clocks=clocks,
                      confidence={x: round(conf.get(x, 0.0), 3) for x in placed} | {reference: 1.0},
                      unplaced=unplaced, warnings=warnings,
                      residuals_ms={k: round(r * 1e3, 3) for k, r in res.items()},
                      edges_used=list(edges), uncertainty=unc, chain=chain, p_correct=p_ok)


def _reachable(ref, edges) -> set:
    adj: dict[Any, set] = {}
    for a, b in edges:
        adj.setdefault(a, set()).add(b)
        adj.setdefault(b, set()).add(a)
    seen, todo = {ref}, [ref]
    while todo:
        x = todo.pop()
        for y in adj.get(x, ()):
            if y not in seen:
                seen.add(y)
                todo.append(y)
    return seen


def _widest_paths(ref, edges) -> dict:
    """Per feed, the best bottleneck confidence over paths from the reference."""
    best = {ref: 1.0}
    changed = True
    while changed:
        changed = False
        for (a, b), e in edges.items():
            for x, y in ((a, b), (b, a)):
                if x in best:
                    c = min(best[x], e.confidence)
                    if c > best.get(y, -1.0):
                        best[y] = c
                        changed = True
    return best


def _best_chains(ref, edges):
    """Per feed, the chain of matches from the reference with the smallest compounded uncertainty
    (Dijkstra on the 90 % bound; errors along a chain add in quadrature).
    """
    import heapq

    from .uncertainty import ZERO, of_estimate

    adj: dict[Any, list] = {}
    for (a, b), e in edges.items():
        u = of_estimate(e)
        adj.setdefault(a, []).append((b, u, e.p_correct))
        adj.setdefault(b, []).append((a, u, e.p_correct))
    best = {ref: (0.0, ZERO, [ref], 1.0)}
    heap = [(0.0, 0, ref)]
    tie = 1
    while heap:
        d, _, x = heapq.heappop(heap)
        if d > best[x][0] + 1e-15:
            continue
        _, ux, path, px = best[x]
        for y, u, p in adj.get(x, ()):
            uy = ux.compound(u)
            dy = uy.bound_s ** 2
            if y not in best or dy < best[y][0] - 1e-15:
                best[y] = (dy, uy, path + [y], px * p)
                heapq.heappush(heap, (dy, tie, y))
                tie += 1
    return ({x: v[1] for x, v in best.items()}, {x: v[2] for x, v in best.items()},
            {x: v[3] for x, v in best.items()})


def _mid(e: SyncEstimate) -> float:
    return float(e.evidence.get("measurements", {}).get("overlap_mid_other_s", 0.0))


def _solve_ls(ref, placed: set, edges) -> dict[Any, Clock]:
    """The clock of every placed feed: weighted LS on log-rates, then on offsets."""
    order = [ref] + [x for x in placed if x != ref]
    idx = {x: i for i, x in enumerate(order)}
    n = len(order)
    use = [(k, e) for k, e in edges.items() if k[0] in idx and k[1] in idx]
    if n == 1 or not use:
        return {ref: IDENTITY}
    from .uncertainty import of_estimate

    w = np.array([max(e.confidence, 1e-3) / max(of_estimate(e).sigma_s, 2e-4) ** 2 for _, e in use])
    # rates
    A = np.zeros((len(use), n - 1))
    y = np.zeros(len(use))
    for r, ((a, b), e) in enumerate(use):
        if idx[b]:
            A[r, idx[b] - 1] += 1.0
        if idx[a]:
            A[r, idx[a] - 1] -= 1.0
        y[r] = ppm_to_log_rate(e.drift_ppm)
    sw = np.sqrt(w)
    lr, *_ = np.linalg.lstsq(A * sw[:, None], y * sw, rcond=None)
    rate = np.concatenate([[1.0], np.exp(lr)])
    # offsets: o_b + r_b m = o_a + r_a e_ab(m), m = overlap midpoint in b, e_ab the pair's clock
    A = np.zeros((len(use), n - 1))
    for r, ((a, b), e) in enumerate(use):
        m = _mid(e)
        if idx[b]:
            A[r, idx[b] - 1] += 1.0
        if idx[a]:
            A[r, idx[a] - 1] -= 1.0
        y[r] = rate[idx[a]] * e.clock.to_shared(m) - rate[idx[b]] * m
    off, *_ = np.linalg.lstsq(A * sw[:, None], y * sw, rcond=None)
    off = np.concatenate([[0.0], off])
    return {x: Clock.from_rate(float(off[idx[x]]), float(rate[idx[x]])) for x in order}


def _edge_residual(sol: Mapping[Any, Clock], k, e: SyncEstimate) -> float:
    """How far the joint solution puts pair ``k``'s overlap midpoint from where the pair put it (s)."""
    a, b = k
    if a not in sol or b not in sol:
        return 0.0
    m = _mid(e)
    return sol[b].to_shared(m) - sol[a].to_shared(e.clock.to_shared(m))
