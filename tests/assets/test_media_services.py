"""Media library services against the database: content sniffing, per-channel types and size limits (N / N+1)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from assets import media_rules, selectors, services
from assets.media_rules import MB, MediaKind
from assets.models import MediaFile
from channels_out.kinds import ChannelKind
from portal.accounts.models import User
from portal.audit.models import AuditEntry
from portal.tenants.models import Company
from tests.assets.files import EXE, MP4, OGG, PDF, jpeg_bytes, padded, png_bytes, upload

pytestmark = pytest.mark.django_db


def test_png_upload_stores_kind_format_dimensions_and_audit(company: Company, admin_user: User) -> None:
    media = services.media_upload(
        company=company, actor=admin_user, upload=upload("Logo.PNG", png_bytes(7, 5))
    )
    assert (media.kind, media.ext, media.content_type) == (MediaKind.IMAGE, "png", "image/png")
    assert (media.width, media.height, media.dimensions) == (7, 5, "7 x 5 px")
    assert media.format_label == "PNG"
    assert media.uploaded_by == admin_user
    assert media.file.read() == png_bytes(7, 5)
    assert AuditEntry.objects.filter(company=company, action=services.MEDIA_UPLOADED).count() == 1


def test_jpeg_is_shown_as_jpg(company: Company) -> None:
    media = services.media_upload(company=company, actor=None, upload=upload("cake.jpeg", jpeg_bytes()))
    assert media.format_label == "JPG"
    assert media.weight.endswith(" KB")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("photo.png", EXE),  # an executable renamed to .png
        ("photo.jpg", png_bytes()),  # a PNG named .jpg
        ("doc.pdf", b"<html>not a pdf</html>"),
        ("clip.mp4", OGG),
        ("sheet.xlsx", PDF),
    ],
)
def test_content_that_does_not_match_the_extension_is_refused(
    company: Company, name: str, content: bytes
) -> None:
    with pytest.raises(ValidationError) as exc:
        services.media_upload(company=company, actor=None, upload=upload(name, content))
    assert "is not a ." in str(exc.value)
    assert not MediaFile.objects.filter(company=company).exists()


def test_unknown_extension_is_refused(company: Company) -> None:
    with pytest.raises(ValidationError, match="cannot be used here"):
        services.media_upload(company=company, actor=None, upload=upload("tool.exe", EXE))


def test_sniffer_recognises_real_files() -> None:
    import io

    for name, content in [
        ("a.pdf", PDF),
        ("b.mp4", MP4),
        ("c.ogg", OGG),
        ("d.png", png_bytes()),
        ("e.txt", b"hi"),
    ]:
        assert media_rules.sniff(name, io.BytesIO(content)) is not None, name
    assert media_rules.sniff("f.txt", io.BytesIO(b"\x00\x01binary")) is None


@pytest.mark.parametrize(
    ("channel", "name", "head", "limit"),
    [
        (ChannelKind.WHATSAPP, "p.png", png_bytes(), 5 * MB),  # seed 004 E090: image ≤ 5 MB
        (ChannelKind.WHATSAPP, "v.mp4", MP4, 16 * MB),  # video ≤ 16 MB
        (ChannelKind.WHATSAPP, "d.pdf", PDF, 100 * MB),  # document ≤ 100 MB
        (ChannelKind.PUSH, "p.png", png_bytes(), 1 * MB),
    ],
)
def test_channel_size_limit_at_n_and_n_plus_1(
    company: Company, channel: str, name: str, head: bytes, limit: int
) -> None:
    ok = services.media_check(upload=upload(name, padded(head, limit)), channel=channel)
    assert ok.ext == name.rsplit(".", 1)[1]
    with pytest.raises(ValidationError, match="at most"):
        services.media_check(upload=upload(name, padded(head, limit + 1)), channel=channel)


def test_viber_200_mb_limit_at_n_and_n_plus_1(company: Company) -> None:
    # Guide §7.4.3 (L1249): Viber files up to 200 MB. Checked on declared sizes to keep the test light.
    class Big:
        def __init__(self, size: int) -> None:
            self.inner = upload("report.pdf", PDF)
            self.size, self.name, self.file = size, "report.pdf", self.inner.file

    assert services.media_check(upload=Big(200 * MB), channel=ChannelKind.VIBER).kind == MediaKind.DOCUMENT  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="200 MB"):
        services.media_check(upload=Big(200 * MB + 1), channel=ChannelKind.VIBER)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="500 MB"):
        services.media_check(upload=Big(500 * MB + 1))  # type: ignore[arg-type]
    assert services.media_check(upload=Big(500 * MB)).ext == "pdf"  # type: ignore[arg-type]


def test_channel_whitelists(company: Company) -> None:
    # WhatsApp (guide L1428) takes no GIF; Viber (L1249) takes BMP and TXT but no OGG.
    gif = b"GIF89a" + b"\x01\x00\x01\x00" + b"\x00" * 20
    with pytest.raises(ValidationError, match="cannot be used here"):
        services.media_check(upload=upload("a.gif", gif), channel=ChannelKind.WHATSAPP)
    assert (
        services.media_check(upload=upload("a.gif", gif), channel=ChannelKind.VIBER).kind == MediaKind.IMAGE
    )
    assert services.media_check(upload=upload("n.txt", b"notes"), channel=ChannelKind.VIBER).ext == "txt"
    with pytest.raises(ValidationError, match="cannot be used here"):
        services.media_check(upload=upload("a.ogg", OGG), channel=ChannelKind.VIBER)
    # A picker for an image field refuses a PDF even on a channel that takes PDFs.
    with pytest.raises(ValidationError, match="cannot be used here"):
        services.media_check(upload=upload("d.pdf", PDF), channel=ChannelKind.RCS, kind=MediaKind.IMAGE)


def test_empty_file_is_refused(company: Company) -> None:
    with pytest.raises(ValidationError):
        services.media_upload(company=company, actor=None, upload=upload("e.txt", b""))


def test_list_for_channel_and_kind_and_company(company: Company, other_company: Company) -> None:
    png = services.media_upload(company=company, actor=None, upload=upload("a.png", png_bytes()))
    pdf = services.media_upload(company=company, actor=None, upload=upload("b.pdf", PDF))
    gif = services.media_upload(
        company=company, actor=None, upload=upload("c.gif", b"GIF89a" + b"\x01\x00\x01\x00" + b"\x00" * 20)
    )
    services.media_upload(company=other_company, actor=None, upload=upload("x.png", png_bytes()))
    assert set(selectors.media_list(company=company)) == {png, pdf, gif}
    assert set(selectors.media_list(company=company, channel=ChannelKind.WHATSAPP)) == {png, pdf}
    assert set(selectors.media_list(company=company, channel=ChannelKind.PUSH)) == {png}
    assert set(selectors.media_list(company=company, channel=ChannelKind.VIBER, kind=MediaKind.IMAGE)) == {
        png,
        gif,
    }
    assert list(selectors.media_list(company=company, channel=ChannelKind.PUSH, kind=MediaKind.VIDEO)) == []


def test_delete_removes_row_and_file(
    company: Company, admin_user: User, django_capture_on_commit_callbacks: Any
) -> None:
    media = services.media_upload(company=company, actor=admin_user, upload=upload("a.png", png_bytes()))
    storage, path = media.file.storage, media.file.name
    with django_capture_on_commit_callbacks(execute=True):
        services.media_delete(company=company, actor=admin_user, media=media)
    assert not MediaFile.objects.filter(pk=media.pk).exists()
    assert not storage.exists(path)


def test_delete_refuses_another_company(company: Company, other_company: Company) -> None:
    media = services.media_upload(company=other_company, actor=None, upload=upload("a.png", png_bytes()))
    with pytest.raises(ValidationError):
        services.media_delete(company=company, actor=None, media=media)


def test_file_fields_take_every_kind_the_channel_takes(company: Company) -> None:
    # The constructor passes kind="file" for file fields: any media of the channel (WhatsApp: PDF, MP4, PNG ...).
    assert (
        services.media_check(upload=upload("d.pdf", PDF), channel=ChannelKind.WHATSAPP, kind="file").ext
        == "pdf"
    )
    assert (
        services.media_check(upload=upload("v.mp4", MP4), channel=ChannelKind.WHATSAPP, kind="file").ext
        == "mp4"
    )
    pdf = services.media_upload(company=company, actor=None, upload=upload("d.pdf", PDF))
    assert list(selectors.media_list(company=company, channel=ChannelKind.WHATSAPP, kind="file")) == [pdf]
