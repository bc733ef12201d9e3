from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "tracecenter.demo"
    label = "tc_demo"
