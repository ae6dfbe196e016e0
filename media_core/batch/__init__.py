"""Work on many files at once: release ingest into a case, and the department-wide mute audit.

* :mod:`~media_core.batch.sources` -- every media file under folders, in a stable order;
* :mod:`~media_core.batch.ingest` -- ``case ingest``: fingerprint, analyse and prepare in child
  processes, store in the case (one writer), sync at the end, resumable;
* :mod:`~media_core.batch.audit` -- the per-file audit record, run on a local process pool or on a
  Dask distributed cluster;
* :mod:`~media_core.batch.store` -- the audit's analytical store (Parquet files, read through DuckDB);
* :mod:`~media_core.batch.summary` -- its summaries as tables, CSV and an HTML page with a chart.
"""
