from django.contrib.auth import views as auth_views
from django.urls import path

from fangzhou.accounts import views

app_name = "accounts"

urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="accounts/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", views.password_change, name="password_change"),
    path("people/", views.people, name="people"),
    path("people/<int:user_id>/link/", views.link_make, name="link_make"),
    path("link/<str:token>/", views.signin_link, name="signin_link"),
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
]
