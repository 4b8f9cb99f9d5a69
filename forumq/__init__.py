"""forumq: a NodeBB-compatible forum Write API, driven by a message queue."""
