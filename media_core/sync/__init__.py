"""Place feeds on one shared clock from their audio: offset and drift by robust cross-correlation.

One idea per module:

- :mod:`~media_core.sync.features` -- what sync keeps of a feed from its one streaming decode
  (:class:`SyncFeatures`, :class:`SyncFeatureListener`, :func:`features_from_file`);
- :mod:`~media_core.sync.correlation` -- GCC-PHAT lag curves and their peaks;
- :mod:`~media_core.sync.estimate` -- :class:`SyncEstimate`, what one match concludes;
- :mod:`~media_core.sync.pairwise` -- offset and drift between two feeds
  (:func:`estimate_offset_features`, :func:`estimate_offset`);
- :mod:`~media_core.sync.events` -- one lag per shared impulsive event, a robust line through them;
- :mod:`~media_core.sync.uncertainty` -- a placement's uncertainty in ms and its calibrated confidence;
- :mod:`~media_core.sync.solve` -- every feed's clock from all pairs (:func:`solve_global`);
- :mod:`~media_core.sync.candidates` -- a release: every pair screened cheaply, only the pairs the
  solution needs matched in full;
- :mod:`~media_core.sync.heap` -- resident memory kept near what sync holds (glibc);
- :mod:`~media_core.sync.spill` -- the kept audio and band energies in unlinked temporary files;
- :mod:`~media_core.sync.chunked` -- whole-feed medians and filters a chunk at a time, exactly;
- :mod:`~media_core.sync.metadata` -- timecode and creation-time tags (:func:`metadata_offset`);
- :mod:`~media_core.sync.nudge` -- a hand correction (:func:`apply_nudge`);
- :mod:`~media_core.sync.placement` -- files to the ``evidence-audit.sync/1`` document
  (:func:`sync_files`, :func:`sync_features`).

Conventions: an estimate maps the *other* feed's media time ``u`` onto the *reference* feed's
media time: ``ref = offset_s + u * (1 + drift_ppm * 1e-6)`` -- exactly a
:class:`~media_core.clock.Clock`.
"""
from __future__ import annotations

from .estimate import ALGORITHM_VERSION, UNCERTAIN_BELOW, SyncEstimate
from .features import SyncFeatureListener, SyncFeatures, features_from_array, features_from_file
from .metadata import metadata_offset, timecode_seconds
from .nudge import apply_nudge
from .pairwise import estimate_offset, estimate_offset_features
from .placement import SCHEMA, sync_features, sync_files
from .solve import GlobalSync, solve_global

__all__ = [
    "ALGORITHM_VERSION", "SCHEMA", "UNCERTAIN_BELOW",
    "SyncEstimate", "SyncFeatures", "SyncFeatureListener", "GlobalSync",
    "features_from_array", "features_from_file",
    "estimate_offset", "estimate_offset_features", "solve_global",
    "metadata_offset", "timecode_seconds", "apply_nudge",
    "sync_files", "sync_features",
]
