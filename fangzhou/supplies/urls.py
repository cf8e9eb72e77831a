from django.urls import path

from fangzhou.supplies import views

app_name = "supplies"

urlpatterns = [
    path("", views.home, name="home"),
    path("mine/", views.mine, name="mine"),
    path("c/<str:code>/", views.community, name="community"),
    path("c/<str:code>/routes/", views.routes, name="routes"),
    path("d/<int:distribution_id>/", views.distribution, name="distribution"),
    path("d/<int:distribution_id>/allocate/", views.allocate, name="allocate"),
    path("d/<int:distribution_id>/order/", views.order_set, name="order_set"),
    path("d/<int:distribution_id>/import/", views.order_import, name="order_import"),
    path("d/<int:distribution_id>/import/rejected.xlsx", views.order_import_rejected, name="order_import_rejected"),
    path("d/<int:distribution_id>/assign/", views.assign, name="assign"),
    path("d/<int:distribution_id>/sweep/", views.sweep, name="sweep"),
    path("d/<int:distribution_id>/b/<int:building_id>/", views.building_list, name="building"),
    path("d/<int:distribution_id>/b/<int:building_id>/list.pdf", views.building_pdf, name="building_pdf"),
    path("d/<int:distribution_id>/b/<int:building_id>/list.xlsx", views.building_xlsx, name="building_xlsx"),
    path("delivery/<int:delivery_id>/mark/", views.mark, name="mark"),
    path("routes/<int:plan_id>/", views.route_plan, name="route_plan"),
]
