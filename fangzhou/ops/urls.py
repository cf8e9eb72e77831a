from django.urls import path

from fangzhou.ops import views

app_name = "ops"

urlpatterns = [
    path("c/<str:code>/emergency/", views.emergency, name="emergency"),
    path("c/<str:code>/emergency/end/", views.emergency_end, name="emergency_end"),
    path("c/<str:code>/emergency/withdraw/", views.emergency_withdraw, name="emergency_withdraw"),
]
