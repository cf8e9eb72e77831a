"""Fill Resident.search_key for the rows that existed before it: one UPDATE per 500 distinct names."""

from django.db import migrations
from django.db.models import Case, Value, When

from fangzhou.registry.namekeys import name_search_key

BATCH = 500


def backfill(apps, schema_editor):
    Resident = apps.get_model("registry", "Resident")
    names = sorted(set(Resident.objects.filter(search_key="").values_list("name", flat=True)))
    for start in range(0, len(names), BATCH):
        batch = names[start : start + BATCH]
        Resident.objects.filter(name__in=batch, search_key="").update(
            search_key=Case(*[When(name=n, then=Value(name_search_key(n))) for n in batch], default=Value(""))
        )


class Migration(migrations.Migration):
    dependencies = [("registry", "0006_compound_short_name_resident_search_key")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True)]
