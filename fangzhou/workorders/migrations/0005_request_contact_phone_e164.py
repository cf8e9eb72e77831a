"""Residents' requests keep their call-back phone as E.164 like residents' (a request is matched to
a resident by phone): every stored one was an 11-digit mainland mobile, so it gains +86."""

from typing import Any

from django.db import migrations
from django.db.models import Value
from django.db.models.functions import Concat, Substr


def to_e164(apps: Any, schema_editor: Any) -> None:
    Request = apps.get_model("workorders", "ResidentRequest")
    Request.objects.filter(contact_phone__regex=r"^1[3-9][0-9]{9}$").update(
        contact_phone=Concat(Value("+86"), "contact_phone")
    )


def to_national(apps: Any, schema_editor: Any) -> None:
    Request = apps.get_model("workorders", "ResidentRequest")
    Request.objects.filter(contact_phone__regex=r"^\+861[3-9][0-9]{9}$").update(
        contact_phone=Substr("contact_phone", 4)
    )


class Migration(migrations.Migration):
    dependencies = [
        ("workorders", "0004_work_order_title_code"),
    ]

    operations = [migrations.RunPython(to_e164, to_national)]
