from __future__ import annotations

import logging

from celery import shared_task

from sla.services import sla_sweep

logger = logging.getLogger(__name__)


@shared_task(expires=55, soft_time_limit=50)
def sweep() -> dict[str, int]:
    result = sla_sweep()
    if result.warned or result.breached:
        logger.info("SLA sweep: %s warned, %s breached", len(result.warned), len(result.breached))
    return {"warned": len(result.warned), "breached": len(result.breached)}
