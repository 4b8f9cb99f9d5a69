"""The HTTP front: authenticate, validate, store the job, enqueue, answer."""
