"""Bulk import: set-based domain operations for high-volume importers.

``apply_items`` creates users, categories, topics and replies chunk by chunk (used
by the bulk worker and by ``forumq import --direct``); ``forum.jobqueue.chunks`` keeps a
bulk job's per-item results and progress in the same transaction.
"""

from forum.bulk.apply import CREATED, EXISTING, FAILED, ChunkResult, ItemResult, apply_items

__all__ = ["CREATED", "EXISTING", "FAILED", "ChunkResult", "ItemResult", "apply_items"]
