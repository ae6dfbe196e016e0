"""Exports (review video, report, interchange): filled by the export issues."""
