from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "tracecenter.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from tracecenter.accounts import (
            jobs,  # noqa: F401  (declares the access review's periodic job)
            sessions,
            sso,  # noqa: F401  (registers the single sign-on configuration checks)
        )

        sessions.connect()
