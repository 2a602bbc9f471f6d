from django.apps import AppConfig


class ChannelsOutConfig(AppConfig):
    name = "channels_out"
