from django.urls import include, path
from django.views.i18n import set_language

from fangzhou.api import api

urlpatterns = [
    path("i18n/setlang/", set_language, name="set_language"),
    path("api/", api.urls),
    path("accounts/", include("fangzhou.accounts.urls")),
    path("", include("fangzhou.registry.urls")),
]
