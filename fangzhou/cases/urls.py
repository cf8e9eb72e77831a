from django.urls import path

from fangzhou.cases import contact_views, linelist_views, transfer_views, views

app_name = "cases"

urlpatterns = [
    path("c/<str:code>/", views.case_list, name="list"),
    path("c/<str:code>/new/", views.case_new, name="new"),
    path("<int:case_id>/", views.case_detail, name="detail"),
    path("<int:case_id>/transfer/", views.case_transfer, name="transfer"),
    path("<int:case_id>/pcr/", views.case_pcr, name="pcr"),
    path("<int:case_id>/discharge/", views.case_discharge, name="discharge"),
    path("r/<int:resident_id>/", views.resident_timeline, name="timeline"),
    path("c/<str:code>/contacts/", contact_views.contact_list, name="contacts"),
    path("c/<str:code>/contacts/import/", contact_views.contact_import, name="contacts_import"),
    path("c/<str:code>/contacts/new/", contact_views.contact_new, name="contact_new"),
    path("c/<str:code>/contacts/rejected.xlsx", contact_views.contact_rejected, name="contacts_rejected"),
    path("c/<str:code>/line-lists/", linelist_views.line_lists, name="line_lists"),
    path("c/<str:code>/line-lists/layouts/", linelist_views.layout_save, name="line_list_layout"),
    path("c/<str:code>/line-lists/download/", linelist_views.download, name="line_list_download"),
    path("c/<str:code>/transfers/", transfer_views.transfer_list, name="transfers"),
    path("c/<str:code>/transfers/plan/", transfer_views.transfer_plan, name="transfer_plan"),
    path("c/<str:code>/transfers/sites/", transfer_views.site_save, name="site_save"),
    path("c/<str:code>/transfers/<int:batch_id>/hand-over/", transfer_views.hand_over, name="hand_over"),
    path("c/<str:code>/transfers/<int:batch_id>/cancel/", transfer_views.batch_cancel, name="batch_cancel"),
]
