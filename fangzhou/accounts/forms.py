"""Forms of the accounts page: a new account, a deputy, a helper from another community."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from fangzhou.accounts.hooks import BuildingChoice, CommunityChoice
from fangzhou.accounts.models import Role, User


class AccountCreateForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"))
    community = forms.ChoiceField(label=_("Community"))
    username = forms.CharField(label=_("User name (for signing in)"), max_length=150)
    display_name = forms.CharField(label=_("Name (as colleagues know it)"), max_length=64)
    phone = forms.CharField(label=_("Phone (optional)"), max_length=20, required=False)
    buildings = forms.MultipleChoiceField(label=_("Buildings (building leader)"), required=False)

    def __init__(
        self,
        *args: Any,
        roles: tuple[Role, ...],
        communities: list[CommunityChoice],
        buildings: list[BuildingChoice],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        role_field = self.fields["role"]
        assert isinstance(role_field, forms.ChoiceField)
        role_field.choices = [(r.value, r.label) for r in roles]
        community_field = self.fields["community"]
        assert isinstance(community_field, forms.ChoiceField)
        community_field.choices = [(c.code, c.name) for c in communities]
        buildings_field = self.fields["buildings"]
        assert isinstance(buildings_field, forms.MultipleChoiceField)
        buildings_field.choices = [(str(b.pk), b.label) for b in buildings]
        buildings_field.widget.attrs["size"] = "6"


class DeputyForm(forms.Form):
    deputy = forms.ChoiceField(label=_("Deputy (acts as secretary)"))
    starts_at = forms.DateTimeField(
        label=_("From (empty: now)"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    ends_at = forms.DateTimeField(
        label=_("Until (empty: until revoked)"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    def __init__(self, *args: Any, candidates: list[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["deputy"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(str(u.pk), f"{u} · {u.get_role_display()}") for u in candidates]


class HelperForm(forms.Form):
    username = forms.CharField(label=_("User name of the colleague"), max_length=150)
