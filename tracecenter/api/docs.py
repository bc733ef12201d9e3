"""The interactive API docs (Swagger UI) for signed-in users, served from this site.

The stock docs page loads Swagger UI from a CDN, which the site's Content Security
Policy rightly blocks; here the same files, shipped inside django-ninja, are served
from /api/docs/assets/ and the page has no inline script.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ninja
from django.contrib.auth.views import redirect_to_login
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils.html import escape
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET
from ninja.openapi.docs import DocsBase

if TYPE_CHECKING:
    from ninja import NinjaAPI

_ASSET_DIR = Path(ninja.__file__).resolve().parent / "static" / "ninja"
ASSETS = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-init.js": "text/javascript",
    "favicon.png": "image/png",
}


class LocalSwagger(DocsBase):
    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        settings_json = json.dumps({"url": self.get_openapi_url(api, kwargs), "layout": "BaseLayout", "deepLinking": True})
        # Inside <script> HTML escapes are not decoded: escape for JSON instead, so no "</script>" can end it early.
        settings_json = settings_json.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")

        def asset(name: str) -> str:
            return escape(reverse("tc_api_docs_asset", args=[name]))

        html = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(api.title)}</title>
<link rel="stylesheet" href="{asset("swagger-ui.css")}">
<link rel="icon" href="{asset("favicon.png")}">
</head>
<body data-csrf-token="{escape(get_token(request))}" data-api-csrf="true">
<script type="application/json" id="swagger-settings">{settings_json}</script>
<div id="swagger-ui"></div>
<script src="{asset("swagger-ui-bundle.js")}"></script>
<script src="{asset("swagger-ui-init.js")}"></script>
</body>
</html>"""
        return HttpResponse(html)


@require_GET
@cache_control(max_age=86400, public=True)
def docs_asset(request: HttpRequest, name: str) -> FileResponse:
    content_type = ASSETS.get(name)
    if content_type is None:
        raise Http404
    return FileResponse((_ASSET_DIR / name).open("rb"), content_type=content_type)
