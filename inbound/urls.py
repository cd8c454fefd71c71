"""Admin pages for mail: mailboxes, messages that could not be processed, the outbox."""

app_name = "mail"

urlpatterns: list = []
