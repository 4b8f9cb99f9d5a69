"""forumq.runtime: the process-wide GC tuning the API and the workers apply at start."""

import gc

from forumq.runtime import GEN0_THRESHOLD, tune_gc


def test_tune_gc_freezes_the_startup_heap_and_collects_young_objects_less_often() -> None:
    threshold = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_freeze_count() > 10_000  # the imported modules' objects
        assert gc.get_threshold() == (GEN0_THRESHOLD, *threshold[1:])
        # Frozen objects are out of every generation: a full collection skips them.
        assert gc.get_count()[2] == 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
