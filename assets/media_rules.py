"""What each channel accepts as media, and what a file really is (guide §12.1, §7.4 per channel; issue #8 item 6).

The media library itself takes any media or document format up to 500 MB (guide §12.1, L3583). A picker opened
for a channel accepts only what that channel can send:

- **Viber** (guide §7.4.3, L1249): the file whitelist .jpg .jpeg .png .bmp .gif .svg .mp4 .csv .doc .docx .dot
  .dotx .eps .fods .fodt .info .odf .ods .odt .pdax .pdf .rtf .txt .xls .xlsx .xltx .xps, at most 200 MB; the
  Text+Media+Button image is one of the image types (L1256). The lists are ``channels_out.formats.viber``'s.
- **WhatsApp** (guide §7.4.4, L1428): images JPG JPEG PNG WEBP; audio OGG AMR 3GP AAC MPEG; documents PDF DOC
  DOCX PPTX XLSX; video MP4. Sizes from the vendor API (seed 004 E090): image ≤ 5 MB, audio and video ≤ 16 MB,
  document ≤ 100 MB.
- **RCS** [GAP: the guide gives no limit]: Google RBM's media rules, images JPEG PNG GIF, video MP4 and documents
  PDF, at most 100 MB.
- **Push picture** [GAP]: JPG or PNG up to 1 MB (the FCM notification image limit).
- **E-mail image** [GAP]: JPG PNG GIF up to 5 MB (kept small so that mail clients load it).

The real type is read from the first bytes of the file (``sniff``); the extension must agree with it, so a
renamed executable is not accepted as a picture.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO

from django.db import models
from django.utils.translation import gettext_lazy as _

from channels_out.formats import viber as viber_format
from channels_out.formats import whatsapp as whatsapp_format
from channels_out.kinds import ChannelKind

MB = 1024 * 1024
LIBRARY_MAX_SIZE = 500 * MB  # guide §12.1 (L3583): any format, max. 500 MB
SNIFF_BYTES = 8192


class MediaKind(models.TextChoices):
    IMAGE = "image", _("Image")
    VIDEO = "video", _("Video")
    AUDIO = "audio", _("Audio")
    DOCUMENT = "document", _("Document")


# Extension -> (kind, content type). Every extension the channels accept is here, so a sniffed type can be named.
TYPES: dict[str, tuple[str, str]] = {
    "jpg": (MediaKind.IMAGE, "image/jpeg"),
    "jpeg": (MediaKind.IMAGE, "image/jpeg"),
    "png": (MediaKind.IMAGE, "image/png"),
    "gif": (MediaKind.IMAGE, "image/gif"),
    "bmp": (MediaKind.IMAGE, "image/bmp"),
    "webp": (MediaKind.IMAGE, "image/webp"),
    "svg": (MediaKind.IMAGE, "image/svg+xml"),
    "mp4": (MediaKind.VIDEO, "video/mp4"),
    "3gp": (MediaKind.VIDEO, "video/3gpp"),
    "mov": (MediaKind.VIDEO, "video/quicktime"),
    "webm": (MediaKind.VIDEO, "video/webm"),
    "ogg": (MediaKind.AUDIO, "audio/ogg"),
    "opus": (MediaKind.AUDIO, "audio/ogg"),
    "amr": (MediaKind.AUDIO, "audio/amr"),
    "aac": (MediaKind.AUDIO, "audio/aac"),
    "mp3": (MediaKind.AUDIO, "audio/mpeg"),
    "mpeg": (MediaKind.AUDIO, "audio/mpeg"),
    "wav": (MediaKind.AUDIO, "audio/wav"),
    "m4a": (MediaKind.AUDIO, "audio/mp4"),
    "pdf": (MediaKind.DOCUMENT, "application/pdf"),
    "doc": (MediaKind.DOCUMENT, "application/msword"),
    "dot": (MediaKind.DOCUMENT, "application/msword"),
    "xls": (MediaKind.DOCUMENT, "application/vnd.ms-excel"),
    "ppt": (MediaKind.DOCUMENT, "application/vnd.ms-powerpoint"),
    "docx": (MediaKind.DOCUMENT, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    "dotx": (MediaKind.DOCUMENT, "application/vnd.openxmlformats-officedocument.wordprocessingml.template"),
    "xlsx": (MediaKind.DOCUMENT, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "xltx": (MediaKind.DOCUMENT, "application/vnd.openxmlformats-officedocument.spreadsheetml.template"),
    "pptx": (MediaKind.DOCUMENT, "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    "odt": (MediaKind.DOCUMENT, "application/vnd.oasis.opendocument.text"),
    "ods": (MediaKind.DOCUMENT, "application/vnd.oasis.opendocument.spreadsheet"),
    "odf": (MediaKind.DOCUMENT, "application/vnd.oasis.opendocument.formula"),
    "fodt": (MediaKind.DOCUMENT, "application/vnd.oasis.opendocument.text-flat-xml"),
    "fods": (MediaKind.DOCUMENT, "application/vnd.oasis.opendocument.spreadsheet-flat-xml"),
    "xps": (MediaKind.DOCUMENT, "application/vnd.ms-xpsdocument"),
    "eps": (MediaKind.DOCUMENT, "application/postscript"),
    "rtf": (MediaKind.DOCUMENT, "application/rtf"),
    "txt": (MediaKind.DOCUMENT, "text/plain"),
    "csv": (MediaKind.DOCUMENT, "text/csv"),
    "info": (MediaKind.DOCUMENT, "text/plain"),
    "pdax": (MediaKind.DOCUMENT, "application/octet-stream"),
    "zip": (MediaKind.DOCUMENT, "application/zip"),
}

_OOXML = {"docx", "dotx", "xlsx", "xltx", "pptx"}
_ODF = {"odt", "ods", "odf"}
_OLE = {"doc", "dot", "xls", "ppt"}
_TEXT = {"txt", "csv", "info"}
_XML = {"fodt", "fods"}


def extension(name: str) -> str:
    return viber_format.extension(name)


def _zip_names(head: bytes, stream: IO[bytes] | None) -> list[str]:
    if stream is None:
        return []
    try:
        stream.seek(0)
        with zipfile.ZipFile(stream) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return []
    finally:
        stream.seek(0)


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the end of the sniffed window is still text.
        return exc.start >= len(head) - 3
    return True


def _mp4_brand(head: bytes) -> bytes:
    return head[8:12] if head[4:8] == b"ftyp" else b""


def matches(ext: str, head: bytes, stream: IO[bytes] | None = None) -> bool:
    """Whether the first bytes ``head`` are a file of type ``ext`` (``stream`` lets zip-based types be opened)."""
    if ext in ("jpg", "jpeg"):
        return head.startswith(b"\xff\xd8\xff")
    if ext == "png":
        return head.startswith(b"\x89PNG\r\n\x1a\n")
    if ext == "gif":
        return head[:6] in (b"GIF87a", b"GIF89a")
    if ext == "bmp":
        return head.startswith(b"BM")
    if ext == "webp":
        return head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    if ext == "svg":
        text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
        return _is_text(head) and (
            text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in text)
        )
    if ext in ("mp4", "m4a", "mov"):
        return bool(_mp4_brand(head)) and not _mp4_brand(head).startswith(b"3g")
    if ext == "3gp":
        return _mp4_brand(head).startswith(b"3g")
    if ext == "webm":
        return head.startswith(b"\x1a\x45\xdf\xa3")
    if ext in ("ogg", "opus"):
        return head.startswith(b"OggS")
    if ext == "amr":
        return head.startswith(b"#!AMR")
    if ext == "aac":
        return len(head) > 1 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0
    if ext in ("mp3", "mpeg"):
        return head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)
    if ext == "wav":
        return head[:4] == b"RIFF" and head[8:12] == b"WAVE"
    if ext == "pdf":
        return head.startswith(b"%PDF-")
    if ext in _OLE:
        return head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
    if ext in _OOXML or ext == "xps":
        if not head.startswith(b"PK\x03\x04"):
            return False
        names = _zip_names(head, stream)
        if ext == "xps":
            return any(n.startswith("Documents/") or n.endswith(".fdseq") for n in names)
        top = {"docx": "word/", "dotx": "word/", "xlsx": "xl/", "xltx": "xl/", "pptx": "ppt/"}[ext]
        return "[Content_Types].xml" in names and any(n.startswith(top) for n in names)
    if ext in _ODF:
        # ODF packages start with an uncompressed "mimetype" member naming the document type.
        return head.startswith(b"PK\x03\x04") and b"mimetypeapplication/vnd.oasis.opendocument" in head[:100]
    if ext == "zip":
        return head.startswith((b"PK\x03\x04", b"PK\x05\x06"))
    if ext in _XML:
        return _is_text(head) and b"office:document" in head
    if ext == "eps":
        return head.startswith((b"%!PS", b"\xc5\xd0\xd3\xc6"))
    if ext == "rtf":
        return head.startswith(b"{\\rtf")
    if ext in _TEXT:
        return _is_text(head)
    # pdax (a packaged PDF format with no published signature) and unknown types: not recognisable.
    return False


@dataclass(frozen=True)
class Sniffed:
    ext: str
    kind: str
    content_type: str


def sniff(name: str, stream: IO[bytes]) -> Sniffed | None:
    """The type of an uploaded file: its extension, confirmed by its first bytes. ``None`` if they disagree."""
    ext = extension(name)
    if ext not in TYPES:
        return None
    stream.seek(0)
    head = stream.read(SNIFF_BYTES)
    stream.seek(0)
    if ext != "pdax" and not matches(ext, head, stream):
        return None
    kind, content_type = TYPES[ext]
    return Sniffed(ext=ext, kind=kind, content_type=content_type)


@dataclass(frozen=True)
class ChannelRule:
    """What one channel takes: per media kind the allowed extensions and the size limit in bytes."""

    label: str
    kinds: Mapping[str, tuple[frozenset[str], int]]

    def extensions(self, kind: str = "") -> frozenset[str]:
        if kind:
            return self.kinds.get(kind, (frozenset(), 0))[0]
        return frozenset().union(*(exts for exts, _size in self.kinds.values()))

    def max_size(self, kind: str) -> int:
        return self.kinds.get(kind, (frozenset(), 0))[1]


def _split(exts: frozenset[str], limit: int) -> dict[str, tuple[frozenset[str], int]]:
    """Group a flat whitelist by media kind, with one size limit for all."""
    grouped: dict[str, set[str]] = {}
    for ext in exts:
        kind = TYPES[ext][0] if ext in TYPES else MediaKind.DOCUMENT
        grouped.setdefault(kind, set()).add(ext)
    return {kind: (frozenset(values), limit) for kind, values in grouped.items()}


_WA = whatsapp_format.FILE_EXTENSIONS
CHANNEL_RULES: dict[str, ChannelRule] = {
    ChannelKind.VIBER: ChannelRule("Viber", _split(viber_format.FILE_EXTENSIONS, viber_format.FILE_SIZE_MAX)),
    ChannelKind.WHATSAPP: ChannelRule(
        "WhatsApp",
        {
            MediaKind.IMAGE: (frozenset({"jpg", "jpeg", "png", "webp"}) & _WA, 5 * MB),
            MediaKind.AUDIO: (frozenset({"ogg", "amr", "aac", "mpeg", "mp3"}) & _WA, 16 * MB),
            MediaKind.VIDEO: (frozenset({"mp4", "3gp"}), 16 * MB),
            MediaKind.DOCUMENT: (frozenset({"pdf", "doc", "docx", "pptx", "xlsx"}), 100 * MB),
        },
    ),
    ChannelKind.RCS: ChannelRule(
        "RCS",
        {
            MediaKind.IMAGE: (frozenset({"jpg", "jpeg", "png", "gif"}), 100 * MB),
            MediaKind.VIDEO: (frozenset({"mp4"}), 100 * MB),
            MediaKind.DOCUMENT: (frozenset({"pdf"}), 100 * MB),
        },
    ),
    ChannelKind.PUSH: ChannelRule("Push", {MediaKind.IMAGE: (frozenset({"jpg", "jpeg", "png"}), 1 * MB)}),
    ChannelKind.MOBILE_PUSH: ChannelRule(
        "Mobile push", {MediaKind.IMAGE: (frozenset({"jpg", "jpeg", "png"}), 1 * MB)}
    ),
    ChannelKind.EMAIL: ChannelRule(
        "E-mail", {MediaKind.IMAGE: (frozenset({"jpg", "jpeg", "png", "gif"}), 5 * MB)}
    ),
}

# The library without a channel: any of the known types up to 500 MB (guide §12.1).
LIBRARY_RULE = ChannelRule(
    "Library",
    {
        kind: (frozenset(ext for ext, (k, _ct) in TYPES.items() if k == kind), LIBRARY_MAX_SIZE)
        for kind in MediaKind.values
    },
)


def rule_for(channel: str) -> ChannelRule:
    return CHANNEL_RULES.get(channel, LIBRARY_RULE)


def accepted_kinds(channel: str, kind: str = "") -> list[str]:
    """The media kinds a picker for ``channel`` shows: ``kind`` alone when it names a media kind ("image"), else
    every kind the channel takes (a ``"file"`` field takes any of them); none when the channel lacks ``kind``."""
    kinds = list(rule_for(channel).kinds)
    if kind in MediaKind.values:
        return [kind] if kind in kinds else []
    return kinds


def image_dimensions(stream: IO[bytes]) -> tuple[int | None, int | None]:
    """Width and height of a raster image, read from its header only (cheap); ``(None, None)`` otherwise."""
    from PIL import Image, UnidentifiedImageError

    stream.seek(0)
    try:
        with Image.open(stream) as img:
            width, height = img.size
    except (UnidentifiedImageError, OSError, ValueError):
        return None, None
    finally:
        stream.seek(0)
    return int(width), int(height)
