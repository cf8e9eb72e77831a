"""Uploaded files are written after the transaction commits, so a rollback leaves no orphan file.

A service calls ``file_store_on_commit(delivery, "photo", upload)`` where it used to call
``delivery.photo.save(...)``: the field gets its final name at once (the row is saved with it, in
the service's transaction), and the bytes go to storage in ``transaction.on_commit``. If the
transaction rolls back, nothing was written. If storage picks another name (a concurrent upload of
the same name) or fails, the committed row is corrected after the fact, so it never points at a
file that is not there.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.files.base import File
from django.db import transaction
from django.db.models import Model

log = logging.getLogger(__name__)


def file_store_on_commit(instance: Model, field_name: str, content: File[Any], name: str) -> str:
    """Name ``instance.<field_name>`` now and write ``content`` to storage once the transaction commits.

    The caller saves the instance (with ``field_name`` in ``update_fields``) inside its transaction.
    Returns the name given to the field.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("file_store_on_commit runs inside the service's transaction")
    fieldfile = getattr(instance, field_name)
    field = fieldfile.field
    storage = fieldfile.storage
    wanted = storage.get_available_name(field.generate_filename(instance, name), max_length=field.max_length)
    setattr(instance, field_name, wanted)

    def store() -> None:
        model = type(instance)
        try:
            stored = storage.save(wanted, content, max_length=field.max_length)
        except Exception:
            log.exception("could not store %s for %s %s; the row keeps no file", wanted, model.__name__, instance.pk)
            model._default_manager.filter(pk=instance.pk).update(**{field_name: ""})
            return
        if stored != wanted:
            model._default_manager.filter(pk=instance.pk).update(**{field_name: stored})
            setattr(instance, field_name, stored)

    transaction.on_commit(store)
    return str(wanted)
