"""Evidence Audit engine: decoding, analysis, sync, the case store and exports. Never imports Qt."""
__version__ = "0.1.0"
