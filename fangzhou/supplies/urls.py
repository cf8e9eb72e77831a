from django.urls import URLPattern

app_name = "supplies"

urlpatterns: list[URLPattern] = []
