"""Celery workers: apply stored jobs to the forum database."""
