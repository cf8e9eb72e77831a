from django.urls import path

from fangzhou.care import views

app_name = "care"

urlpatterns = [
    path("", views.home, name="home"),
    path("c/<str:code>/", views.community, name="community"),
    path("c/<str:code>/sync/", views.sync, name="sync"),
    path("c/<str:code>/escorts/", views.escorts, name="escorts"),
    path("c/<str:code>/checkins/", views.checkins, name="checkins"),
    path("c/<str:code>/checkins/close/", views.checkins_close, name="checkins_close"),
    path("c/<str:code>/medicine/", views.medicine, name="medicine"),
    path("c/<str:code>/medicine/batch/", views.medicine_batch, name="medicine_batch"),
    path("r/<int:profile_id>/", views.profile, name="profile"),
    path("r/<int:profile_id>/checkin/", views.checkin, name="checkin"),
    path("m/<int:request_id>/deliver/", views.medicine_deliver, name="medicine_deliver"),
    path("p/<str:token>/", views.public_status, name="public"),
]
