from django.urls import path

from fangzhou.notices import views

app_name = "notices"

urlpatterns = [
    path("", views.home, name="home"),
    path("c/<str:code>/", views.community, name="community"),
    path("c/<str:code>/preview/", views.preview, name="preview"),
    path("c/<str:code>/send/", views.send, name="send"),
    path("c/<str:code>/settings/", views.settings_update, name="settings"),
    path("n/<int:notice_id>/", views.detail, name="detail"),
    path("r/<int:resident_id>/sms/", views.resident_sms, name="resident_sms"),
]
