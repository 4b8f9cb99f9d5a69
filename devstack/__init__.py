"""A forumq on this machine, for the tests and the benchmarks: its processes and ports
(``servers``) and fresh, migrated, seeded databases (``databases``).

Run from a checkout (like ``tests`` and ``bench``); not part of the installed package.
"""
