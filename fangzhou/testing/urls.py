from django.urls import path

from fangzhou.testing import views

app_name = "testing"

urlpatterns = [
    # The residents' public page first: its submit is the hot path (about 1,000 a second at a
    # district's peak) and URL resolution tries the patterns in order. No other pattern starts
    # with "a/", so the order changes nothing else.
    path("a/<str:token>/", views.public, name="public"),
    path("a/<str:token>/identify/", views.public_identify, name="public_identify"),
    path("a/<str:token>/submit/", views.public_submit, name="public_submit"),
    path("", views.home, name="home"),
    path("c/<str:code>/", views.rounds, name="rounds"),
    path("r/<int:round_id>/", views.round_page, name="round"),
    path("r/<int:round_id>/sites/", views.site_add, name="site_add"),
    path("r/<int:round_id>/schedule/", views.schedule, name="schedule"),
    path("r/<int:round_id>/desk/", views.desk, name="desk"),
    path("r/<int:round_id>/desk/take/", views.desk_take, name="desk_take"),
    path("r/<int:round_id>/missing/", views.missing, name="missing"),
    path("r/<int:round_id>/doors/", views.doors, name="doors"),
    path("r/<int:round_id>/doors/take/", views.door_take, name="door_take"),
    path("r/<int:round_id>/manifest.csv", views.manifest, name="manifest"),
    path("r/<int:round_id>/results/", views.upload, {"what": "results"}, name="results_upload"),
    path("r/<int:round_id>/samples/", views.upload, {"what": "samples"}, name="samples_upload"),
    path("r/<int:round_id>/results/rejected.xlsx", views.upload_rejected, {"what": "results"}, name="results_rejected"),
    path("r/<int:round_id>/samples/rejected.xlsx", views.upload_rejected, {"what": "samples"}, name="samples_rejected"),
    path("tubes/<int:tube_id>/close/", views.tube_close, name="tube_close"),
    path("retests/<int:retest_id>/confirm/", views.retest_confirm, name="retest_confirm"),
    path("qr/<int:resident_id>.svg", views.resident_qr, name="resident_qr"),
    path("b/<int:building_id>/cards/", views.building_cards, name="building_cards"),
    path("antigen/c/<str:code>/", views.antigen_glance, name="antigen"),
    path("antigen/b/<int:building_id>/", views.antigen_building, name="antigen_building"),
    path("antigen/h/<int:household_id>/report/", views.antigen_on_behalf, name="antigen_on_behalf"),
    path("antigen/b/<int:building_id>/poster.pdf", views.poster, name="poster"),
]
