from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "tracecenter.api"
    label = "tc_api"
