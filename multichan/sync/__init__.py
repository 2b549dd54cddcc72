"""Sync: push offers to API channels. ``plan`` diffs offers against the last confirmed state,
``push`` sends the difference in batches, ``state`` keeps push state and the run journal."""
