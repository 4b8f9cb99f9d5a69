"""forumq.runtime: the process-wide GC tuning the API and the workers apply at start."""

import gc

from forumq.runtime import GEN0_THRESHOLD, tune_gc


def _in_a_generation(obj: object) -> bool:
    """Whether a collection of the oldest generation would traverse ``obj``."""
    return any(tracked is obj for tracked in gc.get_objects())


def test_tune_gc_freezes_the_startup_heap_and_collects_young_objects_less_often() -> None:
    threshold = gc.get_threshold()
    before = [object()]  # tracked, reachable: like what startup leaves behind
    try:
        tune_gc()
        after = [object()]
        # Frozen objects are out of every generation: a full collection skips them.
        assert gc.is_tracked(before) and not _in_a_generation(before)
        assert _in_a_generation(after)
        assert gc.get_freeze_count() > 10_000  # the imported modules' objects
        assert gc.get_threshold() == (GEN0_THRESHOLD, *threshold[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
