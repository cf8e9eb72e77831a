from django.urls import path

from fangzhou.zones import views

app_name = "zones"

urlpatterns = [
    path("c/<str:code>/", views.community_zones, name="community"),
    path("c/<str:code>/rules/", views.rules_set, name="rules"),
    path("c/<str:code>/override/", views.override_create, name="override"),
    path("o/<int:override_id>/end/", views.override_end, name="override_end"),
    path("c/<str:code>/blocks/", views.blocks, name="blocks"),
    path("z/<int:block_id>/dissolve/", views.block_dissolve, name="block_dissolve"),
    path("p/<str:token>/", views.public_building, name="public"),
]
