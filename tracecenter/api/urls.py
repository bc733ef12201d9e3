from django.urls import URLPattern, URLResolver, path

from tracecenter.api.api import api
from tracecenter.api.docs import docs_asset

urlpatterns: list[URLPattern | URLResolver] = [
    path("docs/assets/<str:name>", docs_asset, name="tc_api_docs_asset"),
    path("", api.urls),
]
