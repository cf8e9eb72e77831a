from django.urls import path

from fangzhou.registry import views

app_name = "registry"

urlpatterns = [
    path("", views.home, name="overview"),
    path("c/<str:code>/", views.community_overview, name="community"),
    path("c/<str:code>/roster/", views.roster_upload, name="roster_upload"),
    path("c/<str:code>/roster.xlsx", views.roster_download, name="roster_download"),
    path("c/<str:code>/roster/rejected.xlsx", views.roster_rejected, name="roster_rejected"),
    path("b/<int:building_id>/", views.building_detail, name="building"),
    path("residents/", views.resident_search, name="resident_search"),
    path("r/<int:resident_id>/unmask/", views.resident_unmask, name="resident_unmask"),
    path("r/<int:resident_id>/call/", views.resident_call, name="resident_call"),
    path("transfers/", views.transfers, name="transfers"),
    path("transfers/<int:transfer_id>/decide/", views.transfer_decide, name="transfer_decide"),
    path("p/<str:token>/", views.public_building, name="public"),
]
