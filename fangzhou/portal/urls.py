from django.urls import path

from fangzhou.portal import views

app_name = "portal"

urlpatterns = [
    # Residents (no account): the household pass is a cookie sent only under /home/.
    path("home/p/<str:token>/", views.household_enter, name="enter"),
    path("home/", views.household, name="household"),
    path("home/leave/", views.household_leave, name="leave"),
    path("home/left/", views.household_left, name="left"),
    path("home/push/", views.push_subscribe, name="push"),
    path("home/surveys/<int:survey_id>/", views.household_survey, name="survey"),
    # Building leaders: a notice as the building's WeChat group text and door notice.
    path("portal/group/", views.group_notices, name="group_notices"),
    path("portal/group/<int:notice_id>/<int:building_id>/", views.group_text_page, name="group_text"),
    path("portal/group/<int:notice_id>/<int:building_id>/door.pdf", views.group_door_notice, name="group_door"),
]
