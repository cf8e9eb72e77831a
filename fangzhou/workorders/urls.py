from django.urls import path

from fangzhou.workorders import views

app_name = "workorders"

urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.order_new, name="new"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/claim/", views.claim, name="claim"),
    path("<int:pk>/<str:action>/", views.act, name="act"),
    path("requests/", views.requests_board, name="requests"),
    path("requests/new/", views.request_record, name="request_record"),
    path("requests/type/", views.request_type, name="request_type"),
    path("requests/<int:pk>/escalate/", views.request_escalate, name="request_escalate"),
    path("p/<str:token>/", views.public_request, name="public"),
    path("p/<str:token>/r/<str:reference>/", views.public_status, name="public_status"),
]
