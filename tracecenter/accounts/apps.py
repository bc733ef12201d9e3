from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "tracecenter.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from tracecenter.accounts import sessions

        sessions.connect()
