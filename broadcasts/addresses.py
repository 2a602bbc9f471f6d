"""A recipient's address on a step's channel: the one rule the engine and the fallback preview share.

Phone channels take the recipient's number, e-mail the contact's e-mail. Push and Mobile push reach an app
installation, which a phone number does not identify; the guide does not say where that id comes from
(inventory A §15, §17 [GAP]). Decision: a contact attribute of a fixed name holds it ("Push token" for Push, the
push provider's registration token; "Mobile push ID" for Mobile push, the app's user id in its SDK), created in
the attribute manager and filled by import or the contacts API like any other attribute. A contact without a
value skips the step with that reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from channels_out.kinds import ChannelKind
from channels_out.validation import PHONE_CHANNELS, address_normalize

APP_ADDRESS_ATTRIBUTES: dict[str, str] = {
    ChannelKind.PUSH: "Push token",
    ChannelKind.MOBILE_PUSH: "Mobile push ID",
}


def step_address(
    channel: str,
    *,
    phone: str,
    email: str,
    attributes: Mapping[str, Any],
    attribute_keys: Mapping[str, str],
) -> tuple[str, str]:
    """``(address, "")``, or ``("", why not)``. ``attribute_keys`` maps lower-cased attribute names to their keys."""
    if channel in PHONE_CHANNELS:
        try:
            return address_normalize(channel, phone, default_country="").value, ""
        except ValidationError as exc:
            return "", " ".join(exc.messages)
    if channel == ChannelKind.EMAIL:
        return (email, "") if email else ("", _("No e-mail address."))
    name = APP_ADDRESS_ATTRIBUTES.get(channel)
    key = attribute_keys.get(name.lower()) if name else None
    value = attributes.get(key) if key else None
    if isinstance(value, str) and value.strip():
        return value.strip(), ""
    return "", _('No %(channel)s address: the contact has no value in the "%(attribute)s" attribute.') % {
        "channel": ChannelKind(channel).label,
        "attribute": name or "",
    }
