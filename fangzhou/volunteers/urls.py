from django.urls import path

from fangzhou.volunteers import views

app_name = "volunteers"

urlpatterns = [
    path("", views.index, name="index"),
    path("join/<str:token>/", views.signup, name="signup"),
    path("join/<str:token>/done/<str:client_id>/", views.signup_done, name="signup_done"),
    path("qr/", views.signup_qr, name="signup_qr"),
    path("me/", views.me, name="me"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/phone/", views.phone_reveal, name="phone_reveal"),
    path("<int:pk>/approve/", views.approve, name="approve"),
    path("<int:pk>/reject/", views.reject, name="reject"),
    path("<int:pk>/groups/", views.groups_set, name="groups_set"),
    path("<int:pk>/tests/", views.test_record, name="test_record"),
    path("groups/", views.groups, name="groups"),
    path("groups/<int:group_id>/lead/", views.group_lead, name="group_lead"),
    path("roster/", views.roster, name="roster"),
    path("roster.xlsx", views.roster_xlsx, name="roster_xlsx"),
    path("roster/autofill/", views.roster_autofill, name="roster_autofill"),
    path("shifts/new/", views.shift_new, name="shift_new"),
    path("shifts/<int:shift_id>/assign/", views.shift_assign, name="shift_assign"),
    path("assignments/<int:assignment_id>/remove/", views.assignment_remove, name="assignment_remove"),
    path("assignments/<int:assignment_id>/swap/", views.swap_request, name="swap_request"),
    path("swaps/", views.swaps, name="swaps"),
    path("swaps/<int:swap_id>/decide/", views.swap_decide, name="swap_decide"),
]
