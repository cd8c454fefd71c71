from __future__ import annotations

from celery import shared_task

from accounts.mail import Purpose, account_mail_send


# OSError covers SMTP errors and refused connections: retried with backoff, about a day in all.
@shared_task(
    autoretry_for=(OSError,), retry_backoff=30, retry_backoff_max=3600, max_retries=12, acks_late=True, expires=86400
)
def account_mail(purpose: str, email: str, name: str = "") -> None:
    chosen: Purpose = "register" if purpose == "register" else "staff_reset" if purpose == "staff_reset" else "reset"
    account_mail_send(purpose=chosen, email=email, name=name)
