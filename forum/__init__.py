"""The forum database: models, migrations and write operations.

Operations are plain functions over a SQLAlchemy session; they check privileges
against the acting uid, so every entry point (worker, CLI, tests) shares them.
"""
