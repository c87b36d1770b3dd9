"""The task runner: claims accepted tasks, applies them, records the outcome, retries."""

from app.worker.runner import Worker

__all__ = ["Worker"]
