from django.urls import include, path

urlpatterns = [
    path("", include("tracecenter.workspace.urls")),
    path("", include("tracecenter.api.page_urls")),
    path("accounts/", include("tracecenter.workspace.auth_urls")),
    path("api/", include("tracecenter.api.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
]
