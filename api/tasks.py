from __future__ import annotations

from celery import shared_task

from api.models import WebhookDelivery
from api.webhooks import backoff, webhook_deliveries_due, webhook_delivery_send


@shared_task(acks_late=True, ignore_result=True)
def webhook_deliver(delivery_id: int) -> None:
    """One try; after a failure the next try is scheduled at the delivery's backoff (the
    resender would find it too: the claim keeps the two from sending it twice)."""
    if webhook_delivery_send(delivery_id=delivery_id) is not False:
        return
    row = WebhookDelivery.objects.filter(pk=delivery_id).values("state", "attempts").first()
    if row is not None and row["state"] == "pending" and row["attempts"]:
        webhook_deliver.apply_async((delivery_id,), countdown=backoff(row["attempts"]).total_seconds())


@shared_task(expires=55, ignore_result=True)
def webhooks_resend_due() -> int:
    ids = webhook_deliveries_due()
    for delivery_id in ids:
        webhook_deliver.delay(delivery_id)
    return len(ids)
