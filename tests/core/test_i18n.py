"""The Spanish translation of the interface: a complete catalogue that keeps its placeholders, in use on the pages."""

from __future__ import annotations

import ast
import gettext
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from portal.accounts.models import User
from tests.factories import PASSWORD

LOCALE_DIR = Path(settings.BASE_DIR) / "locale" / "es" / "LC_MESSAGES"
PO_FILE = LOCALE_DIR / "django.po"
MO_FILE = LOCALE_DIR / "django.mo"

LOGIN_URL = "/accounts/login/"

# The menu of the shell in Spanish (guide §4), in the order of portal/core/menu.py.
SPANISH_MENU = [
    "Panel", "Difusiones", "Contactos", "Conversaciones", "Finanzas", "Estadísticas", "Recursos", "Usuarios",
    "Auditoría", "Accesos API", "Servicio 2FA", "Configuración de la cuenta", "Ayuda",
]  # fmt: skip


@dataclass
class PoEntry:
    """One message of a .po file: the msgid (and plural msgid) with its translations, flags and line number."""

    line: int
    msgid: str = ""
    msgid_plural: str | None = None
    msgctxt: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False


_KEYWORD = re.compile(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(\".*\")$")


def _unquote(literal: str) -> str:
    # A .po string is a C-like literal; the escapes gettext writes (\n, \t, \", \\) read the same in Python.
    value = ast.literal_eval(literal)
    assert isinstance(value, str), literal
    return value


def parse_po(text: str) -> list[PoEntry]:
    """Read the entries of a .po file (header included, as the entry whose msgid is empty)."""
    entries: list[PoEntry] = []
    entry: PoEntry | None = None
    target: tuple[str, int] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        obsolete = line.startswith("#~")
        if obsolete:
            line = line[2:].strip()
        if not line:
            entry, target = None, None
            continue
        if obsolete and line.startswith("|"):  # #~| previous msgid of an obsolete entry
            continue
        if line.startswith("#"):
            if entry is not None and target is not None:  # a comment after the strings starts a new entry
                entry, target = None, None
            if line.startswith("#,"):
                entry = entry or PoEntry(line=number)
                entry.flags.update(flag.strip() for flag in line[2:].split(",") if flag.strip())
            continue
        if line.startswith('"'):
            if entry is None or target is None:
                raise ValueError(f"line {number}: string without a keyword")
            kind, index = target
            if kind == "msgid":
                entry.msgid += _unquote(line)
            elif kind == "msgctxt":
                entry.msgctxt = (entry.msgctxt or "") + _unquote(line)
            elif kind == "msgid_plural":
                entry.msgid_plural = (entry.msgid_plural or "") + _unquote(line)
            elif kind == "msgstr":
                entry.msgstr[index] += _unquote(line)
            continue
        match = _KEYWORD.match(line)
        if match is None:
            raise ValueError(f"line {number}: cannot read {raw!r}")
        keyword, index_text, literal = match.groups()
        if keyword in ("msgctxt", "msgid") and (
            entry is None or (target is not None and target[0] == "msgstr")
        ):
            entry = None
        if entry is None:
            entry = PoEntry(line=number)
        if not entries or entries[-1] is not entry:
            entries.append(entry)
        entry.obsolete = entry.obsolete or obsolete
        value = _unquote(literal)
        if keyword == "msgctxt":
            entry.msgctxt, target = value, ("msgctxt", 0)
        elif keyword == "msgid":
            entry.msgid, target = value, ("msgid", 0)
        elif keyword == "msgid_plural":
            entry.msgid_plural, target = value, ("msgid_plural", 0)
        else:
            index = int(index_text) if index_text is not None else 0
            entry.msgstr[index] = value
            target = ("msgstr", index)
    return entries


def _messages() -> list[PoEntry]:
    return [e for e in parse_po(PO_FILE.read_text(encoding="utf-8")) if e.msgid and not e.obsolete]


# Named placeholders (%(name)s, %(n)d, %(x).2f) and positional ones (%s, %d); %% is a literal percent sign.
_PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[#0 +-]*\d*(?:\.\d+)?([sdifrxXeEgGc%])")
_BRACES = re.compile(r"\{\w*\}")  # str.format fields


def placeholders(text: str, *, python_format: bool = True) -> Counter[str]:
    """The placeholders of ``text``; without python-format only named ones count (a bare "50% off" is text)."""
    found: Counter[str] = Counter(_BRACES.findall(text))
    for match in _PLACEHOLDER.finditer(text):
        name, conversion = match.groups()
        if conversion != "%" and (name or python_format):
            found[f"%({name}){conversion}" if name else f"%{conversion}"] += 1
    return found


def test_parser_reads_continuations_plurals_and_flags() -> None:
    text = (
        'msgid ""\nmsgstr ""\n"Language: es\\n"\n\n'
        '#: a.py:1\n#, fuzzy, python-format\nmsgid ""\n"Hello "\n"%(name)s"\nmsgstr "Hola \\"%(name)s\\""\n\n'
        'msgid "%(n)s row"\nmsgid_plural "%(n)s rows"\nmsgstr[0] "%(n)s fila"\nmsgstr[1] ""\n\n'
        '#~ msgid "Old"\n#~ msgstr "Viejo"\n'
    )
    header, hello, rows, old = parse_po(text)
    assert (header.msgid, header.msgstr[0]) == ("", "Language: es\n")
    assert (hello.msgid, hello.msgstr[0], hello.flags) == (
        "Hello %(name)s",
        'Hola "%(name)s"',
        {"fuzzy", "python-format"},
    )
    assert (rows.msgid_plural, rows.msgstr) == ("%(n)s rows", {0: "%(n)s fila", 1: ""})
    assert (old.obsolete, old.msgstr[0]) == (True, "Viejo")
    assert placeholders("%(a)s of %(b)d, 100%%, %s {x}") == Counter(
        {"%(a)s": 1, "%(b)d": 1, "%s": 1, "{x}": 1}
    )
    assert placeholders("50% off for %(who)s", python_format=False) == Counter({"%(who)s": 1})


def test_spanish_catalogue_has_no_untranslated_entries() -> None:
    entries = _messages()
    assert len(entries) > 400  # the whole interface, not a stub
    untranslated = [e.msgid for e in entries if not e.msgstr or any(not value for value in e.msgstr.values())]
    assert untranslated == [], f"untranslated in {PO_FILE}: {untranslated}"
    missing_plural = [e.msgid for e in entries if e.msgid_plural is not None and sorted(e.msgstr) != [0, 1]]
    assert missing_plural == [], f"plural entries without both forms: {missing_plural}"


def test_spanish_catalogue_has_no_fuzzy_entries() -> None:
    # msgmerge marks guesses for changed texts "fuzzy": Django ignores them, so each needs a review.
    fuzzy = [e.msgid for e in parse_po(PO_FILE.read_text(encoding="utf-8")) if "fuzzy" in e.flags]
    assert fuzzy == [], f"fuzzy entries in {PO_FILE}: {fuzzy}"


def test_spanish_catalogue_header() -> None:
    header = next(e for e in parse_po(PO_FILE.read_text(encoding="utf-8")) if e.msgid == "")
    fields = dict(line.split(": ", 1) for line in header.msgstr[0].splitlines() if ": " in line)
    assert fields["Language"] == "es"
    assert fields["Content-Type"] == "text/plain; charset=UTF-8"
    assert fields["Plural-Forms"] == "nplurals=2; plural=(n != 1);"


def test_translations_keep_every_placeholder() -> None:
    broken = []
    for entry in _messages():
        for index, translation in entry.msgstr.items():
            if not translation:
                continue  # reported by the untranslated test
            source = entry.msgid if index == 0 or entry.msgid_plural is None else entry.msgid_plural
            python_format = "python-format" in entry.flags
            if placeholders(translation, python_format=python_format) != placeholders(
                source, python_format=python_format
            ):
                broken.append(f"line {entry.line}: {source!r} -> {translation!r}")
    assert broken == [], "placeholders differ:\n" + "\n".join(broken)


def test_compiled_catalogue_matches_the_po() -> None:
    """django.mo is what Django reads: it must be compiled from the current django.po."""
    with MO_FILE.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for entry in _messages():
        ctx = entry.msgctxt
        if entry.msgid_plural is None:
            got = compiled.gettext(entry.msgid) if ctx is None else compiled.pgettext(ctx, entry.msgid)
            if got != entry.msgstr[0]:
                stale.append(entry.msgid)
        elif [
            compiled.ngettext(entry.msgid, entry.msgid_plural, n)
            if ctx is None
            else compiled.npgettext(ctx, entry.msgid, entry.msgid_plural, n)
            for n in (1, 2)
        ] != [
            entry.msgstr[0],
            entry.msgstr[1],
        ]:
            stale.append(entry.msgid)
    assert stale == [], f"{MO_FILE.name} is out of date; run msgfmt. Differing: {stale}"


def _assert_spanish_login_page(html: str) -> None:
    assert '<html lang="es"' in html
    for text in (
        "Iniciar sesión",
        "Usuario",
        "Contraseña",
        "Recordarme",
        "¿Olvidó su contraseña?",
        "Registrarse",
    ):
        assert text in html, text
    for english in ("Sign in", "Remember me", "Forgot password?"):
        assert english not in html, english


@pytest.mark.django_db
def test_login_page_in_spanish_with_the_language_cookie() -> None:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    _assert_spanish_login_page(client.get(LOGIN_URL).content.decode())


@pytest.mark.django_db
def test_language_switch_on_the_login_page_shows_spanish() -> None:
    client = Client()
    assert "Remember me" in client.get(LOGIN_URL).content.decode()
    response = client.post("/accounts/language/", {"language": "es", "next": LOGIN_URL}, follow=True)
    assert response.redirect_chain == [(LOGIN_URL, 302)]
    _assert_spanish_login_page(response.content.decode())


@pytest.mark.django_db
def test_wrong_password_message_in_spanish() -> None:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    html = client.post(LOGIN_URL, {"login": "nobody", "password": "wrong"}).content.decode()
    assert "Usuario o contraseña incorrectos." in html


def _assert_spanish_shell(html: str) -> None:
    assert '<html lang="es"' in html
    for label in SPANISH_MENU:
        assert label in html, label
    assert "¿Necesita ayuda?" in html
    assert "Cerrar sesión" in html
    for english in ("Need any help?", "Account settings", "API Accesses", "Log out"):
        assert english not in html, english


def test_spanish_user_sees_the_spanish_menu(client_for: Callable[[User], Client], admin_user: User) -> None:
    admin_user.language = User.Language.SPANISH
    admin_user.save(update_fields=["language"])
    client = client_for(admin_user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    html = client.get("/dashboard/").content.decode()
    _assert_spanish_shell(html)
    assert "Le damos la bienvenida, Test" in html


def test_user_language_is_applied_at_sign_in(admin_user: User) -> None:
    admin_user.language = User.Language.SPANISH
    admin_user.save(update_fields=["language"])
    client = Client()
    response = client.post(LOGIN_URL, {"login": "owner", "password": PASSWORD})
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "es"
    _assert_spanish_shell(client.get("/dashboard/").content.decode())


def test_no_translation_is_frozen_at_import() -> None:
    """gettext() outside a function runs once at import, in English; module and class constants need gettext_lazy."""
    eager_names = {"gettext", "ngettext", "pgettext", "npgettext"}
    frozen = []
    for path in sorted((Path(settings.BASE_DIR) / "portal").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        eager = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "django.utils.translation"
            for alias in node.names
            if alias.name in eager_names
        }
        pending: list[ast.AST] = [tree]
        while pending:  # walk everything except function bodies, which run per request
            for child in ast.iter_child_nodes(pending.pop()):
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                    continue
                if (
                    isinstance(child, ast.Call)
                    and isinstance(child.func, ast.Name)
                    and child.func.id in eager
                ):
                    frozen.append(f"{path.relative_to(settings.BASE_DIR)}:{child.lineno}")
                pending.append(child)
    assert frozen == [], f"use gettext_lazy for these import-time translations: {frozen}"


# One page of each section added after the first catalogue: (URL, Spanish labels, English texts that must be gone).
SPANISH_SECTION_PAGES = [
    ("/contacts/", ("Importar lista de contactos", "Nuevo contacto"), ("Import contact list", "New contact")),
    (
        "/messages/",
        ("Todos los mensajes enviados o recibidos por su empresa",),
        ("Every message sent or received",),
    ),
    ("/broadcasts/", ("Nueva difusión", "Plantillas"), ("New Broadcast",)),
]


@pytest.mark.parametrize(("url", "spanish", "english"), SPANISH_SECTION_PAGES)
def test_spanish_user_sees_the_new_sections_in_spanish(
    client_for: Callable[[User], Client],
    admin_user: User,
    url: str,
    spanish: tuple[str, ...],
    english: tuple[str, ...],
) -> None:
    admin_user.language = User.Language.SPANISH
    admin_user.save(update_fields=["language"])
    client = client_for(admin_user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="es"' in html
    for label in spanish:
        assert label in html, label
    for text in english:
        assert text not in html, text
