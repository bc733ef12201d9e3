"""The pages of API tokens (api/pages.py): each user's own, and the administrators' list."""

from django.urls import path

from tracecenter.api import pages

app_name = "tokens"

urlpatterns = [
    path("account/api-tokens/", pages.my_tokens, name="mine"),
    path("account/api-tokens/revoke/", pages.my_token_revoke, name="revoke_mine"),
    path("administration/api-tokens/", pages.administered_tokens, name="administered"),
    path("administration/api-tokens/<int:pk>/revoke/", pages.administered_token_revoke, name="revoke"),
]
