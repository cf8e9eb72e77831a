from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "fangzhou.accounts"
    label = "accounts"
    verbose_name = "Accounts"
