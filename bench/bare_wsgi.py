"""The baseline of ``bench/antigen_load.py``: a bare Django view that does one INSERT.

It runs under the same gunicorn settings and against the same database as the real antigen
submit, so the ratio between the two is what Fangzhou's own work costs: identifying the household,
the idempotent submission, the upsert of every member's report, the audit row, the rate limit.

    DATABASE_URL=postgres://… gunicorn bench.bare_wsgi:application
"""

from __future__ import annotations

import os

import dj_database_url
from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-only-" + "x" * 50,
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        DATABASES={"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=600)},
        MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
        INSTALLED_APPS=[],
        USE_TZ=True,
    )

from django.core.wsgi import get_wsgi_application
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

TABLE = "bench_bare_submission"
CREATE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (id bigserial PRIMARY KEY, room varchar(16), day date, "
    "results text, client_id varchar(64) UNIQUE)"
)


@csrf_exempt
def submit(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (room, day, results, client_id) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (client_id) DO NOTHING",
            [
                request.POST.get("room", ""),
                request.POST.get("day"),
                request.POST.get("results", ""),
                request.POST.get("client_id", ""),
            ],
        )
    return JsonResponse({"ok": True, "stored": True})


urlpatterns = [path("submit/", submit)]
application = get_wsgi_application()
