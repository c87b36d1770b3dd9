"""`studentgraph worker`: its engine's pool fits its slots."""

from __future__ import annotations

from app.cli.worker import pooled_for_slots
from app.config import Settings


def test_the_pool_covers_every_slot_and_the_health_check():
    settings = Settings(database_pool_size=5, worker_concurrency=4)
    assert pooled_for_slots(settings, None).database_pool_size == 6
    assert pooled_for_slots(settings, 12).database_pool_size == 14
    assert pooled_for_slots(settings.model_copy(update={"database_pool_size": 30}), 4) == (
        settings.model_copy(update={"database_pool_size": 30})
    )
