"""Dump the report figures of a database as JSON, to compare two branches' code on the same data.

    DATABASE_URL=postgres://… PYTHONPATH=<checkout> python bench/compare_reports.py out.json

Writes the subdistrict table (as a subdistrict officer), the daily reports and the zone reports of
the first five communities, for today and three days ago. Run it with each checkout against the
same database and compare the files: the figures must be byte-identical.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangzhou.settings")


def main() -> None:
    import django

    django.setup()
    from django.utils import timezone

    from fangzhou.accounts.models import Role, User
    from fangzhou.reports import selectors as s
    from fangzhou.zones.selectors import zone_report, zone_report_json

    user = User.objects.filter(role=Role.SUBDISTRICT_OFFICER).first() or User.objects.filter(is_superuser=True).first()
    assert user is not None, "no subdistrict officer or administrator in this database"
    now = timezone.now()
    out: dict[str, object] = {}
    for day in (timezone.localdate(), timezone.localdate() - dt.timedelta(days=3)):
        table = s.subdistrict_json(s.subdistrict_table(user, day, now=now))
        table.pop("as_of")
        out[f"table {day}"] = table
        for c in list(s.communities_read(user))[:5]:
            report = s.report_json(s.daily_report(user, c, day, now=now))
            report.pop("as_of")
            out[f"daily {c.code} {day}"] = report
            out[f"zones {c.code} {day}"] = zone_report_json(zone_report(c, day))
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1, sort_keys=True, default=str)


if __name__ == "__main__":
    main()
