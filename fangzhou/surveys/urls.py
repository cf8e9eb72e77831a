from django.urls import path

from fangzhou.surveys import views

app_name = "surveys"

urlpatterns = [
    path("c/<str:code>/", views.survey_list, name="list"),
    path("c/<str:code>/new/", views.survey_new, name="new"),
    path("<int:survey_id>/", views.survey_detail, name="detail"),
    path("<int:survey_id>/questions/", views.question_new, name="question_new"),
    path("<int:survey_id>/status/", views.survey_status, name="status"),
    path("<int:survey_id>/households/", views.survey_households, name="households"),
    path("<int:survey_id>/h/<int:household_id>/", views.answer_form, name="answer"),
    path("<int:survey_id>/export/", views.survey_export, name="export"),
]
