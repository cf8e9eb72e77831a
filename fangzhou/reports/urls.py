from django.urls import path

from fangzhou.reports import views

app_name = "reports"

urlpatterns = [
    path("", views.index, name="index"),
    path("subdistrict.xlsx", views.subdistrict_xlsx, name="subdistrict_xlsx"),
    path("c/<str:code>/", views.daily, name="daily"),
    path("c/<str:code>/daily.xlsx", views.daily_xlsx, name="daily_xlsx"),
    path("c/<str:code>/daily.pdf", views.daily_pdf, name="daily_pdf"),
    path("c/<str:code>/charts/", views.community_charts, name="charts"),
    path("c/<str:code>/charts/cases.json", views.chart_cases, name="chart_cases"),
    path("c/<str:code>/charts/antigen.json", views.chart_antigen, name="chart_antigen"),
    path("c/<str:code>/charts/pcr.json", views.chart_pcr, name="chart_pcr"),
    path("c/<str:code>/charts/orders.json", views.chart_orders, name="chart_orders"),
    path("c/<str:code>/charts/siteplan.json", views.chart_plan, name="chart_plan"),
    path("s/<int:subdistrict_id>/screen/", views.screen, name="screen"),
    path("s/<int:subdistrict_id>/screen/live/", views.screen_live, name="screen_live"),
    path("s/<int:subdistrict_id>/screen/cases.json", views.screen_cases, name="screen_cases"),
]
