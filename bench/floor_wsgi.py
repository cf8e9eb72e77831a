"""The ceiling of ``bench/antigen_load.py --floor``: the public antigen submit's own work in the
bare view's frame.

The view here does what the real submit does between its checks and its answer, with the same
functions: one statement to find the building, the household by room and phone digits, its members,
an earlier submission with the client id and pending re-tests (``selectors.public_antigen_lookup``),
then the service's one-statement write of the submission, the upsert of every member's report and
the audit row (``services.antigen_report_submit``), in autocommit, through Django's cursors as in
production. Around it is only what the baseline (``bench/bare_wsgi.py``) has: Django's handler and
``CommonMiddleware``. Left out is everything else the real submit has: the rate limit and the
identify guard (one Redis script, two after a wrong answer), the CSRF check, the other
middleware, the language and the community's clock. So its req/s against the bare one-INSERT view is the most the submit could reach
on this machine with every guard and header taken away: what the work the issue asks for (one
lookup, one upsert of the household's reports, the audit row) costs by itself.

    DATABASE_URL=postgres://… gunicorn bench.floor_wsgi:application
"""

from __future__ import annotations

import datetime as dt
import json
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangzhou.settings")

import django
from django.conf import settings

django.setup()
# The bare view's frame (bench/bare_wsgi.py): one middleware, this module's one route. Set before
# the handler loads its middleware and resolves its first URL.
settings.MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
settings.ROOT_URLCONF = __name__

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpRequest, HttpResponse, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

from fangzhou.testing import selectors, services  # noqa: E402


@csrf_exempt
def submit(request: HttpRequest, token: str) -> HttpResponse:
    room, phone4 = request.POST.get("room", ""), request.POST.get("phone4", "")
    client_id = request.POST.get("client_id", "")
    day = dt.date.fromisoformat(request.POST.get("day", ""))
    _building, household, read = selectors.public_antigen_lookup(token, room, phone4, client_id=client_id, day=day)
    if household is None:
        return JsonResponse({"ok": False}, status=404)
    results = {int(k): str(v) for k, v in json.loads(request.POST.get("results", "{}")).items() if v}
    outcome = services.antigen_report_submit(
        household=household, day=day, results=results, client_id=client_id, known=read
    )
    return JsonResponse(
        {
            "ok": True,
            "stored": True,
            "client_id": outcome.client_id,
            "duplicate": not outcome.created,
            "reported_at": timezone.localtime().strftime("%H:%M"),
        }
    )


urlpatterns = [path("a/<str:token>/submit/", submit)]
application = get_wsgi_application()
