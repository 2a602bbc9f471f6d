from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "contacts"

    def ready(self) -> None:
        from channels_out.inbound import inbound_subscribers
        from contacts.inbound import optout_inbound_subscriber

        # Guide §8.3: opt-out words run first on every inbound message (registered before chatbots).
        if "contacts.optout" not in inbound_subscribers:
            inbound_subscribers.add("contacts.optout", optout_inbound_subscriber)
