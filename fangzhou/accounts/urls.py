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
    path("people/new/", views.account_create, name="account_create"),
    path("people/<int:user_id>/link/", views.link_make, name="link_make"),
    path("people/<int:user_id>/disable/", views.account_disable, name="account_disable"),
    path("people/<int:user_id>/enable/", views.account_enable, name="account_enable"),
    path("people/c/<str:code>/deputy/", views.deputy_name, name="deputy_name"),
    path("people/deputy/<int:deputy_id>/end/", views.deputy_end, name="deputy_end"),
    path("people/c/<str:code>/helpers/", views.helper_add, name="helper_add"),
    path("people/c/<str:code>/helpers/<int:user_id>/remove/", views.helper_remove, name="helper_remove"),
    path("link/<str:token>/", views.signin_link, name="signin_link"),
    path("tokens/", views.tokens, name="tokens"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
]
