"""Volunteers' phones become E.164 like residents' (a sign-up is matched to a resident by phone):
every stored phone was an 11-digit mainland mobile, so it gains +86."""

from typing import Any

from django.db import migrations
from django.db.models import Value
from django.db.models.functions import Concat, Substr


def to_e164(apps: Any, schema_editor: Any) -> None:
    Volunteer = apps.get_model("volunteers", "Volunteer")
    Volunteer.objects.filter(phone__regex=r"^1[3-9][0-9]{9}$").update(phone=Concat(Value("+86"), "phone"))


def to_national(apps: Any, schema_editor: Any) -> None:
    Volunteer = apps.get_model("volunteers", "Volunteer")
    Volunteer.objects.filter(phone__regex=r"^\+861[3-9][0-9]{9}$").update(phone=Substr("phone", 4))


class Migration(migrations.Migration):
    dependencies = [
        ("volunteers", "0002_volunteer_signup_groups_and_availability"),
    ]

    operations = [migrations.RunPython(to_e164, to_national)]
