"""The mute audit on a real Dask ``distributed.LocalCluster`` (2 worker processes), issue 16.

Needs the ``cluster`` extra (``dask[distributed]``); skipped cleanly without it (the core venv).
``./test`` runs this file in ``.venv``, where the extra is installed.
"""
from __future__ import annotations

import os
import signal

import pytest

distributed = pytest.importorskip("distributed")

pytestmark = [
    # the cluster's own shutdown chatter (sockets closed by the nanny after the test's checks)
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore:Port .* is already in use:UserWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:tornado.*"),
]

N_FILES = 40


@pytest.fixture(scope="module")
def forty(tmp_path_factory):
    """40 audio-only files of 2 s (4 cameras, 2 units), every third muted for 0.8 s."""
    import datetime as dt

    import numpy as np

    from sample_media.audio import speech_like
    from sample_media.encode import write_media

    d = tmp_path_factory.mktemp("forty")
    base = dt.datetime(2026, 9, 1, 8, 0, 0, tzinfo=dt.timezone.utc)
    for k in range(N_FILES):
        y = speech_like(2.0, 16000, rng=k, level_dbfs=-24) + np.random.default_rng(k).normal(0, 0.003, 32000)
        if k % 3 == 0:
            y[8000:20800] = 0.0
        serial = f"X{k % 4:07d}"
        write_media(d / f"cam{k % 4}" / f"clip_{k:03d}.m4a", audio=y.astype(np.float32), sr=16000, video=False,
                    creation_time=base + dt.timedelta(days=20 * (k % 3), minutes=k),
                    metadata={"comment": f"make=Axon; model=Body 3; serial={serial}; unit=u{k % 2}"})
    return d


def _rows(store):
    from media_core.batch.store import AuditStore

    return AuditStore(store).records()


def test_local_cluster_matches_local_pool_and_survives_a_killed_worker(forty, tmp_path):
    from distributed import Client, LocalCluster

    from media_core.batch.audit import run_audit

    local = run_audit([forty], tmp_path / "local", workers=2)
    assert (local.audited, local.added) == (N_FILES, N_FILES)
    killed = {}

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=50) as cluster, Client(cluster) as client:
        pids = client.run(os.getpid)  # worker address -> pid

        def on_record(rec):  # after the 5th record, kill a worker that is busy with a file
            if len([1 for _ in on_record.seen]) == 4 and not killed:
                busy = {w: ts for w, ts in client.processing().items() if ts}
                victim = next(iter(busy or pids))
                killed["tasks"] = len(busy.get(victim, ()))
                killed["pid"] = pids[victim]
                os.kill(pids[victim], signal.SIGKILL)
            on_record.seen.append(rec["sha256"])
        on_record.seen = []

        run = run_audit([forty], tmp_path / "dask", scheduler=client, retries=2, on_record=on_record)
        assert run.where.startswith("dask tcp://") and run.workers == 2
        assert killed and killed["tasks"] >= 1  # the dead worker held files; they were run again
        assert not run.errors
        assert run.added == N_FILES and len(set(on_record.seen)) == N_FILES
    assert cluster.status.name == "closed"
    for pid in pids.values():  # every worker process is gone
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)

    assert _rows(tmp_path / "dask") == _rows(tmp_path / "local")  # the same store, nothing twice
