from django.urls import path

from fangzhou.cases import views

app_name = "cases"

urlpatterns = [
    path("c/<str:code>/", views.case_list, name="list"),
    path("c/<str:code>/new/", views.case_new, name="new"),
    path("<int:case_id>/", views.case_detail, name="detail"),
    path("<int:case_id>/transfer/", views.case_transfer, name="transfer"),
    path("<int:case_id>/pcr/", views.case_pcr, name="pcr"),
    path("<int:case_id>/discharge/", views.case_discharge, name="discharge"),
    path("r/<int:resident_id>/", views.resident_timeline, name="timeline"),
]
