from django.urls import path

from fangzhou.reports import views

app_name = "reports"

urlpatterns = [
    path("", views.index, name="index"),
    path("subdistrict.xlsx", views.subdistrict_xlsx, name="subdistrict_xlsx"),
    path("c/<str:code>/", views.daily, name="daily"),
    path("c/<str:code>/daily.xlsx", views.daily_xlsx, name="daily_xlsx"),
    path("c/<str:code>/daily.pdf", views.daily_pdf, name="daily_pdf"),
]
