from django.urls import include, path
from django.views.i18n import set_language

from fangzhou import importsheets, pwa
from fangzhou.api import api

handler500 = "fangzhou.middleware.server_error"

urlpatterns = [
    # First: the public antigen submit is the hot path, and resolution tries these in order (no
    # other prefix here overlaps "testing/").
    path("testing/", include("fangzhou.testing.urls")),
    path("i18n/setlang/", set_language, name="set_language"),
    path("sw.js", pwa.service_worker, name="service_worker"),
    path("manifest.webmanifest", pwa.manifest, name="manifest"),
    path("favicon.ico", pwa.favicon, name="favicon"),
    path("templates/<str:kind>.xlsx", importsheets.template_download, name="import_template"),
    path("offline/pages/", pwa.offline_pages, name="offline_pages"),
    path("api/", api.urls),
    path("accounts/", include("fangzhou.accounts.urls")),
    path("cases/", include("fangzhou.cases.urls")),
    path("surveys/", include("fangzhou.surveys.urls")),
    path("zones/", include("fangzhou.zones.urls")),
    path("volunteers/", include("fangzhou.volunteers.urls")),
    path("orders/", include("fangzhou.workorders.urls")),
    path("supplies/", include("fangzhou.supplies.urls")),
    path("care/", include("fangzhou.care.urls")),
    path("notices/", include("fangzhou.notices.urls")),
    path("reports/", include("fangzhou.reports.urls")),
    path("ops/", include("fangzhou.ops.urls")),
    path("", include("fangzhou.portal.urls")),
    path("", include("fangzhou.registry.urls")),
]
