from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "fangzhou.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from axes.signals import user_locked_out

        from fangzhou.accounts.services import on_user_locked_out

        user_locked_out.connect(on_user_locked_out, dispatch_uid="fangzhou.accounts.lockout")
