"""The case: the store of feeds, results, clocks, annotations and the audit log (:mod:`.store`),
and its view on the shared clock (:mod:`.timeline`).
"""
from media_core.case.store import Annotation, Case, Claim, Feed, VerifyReport

__all__ = ["Case", "Feed", "Annotation", "Claim", "VerifyReport"]
