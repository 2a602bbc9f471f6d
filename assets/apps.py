from django.apps import AppConfig


class AssetsConfig(AppConfig):
    name = "assets"

    def ready(self) -> None:
        # The WhatsApp template editor joins the message constructor's registry (issue #8 item 3).
        from assets.editors import register

        register()
