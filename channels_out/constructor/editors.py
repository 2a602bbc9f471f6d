"""The built-in editors: one schema per non-e-mail format of ``channels_out.formats`` (guide §11-§13, §15-§17).

Limits come from the format modules, so the inputs' ``maxlength`` and the server's check cannot drift apart. The
e-mail block editor and the WhatsApp template picker register their own editors (``register_editor``); the
WhatsApp ``template`` slot is theirs.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from channels_out.constructor.registry import register_editor, schema_editor
from channels_out.constructor.schema import Field
from channels_out.formats import rcs, simple, viber, whatsapp
from channels_out.kinds import ChannelKind

# -- RCS (§11) -------------------------------------------------------------------------------------------------

_HAS_FALLBACK = (("type", ("dial", "map", "calendar")),)
_MAP = (("type", ("map",)),)

SUGGESTION = (
    Field(
        "type",
        _("Type"),
        kind="choice",
        rerender=True,
        choices=(
            ("reply", _("Reply")),
            ("url", _("Open a web address")),
            ("dial", _("Call a number")),
            ("map", _("Show a location")),
            ("calendar", _("Add a calendar event")),
        ),
    ),
    Field("text", _("Button text"), max_length=rcs.CTA_MAX, required=True),
    Field("postback", _("Reply data"), max_length=rcs.POSTBACK_MAX, when=(("type", ("reply",)),)),
    Field("url", _("Web address"), kind="url", required=True, when=(("type", ("url",)),)),
    Field(
        "open_mode",
        _("Open in"),
        kind="choice",
        choices=(("browser", _("The browser")), ("webview", _("A view inside the messaging app"))),
        when=(("type", ("url",)),),
    ),
    Field("phone", _("Phone number"), max_length=32, required=True, when=(("type", ("dial",)),)),
    Field(
        "action",
        _("Call type"),
        kind="choice",
        choices=(
            ("phone", _("Phone call")),
            ("enriched", _("Enriched call (not on Google RBM)")),
            ("video", _("Video call (not on Google RBM)")),
        ),
        when=(("type", ("dial",)),),
    ),
    Field(
        "mode",
        _("Location"),
        kind="choice",
        rerender=True,
        choices=(
            ("coordinates", _("Coordinates")),
            ("query", _("Search query")),
            ("request_location", _("Ask for the recipient's location")),
        ),
        when=_MAP,
    ),
    Field(
        "latitude",
        _("Latitude"),
        kind="degrees",
        required=True,
        help=_("Decimal degrees, e.g. 55.7558."),
        when=(*_MAP, ("mode", ("coordinates",))),
    ),
    Field(
        "longitude",
        _("Longitude"),
        kind="degrees",
        required=True,
        help=_("Decimal degrees, e.g. 37.6173."),
        when=(*_MAP, ("mode", ("coordinates",))),
    ),
    Field("query", _("Search query"), max_length=200, required=True, when=(*_MAP, ("mode", ("query",)))),
    Field("label", _("Place name"), max_length=100, when=(*_MAP, ("mode", ("coordinates", "query")))),
    Field(
        "title",
        _("Event title"),
        max_length=rcs.CALENDAR_TITLE_MAX,
        required=True,
        when=(("type", ("calendar",)),),
    ),
    Field("start", _("Starts"), kind="datetime", required=True, when=(("type", ("calendar",)),)),
    Field("end", _("Ends"), kind="datetime", required=True, when=(("type", ("calendar",)),)),
    Field(
        "description",
        _("Event description"),
        kind="textarea",
        max_length=rcs.CALENDAR_DESCRIPTION_MAX,
        when=(("type", ("calendar",)),),
    ),
    Field(
        "fallback_url",
        _("Fallback web address"),
        kind="url",
        help=_("Opened where the action is not supported."),
        when=_HAS_FALLBACK,
    ),
)


def suggestions(max_items: int) -> Field:
    return Field(
        "suggestions",
        _("Suggestions"),
        kind="list",
        fields=SUGGESTION,
        max_items=max_items,
        item_label=_("Suggestion %(n)d"),
        add_label=_("Add a suggestion"),
        new_item=(("type", "reply"),),
        help=_("Reply chips and actions below the message (at most %(max)d).") % {"max": max_items},
    )


MESSAGE_SUGGESTIONS = suggestions(rcs.MESSAGE_SUGGESTIONS_MAX)
CARD_FIELDS = (
    Field(
        "media",
        _("Image or video"),
        kind="group",
        fields=(Field("url", _("Media"), kind="media", media_kind=""),),
    ),
    Field("title", _("Title"), max_length=rcs.TITLE_MAX),
    Field("text", _("Card text"), kind="textarea", max_length=rcs.TEXT_MAX),
    Field(
        "suggestions",
        _("Card suggestions"),
        kind="list",
        fields=SUGGESTION,
        max_items=rcs.CARD_SUGGESTIONS_MAX,
        item_label=_("Suggestion %(n)d"),
        add_label=_("Add a suggestion to the card"),
        new_item=(("type", "reply"),),
        help=_("Buttons inside the card (at most %(max)d).") % {"max": rcs.CARD_SUGGESTIONS_MAX},
    ),
)
HEIGHTS = (("short", _("Short")), ("medium", pgettext_lazy("image height", "Medium")), ("tall", _("Tall")))

register_editor(
    ChannelKind.RCS,
    "text",
    schema_editor(
        pgettext_lazy("message format", "Text"),
        (
            Field("text", _("Message text"), kind="textarea", max_length=rcs.TEXT_MAX, required=True),
            MESSAGE_SUGGESTIONS,
        ),
    ),
)
register_editor(
    ChannelKind.RCS,
    "file",
    schema_editor(
        pgettext_lazy("message format", "File"),
        (
            Field(
                "file",
                _("File"),
                kind="group",
                fields=(Field("url", _("File"), kind="media", media_kind="", required=True),),
            ),
            MESSAGE_SUGGESTIONS,
        ),
    ),
)
register_editor(
    ChannelKind.RCS,
    "rich_card",
    schema_editor(
        _("Rich card"),
        (
            Field("card", _("Card"), kind="group", fields=CARD_FIELDS),
            Field(
                "layout",
                _("Layout"),
                kind="choice",
                rerender=True,
                choices=(("vertical", _("Vertical")), ("horizontal", _("Horizontal"))),
            ),
            Field(
                "image_alignment",
                _("Image side"),
                kind="choice",
                choices=(("left", _("Left")), ("right", _("Right"))),
                when=(("layout", ("horizontal",)),),
            ),
            Field("image_height", _("Image height"), kind="choice", choices=HEIGHTS, initial="medium"),
            MESSAGE_SUGGESTIONS,
        ),
    ),
)
register_editor(
    ChannelKind.RCS,
    "carousel",
    schema_editor(
        _("Carousel"),
        (
            Field(
                "cards",
                _("Cards"),
                kind="list",
                fields=CARD_FIELDS,
                max_items=rcs.CAROUSEL_MAX,
                min_items=rcs.CAROUSEL_MIN,
                item_label=pgettext_lazy("rich card", "Card %(n)d"),
                add_label=_("Add a card"),
                help=_("From %(min)d to %(max)d cards.") % {"min": rcs.CAROUSEL_MIN, "max": rcs.CAROUSEL_MAX},
            ),
            Field(
                "card_width",
                _("Card width"),
                kind="choice",
                choices=(("medium", pgettext_lazy("card width", "Medium")), ("small", _("Small"))),
            ),
            Field("image_height", _("Image height"), kind="choice", choices=HEIGHTS, initial="medium"),
            MESSAGE_SUGGESTIONS,
        ),
    ),
)

# -- Viber (§12.1) ---------------------------------------------------------------------------------------------

_VIBER_TEXT = Field("text", _("Message text"), kind="textarea", max_length=viber.TEXT_MAX, required=True)
_VIBER_BUTTON = (
    Field("button_text", _("Button text"), max_length=viber.BUTTON_TEXT_MAX, required=True),
    Field("button_url", _("Button web address"), kind="url", required=True),
)
register_editor(
    ChannelKind.VIBER, "text", schema_editor(pgettext_lazy("message format", "Text"), (_VIBER_TEXT,))
)
register_editor(
    ChannelKind.VIBER,
    "file",
    schema_editor(
        pgettext_lazy("message format", "File"),
        (
            Field("url", _("File"), kind="media", media_kind="", required=True),
            Field(
                "name",
                _("File name"),
                max_length=viber.FILE_NAME_MAX,
                help=_("Shown to the recipient; its extension must be one Viber accepts."),
            ),
        ),
    ),
)
register_editor(
    ChannelKind.VIBER, "text_button", schema_editor(_("Text and button"), (_VIBER_TEXT, *_VIBER_BUTTON))
)
register_editor(
    ChannelKind.VIBER,
    "text_media_button",
    schema_editor(
        _("Text, image and button"),
        (
            _VIBER_TEXT,
            Field("image_url", _("Image"), kind="media", media_kind="image", required=True),
            *_VIBER_BUTTON,
        ),
    ),
)

# -- WhatsApp free messages (§13.2); the template format's editor is the assets app's ------------------------

register_editor(
    ChannelKind.WHATSAPP,
    "text",
    schema_editor(
        pgettext_lazy("message format", "Text"),
        (Field("text", _("Message text"), kind="textarea", max_length=whatsapp.TEXT_MAX, required=True),),
    ),
)
register_editor(
    ChannelKind.WHATSAPP,
    "card",
    schema_editor(
        pgettext_lazy("message format", "Card"),
        (
            Field("media_url", _("Image"), kind="media", media_kind="image"),
            Field("header", _("Header"), max_length=whatsapp.CARD_HEADER_MAX),
            Field("body", _("Body"), kind="textarea", max_length=whatsapp.BODY_MAX, required=True),
            Field("footer", _("Footer"), max_length=whatsapp.FOOTER_MAX),
            Field(
                "buttons",
                _("Buttons"),
                kind="list",
                fields=(Field("text", _("Button text"), max_length=whatsapp.BUTTON_TEXT_MAX, required=True),),
                max_items=whatsapp.BUTTONS_MAX,
                min_items=whatsapp.BUTTONS_MIN,
                item_label=_("Button %(n)d"),
                add_label=_("Add a button"),
            ),
        ),
    ),
)
register_editor(
    ChannelKind.WHATSAPP,
    "list",
    schema_editor(
        pgettext_lazy("message format", "List"),
        (
            Field("header", _("Header"), max_length=whatsapp.LIST_HEADER_MAX),
            Field("body", _("Body"), kind="textarea", max_length=whatsapp.BODY_MAX, required=True),
            Field("footer", _("Footer"), max_length=whatsapp.FOOTER_MAX),
            Field(
                "button",
                _("Button that opens the list"),
                max_length=whatsapp.BUTTON_TEXT_MAX,
                required=True,
            ),
            Field(
                "sections",
                _("Sections"),
                kind="list",
                max_items=whatsapp.LIST_OPTIONS_MAX,
                min_items=1,
                item_label=_("Section %(n)d"),
                add_label=_("Add a section"),
                new_item=(),
                help=_("At most %(max)d options in all.") % {"max": whatsapp.LIST_OPTIONS_MAX},
                fields=(
                    Field("title", _("Section title"), max_length=whatsapp.SECTION_TITLE_MAX),
                    Field(
                        "options",
                        _("Options"),
                        kind="list",
                        max_items=whatsapp.LIST_OPTIONS_MAX,
                        min_items=1,
                        item_label=_("Option %(n)d"),
                        add_label=_("Add an option"),
                        fields=(
                            Field(
                                "title",
                                _("Option title"),
                                max_length=whatsapp.OPTION_TITLE_MAX,
                                required=True,
                            ),
                            Field(
                                "description",
                                _("Option description"),
                                max_length=whatsapp.OPTION_DESCRIPTION_MAX,
                            ),
                        ),
                    ),
                ),
            ),
        ),
    ),
)
register_editor(
    ChannelKind.WHATSAPP,
    "file",
    schema_editor(
        pgettext_lazy("message format", "File"),
        (
            Field("url", _("File"), kind="media", media_kind="", required=True),
            Field("name", _("File name"), max_length=viber.FILE_NAME_MAX),
            Field("caption", _("Caption"), kind="textarea", max_length=whatsapp.BODY_MAX),
        ),
    ),
)
register_editor(
    ChannelKind.WHATSAPP,
    "request_location",
    schema_editor(
        _("Request location"),
        (Field("text", _("Message text"), kind="textarea", max_length=whatsapp.BODY_MAX, required=True),),
    ),
)
register_editor(
    ChannelKind.WHATSAPP,
    "send_location",
    schema_editor(
        _("Send location"),
        (
            Field(
                "latitude",
                _("Latitude"),
                kind="degrees",
                required=True,
                help=_("Decimal degrees, e.g. 55.7558."),
            ),
            Field(
                "longitude",
                _("Longitude"),
                kind="degrees",
                required=True,
                help=_("Decimal degrees, e.g. 37.6173."),
            ),
            Field("name", _("Place name"), max_length=100),
            Field("address", _("Address"), max_length=300),
        ),
    ),
)

# -- Push (§15), TTS (§16), mobile push (§17) -----------------------------------------------------------------

register_editor(
    ChannelKind.PUSH,
    "push",
    schema_editor(
        _("Push"),
        (
            Field("image_url", _("Picture"), kind="media", media_kind="image"),
            Field("header", _("Header"), max_length=simple.HEADER_MAX),
            Field("text", _("Body"), kind="textarea", max_length=simple.BODY_MAX),
        ),
    ),
)
register_editor(
    ChannelKind.TTS,
    "tts",
    schema_editor(
        _("Voice message"),
        (
            Field("text", _("Text to read"), kind="textarea", max_length=simple.BODY_MAX, required=True),
            Field(
                "language",
                _("Language"),
                kind="choice",
                choices=(
                    ("en", pgettext_lazy("language of a spoken message", "English")),
                    ("es", _("Spanish")),
                ),
            ),
            Field(
                "repeat",
                _("Repeat"),
                kind="choice",
                choices=(("1", _("Once")), ("2", _("Twice")), ("3", _("Three times"))),
            ),
        ),
    ),
)
register_editor(
    ChannelKind.MOBILE_PUSH,
    "mobile_push",
    schema_editor(
        _("Mobile push"),
        (
            Field("header", _("Header"), max_length=simple.HEADER_MAX, required=True),
            Field("text", _("Body"), kind="textarea", max_length=simple.BODY_MAX, required=True),
        ),
    ),
)
