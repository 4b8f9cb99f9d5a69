"""Benchmarks of the real forumq stack (not tests): see BENCHMARKS.md."""
