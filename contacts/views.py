"""Pages of the Contacts section (guide §8): Contacts, Attribute manager, Targets, Opt-out words.

Tabs follow the guide; each tab is gated by its own permission: Manage Contacts (contacts, attributes, import),
Manage Targets, Manage Opt-out words.
"""

from __future__ import annotations

import zoneinfo
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from channels_out.kinds import ChannelKind
from contacts import selectors, services
from contacts.forms import (
    AttributeForm,
    ContactForm,
    MassEditForm,
    OptOutForm,
    OptOutWordForm,
    TargetForm,
    filters_from_post,
    split_tags,
)
from contacts.lists import describe_filter, describe_filters, slot_indexed_keys
from contacts.models import Contact, ContactAttribute, ContactOptOut, OptOutWord, Target
from portal.accounts import permissions
from portal.core.exceptions import ApplicationError
from portal.core.forms import apply_service_error
from portal.core.htmx import is_fragment_request, next_url, redirect_after_form, render_page
from portal.core.list_views import list_page_for, list_response
from portal.core.listing import MODE_LABELS, Column, Kind, ListQueryError, ListSpec, Mode, register_list
from portal.core.request import PortalRequest
from portal.tenants.access import company_view, get_for_company_or_404

TABS = (
    ("contacts", gettext_lazy("Contacts"), "contacts:contact-list", permissions.CONTACTS_MANAGE),
    ("attributes", gettext_lazy("Attribute manager"), "contacts:attribute-list", permissions.CONTACTS_MANAGE),
    ("targets", gettext_lazy("Targets"), "contacts:target-list", permissions.TARGETS_MANAGE),
    ("words", gettext_lazy("Opt-out words"), "contacts:word-list", permissions.OPTOUT_WORDS_MANAGE),
)
FILTER_PARAMS = ("filter", "mode", "q", "from", "to")


def _tabs(request: PortalRequest, active: str) -> list[dict[str, Any]]:
    return [
        {"key": key, "label": label, "url": reverse(name), "active": key == active}
        for key, label, name, perm in TABS
        if request.membership.has_perm(perm)
    ]


def _ctx(request: PortalRequest, tab: str, **extra: Any) -> dict[str, Any]:
    return {"active_menu": "contacts", "tabs": _tabs(request, tab), "tab": tab, **extra}


# -- contacts --------------------------------------------------------------------------------------------------


@company_view()
@require_GET
def contact_list(request: PortalRequest) -> HttpResponse:
    """The Contacts tab (guide §8.1.1); ``?mass=1`` is the mass-edit mode (guide §8.1.5)."""
    if not request.membership.has_perm(permissions.CONTACTS_MANAGE):
        # The menu item also serves holders of Manage Targets or Opt-out words alone: send them to their tab.
        for _key, _label, name, perm in TABS:
            if request.membership.has_perm(perm):
                return redirect(name)
        raise PermissionDenied(_("Your role does not allow this."))
    spec = selectors.contact_spec(company=request.company)
    mass = request.GET.get("mass") == "1"
    page = list_page_for(request, selectors.contact_list(company=request.company), spec)
    # Sorting or range-filtering a large list by an attribute builds that attribute's index (contacts.indexes).
    services.attribute_indexes_request(company=request.company, keys=slot_indexed_keys(spec, page.state))
    attributes = list(selectors.attribute_list(company=request.company))
    context = _ctx(
        request,
        "contacts",
        page=page,
        mass=mass,
        mass_form=MassEditForm(attributes=attributes) if mass else None,
        filter_params={k: v for k, v in page.base_query.items() if k in FILTER_PARAMS},
        fragment=is_fragment_request(request),
        mass_url=page.url(mass="1"),
        normal_url=page.url(mass=None),
        can_export=request.membership.has_perm(permissions.EXPORT_ENTITIES),
    )
    # After step 5 *Import* (guide §8.2 L2347) the list shows the job's progress, then its report.
    running = selectors.import_get_or_none(company=request.company, uuid=request.GET.get("import", ""))
    if running is not None:
        from contacts.services.imports import import_progress

        context.update(running_import=running, import_progress=import_progress(running))
    return render_page(request, "contacts/contact_list.html", context, partial="table")


def _contact_form_page(
    request: PortalRequest, form: ContactForm, contact: Contact | None, optout_form: OptOutForm | None = None
) -> HttpResponse:
    return render_page(
        request,
        "contacts/contact_form.html",
        _ctx(
            request,
            "contacts",
            form=form,
            contact=contact,
            tags=selectors.tag_list(company=request.company),
            optouts=selectors.optout_list(company=request.company, contact=contact) if contact else [],
            optout_form=optout_form or OptOutForm(),
        ),
        partial="form",
    )


def _contact_data(form: ContactForm) -> services.ContactData:
    data = form.cleaned_data
    return services.ContactData(
        phone=data["phone"],
        first_name=data["first_name"],
        last_name=data["last_name"],
        email=data["email"],
        attributes=form.attribute_values(),
        tags=form.tag_names(),
    )


@company_view(perm=permissions.CONTACTS_MANAGE)
@require_http_methods(["GET", "POST"])
def contact_create(request: PortalRequest) -> HttpResponse:
    attributes = list(selectors.attribute_list(company=request.company))
    form = ContactForm(request.POST or None, company=request.company, attributes=attributes)
    if request.method == "POST" and form.is_valid():
        try:
            contact = services.contact_create(
                company=request.company, actor=request.user, data=_contact_data(form)
            )
        except ValidationError as exc:
            apply_service_error(form, exc)
        else:
            messages.success(request, _("Contact %(phone)s was added.") % {"phone": contact.phone})
            return redirect_after_form(request, reverse("contacts:contact-list"))
    return _contact_form_page(request, form, None)


@company_view(perm=permissions.CONTACTS_MANAGE)
@require_http_methods(["GET", "POST"])
def contact_edit(request: PortalRequest, uuid: str) -> HttpResponse:
    contact = get_for_company_or_404(
        Contact.objects.prefetch_related("tags"), company=request.company, uuid=uuid
    )
    attributes = list(selectors.attribute_list(company=request.company))
    form = ContactForm(request.POST or None, company=request.company, attributes=attributes, contact=contact)
    if request.method == "POST" and form.is_valid():
        try:
            services.contact_update(
                company=request.company, actor=request.user, contact=contact, data=_contact_data(form)
            )
        except ValidationError as exc:
            apply_service_error(form, exc)
        else:
            messages.success(request, _("Changes to %(phone)s were saved.") % {"phone": contact.phone})
            return redirect_after_form(request, reverse("contacts:contact-list"))
    return _contact_form_page(request, form, contact)


@company_view(perm=permissions.CONTACTS_MANAGE)
@require_POST
def contact_delete(request: PortalRequest, uuid: str) -> HttpResponse:
    contact = get_for_company_or_404(Contact.objects, company=request.company, uuid=uuid)
    services.contact_delete(company=request.company, actor=request.user, contact=contact)
    messages.success(request, _("Contact %(phone)s was deleted.") % {"phone": contact.phone})
    return redirect_after_form(request, reverse("contacts:contact-list"))


@company_view(perm=permissions.CONTACTS_MANAGE)
@require_POST
def contact_optout_add(request: PortalRequest, uuid: str) -> HttpResponse:
    """Opt-out channel and Sender ID of Edit contact (guide §8.1.3), stored with the date, time and user."""
    contact = get_for_company_or_404(Contact.objects, company=request.company, uuid=uuid)
    optout_form = OptOutForm(request.POST)
    if optout_form.is_valid():
        try:
            services.contact_optout_set(
                company=request.company,
                actor=request.user,
                contact=contact,
                channel=optout_form.cleaned_data["channel"],
                sender_id=optout_form.cleaned_data["sender_id"],
            )
        except ValidationError as exc:
            apply_service_error(optout_form, exc)
        else:
            return redirect_after_form(request, reverse("contacts:contact-edit", args=[contact.uuid]))
    attributes = list(selectors.attribute_list(company=request.company))
    form = ContactForm(company=request.company, attributes=attributes, contact=contact)
    return _contact_form_page(request, form, contact, optout_form)


@company_view(perm=permissions.CONTACTS_MANAGE)
@require_POST
def contact_optout_remove(request: PortalRequest, uuid: str, optout_id: int) -> HttpResponse:
    contact = get_for_company_or_404(Contact.objects, company=request.company, uuid=uuid)
    optout = get_for_company_or_404(
        ContactOptOut.objects, company=request.company, contact=contact, pk=optout_id
    )
    services.contact_optout_remove(company=request.company, actor=request.user, optout=optout)
    return redirect_after_form(request, reverse("contacts:contact-edit", args=[contact.uuid]))


@company_view(perm=permissions.CONTACTS_MANAGE)
@require_POST
def contact_mass_edit(request: PortalRequest) -> HttpResponse:
    """Save contacts / Delete contacts of the mass-edit form (guide §8.1.5) for the chosen selection.

    ``scope=all`` takes every contact the list's filter matches (sent back as hidden fields); otherwise the ticked
    rows (``selected``). The outcome is a message on the list, which keeps its filter.
    """
    params = {k: request.POST[k] for k in FILTER_PARAMS if request.POST.get(k)}
    back = reverse("contacts:contact-list") + "?" + urlencode({**params, "mass": "1"})
    attributes = list(selectors.attribute_list(company=request.company))
    form = MassEditForm(request.POST, attributes=attributes)
    try:
        if request.POST.get("scope") == "all":
            selection = selectors.contact_selection(company=request.company, params=params)
        else:
            selection = selectors.contact_selection(
                company=request.company, uuids=request.POST.getlist("selected")
            )
        if request.POST.get("action") == "delete":
            count = services.contacts_mass_delete(
                company=request.company, actor=request.user, contacts=selection
            )
            messages.success(request, _("%(count)d contacts were deleted.") % {"count": count})
        elif form.is_valid():
            data = form.cleaned_data
            count = services.contacts_mass_update(
                company=request.company,
                actor=request.user,
                contacts=selection,
                edit=services.MassEdit(
                    add_tags=split_tags(data["add_tags"]),
                    remove_tags=split_tags(data["remove_tags"]),
                    first_name=data["first_name"],
                    last_name=data["last_name"],
                    email=data["email"],
                    attributes={a.key: data.get(a.key, "") for a in attributes},
                    clear=data["clear"],
                ),
            )
            messages.success(request, _("%(count)d contacts were saved.") % {"count": count})
        else:
            messages.error(request, _("Check the values of the form."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except (ApplicationError, ListQueryError) as exc:
        messages.error(request, str(getattr(exc, "message", exc)))
    return redirect_after_form(request, back)


# -- attribute manager (guide §8.2) ------------------------------------------------------------------------------

ATTRIBUTE_LIST = register_list(
    ListSpec(
        key="contact-attributes",
        columns=(
            Column("name", gettext_lazy("Name"), "name", required=True),
            Column(
                "type",
                gettext_lazy("Type"),
                "type",
                Kind.CHOICE,
                choices=tuple(ContactAttribute.Type.choices),
            ),
            Column("profile", gettext_lazy("Show in client's profile"), "show_in_profile", Kind.BOOL),
            Column("created", gettext_lazy("Created"), "created_at", Kind.DATETIME, default=False),
        ),
        default_sort="name",
    )
)


@company_view(perm=permissions.CONTACTS_MANAGE)
@require_GET
def attribute_list(request: PortalRequest) -> HttpResponse:
    return list_response(
        request,
        qs=selectors.attribute_list(company=request.company),
        spec=ATTRIBUTE_LIST,
        template="contacts/attribute_list.html",
        context=_ctx(request, "attributes"),
    )


def _attribute_page(
    request: PortalRequest, form: AttributeForm, attribute: ContactAttribute | None
) -> HttpResponse:
    return render_page(
        request,
        "contacts/attribute_form.html",
        _ctx(request, "attributes", form=form, attribute=attribute),
        partial="form",
    )


@company_view(perm=permissions.CONTACTS_MANAGE)
@require_http_methods(["GET", "POST"])
def attribute_create(request: PortalRequest) -> HttpResponse:
    form = AttributeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            attribute = services.attribute_create(
                company=request.company,
                actor=request.user,
                name=form.cleaned_data["name"],
                type=form.cleaned_data["type"],
                show_in_profile=form.cleaned_data["show_in_profile"],
                options=form.option_list(),
            )
        except ValidationError as exc:
            apply_service_error(form, exc)
        else:
            messages.success(request, _("Attribute %(name)s was added.") % {"name": attribute.name})
            return redirect_after_form(request, next_url(request, reverse("contacts:attribute-list")))
    return _attribute_page(request, form, None)


@company_view(perm=permissions.CONTACTS_MANAGE)
@require_http_methods(["GET", "POST"])
def attribute_edit(request: PortalRequest, uuid: str) -> HttpResponse:
    attribute = get_for_company_or_404(ContactAttribute.objects, company=request.company, uuid=uuid)
    form = AttributeForm(request.POST or None, attribute=attribute)
    if request.method == "POST" and form.is_valid():
        try:
            services.attribute_update(
                company=request.company,
                actor=request.user,
                attribute=attribute,
                name=form.cleaned_data["name"],
                show_in_profile=form.cleaned_data["show_in_profile"],
                options=form.option_list(),
            )
        except ValidationError as exc:
            apply_service_error(form, exc)
        else:
            messages.success(request, _("Changes to %(name)s were saved.") % {"name": attribute.name})
            return redirect_after_form(request, reverse("contacts:attribute-list"))
    return _attribute_page(request, form, attribute)


@company_view(perm=permissions.CONTACTS_MANAGE)
@require_POST
def attribute_delete(request: PortalRequest, uuid: str) -> HttpResponse:
    attribute = get_for_company_or_404(ContactAttribute.objects, company=request.company, uuid=uuid)
    try:
        services.attribute_delete(company=request.company, actor=request.user, attribute=attribute)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Attribute %(name)s was deleted.") % {"name": attribute.name})
    return redirect_after_form(request, reverse("contacts:attribute-list"))


# -- targets (guide §8.3) --------------------------------------------------------------------------------------


def _target_filters(target: Target) -> str:
    # Filled in by target_list with the company's columns (describe_filters); the raw keys are a fallback only.
    return ", ".join(f.get("key", "") for f in target.filters)


TARGET_LIST = register_list(
    ListSpec(
        key="targets",
        columns=(
            Column("name", gettext_lazy("Name"), "name", required=True),
            Column("filters", gettext_lazy("Filters"), None, value=_target_filters),
            Column("launches", gettext_lazy("Launches"), "launches", Kind.NUMBER),
            Column("created", gettext_lazy("Created"), "created_at", Kind.DATETIME),
            Column("updated", gettext_lazy("Updated"), "updated_at", Kind.DATETIME),
        ),
        default_sort="-created",
    )
)


@company_view(perm=permissions.TARGETS_MANAGE)
@require_GET
def target_list(request: PortalRequest) -> HttpResponse:
    spec = selectors.contact_spec(company=request.company)
    page = list_page_for(request, selectors.target_list(company=request.company), TARGET_LIST)
    # Guide §8.3 "Filters": a readable summary of each target's criteria (column, mode and values).
    for target, cells in page.rows:
        for i, (column, _value) in enumerate(cells):
            if column.key == "filters":
                cells[i] = (column, describe_filters(spec, target.filters))
    return render_page(
        request, "contacts/target_list.html", _ctx(request, "targets", page=page), partial="table"
    )


@company_view(perm=permissions.TARGETS_MANAGE)
@require_GET
def target_to_broadcasts(request: PortalRequest) -> HttpResponse:
    """The Targets table's selection → *To broadcasts* (guide §8.3, acceptance 15): New broadcast with the
    selected targets as recipients. Every target must be the company's (another company's is a 404)."""
    uuids = request.GET.getlist("selected")
    if not uuids:
        messages.error(request, _("Select at least one target."))
        return redirect("contacts:target-list")
    targets = [get_for_company_or_404(Target.objects, company=request.company, uuid=u) for u in uuids[:100]]
    query = urlencode([("target", str(t.uuid)) for t in targets])
    return redirect(f"{reverse('broadcasts:broadcast-create')}?{query}")


def _filter_rows(spec: ListSpec, filters: list[dict[str, str]]) -> list[dict[str, Any]]:
    rows = [{**f, "n": i, "label": describe_filter(spec, f)} for i, f in enumerate(filters)]
    rows.append({"n": len(filters), "key": "", "mode": Mode.VALUE, "label": ""})
    return rows


def _target_page(
    request: PortalRequest, form: TargetForm, target: Target | None, filters: list[dict[str, str]]
) -> HttpResponse:
    spec = selectors.contact_spec(company=request.company)
    count, capped, error = _count(request, spec, filters)
    return render_page(
        request,
        "contacts/target_form.html",
        _ctx(
            request,
            "targets",
            form=form,
            target=target,
            rows=_filter_rows(spec, filters),
            columns=[c for c in spec.columns if c.modes],
            modes=list(MODE_LABELS.items()),
            count=count,
            capped=capped,
            count_error=error,
        ),
        partial="form",
    )


def _count(request: PortalRequest, spec: ListSpec, filters: list[dict[str, str]]) -> tuple[int, bool, str]:
    try:
        count, capped = selectors.target_count(company=request.company, filters=filters, spec=spec)
    except ListQueryError as exc:
        return 0, False, str(exc)
    return count, capped, ""


def _save_target(request: PortalRequest, form: TargetForm, target: Target | None) -> HttpResponse | None:
    filters = filters_from_post(request.POST)
    if request.POST.get("action") == "refresh" or not form.is_valid():
        return None
    try:
        if target is None:
            target = services.target_create(
                company=request.company, actor=request.user, name=form.cleaned_data["name"], filters=filters
            )
        else:
            services.target_update(
                company=request.company,
                actor=request.user,
                target=target,
                name=form.cleaned_data["name"],
                filters=filters,
            )
    except ValidationError as exc:
        apply_service_error(form, exc)
        return None
    messages.success(request, _("Target %(name)s was saved.") % {"name": target.name})
    return redirect_after_form(request, reverse("contacts:target-list"))


@company_view(perm=permissions.TARGETS_MANAGE)
@require_http_methods(["GET", "POST"])
def target_create(request: PortalRequest) -> HttpResponse:
    form = TargetForm(request.POST or None)
    if request.method == "POST":
        done = _save_target(request, form, None)
        if done is not None:
            return done
        return _target_page(request, form, None, filters_from_post(request.POST))
    return _target_page(request, form, None, [])


@company_view(perm=permissions.TARGETS_MANAGE)
@require_http_methods(["GET", "POST"])
def target_edit(request: PortalRequest, uuid: str) -> HttpResponse:
    target = get_for_company_or_404(Target.objects, company=request.company, uuid=uuid)
    form = TargetForm(request.POST or None, target=target)
    if request.method == "POST":
        done = _save_target(request, form, target)
        if done is not None:
            return done
        return _target_page(request, form, target, filters_from_post(request.POST))
    return _target_page(request, form, target, list(target.filters))


@company_view(perm=permissions.TARGETS_MANAGE)
@require_POST
def target_count(request: PortalRequest) -> HttpResponse:
    """The live count of matching contacts while a target is edited (htmx fragment, guide §8.3 L2182)."""
    spec = selectors.contact_spec(company=request.company)
    count, capped, error = _count(request, spec, filters_from_post(request.POST))
    return render_page(
        request,
        "contacts/target_form.html",
        {"count": count, "capped": capped, "count_error": error},
        partial="count",
    )


@company_view(perm=permissions.TARGETS_MANAGE)
@require_POST
def target_duplicate(request: PortalRequest, uuid: str) -> HttpResponse:
    target = get_for_company_or_404(Target.objects, company=request.company, uuid=uuid)
    copy = services.target_duplicate(company=request.company, actor=request.user, target=target)
    messages.success(request, _("Target %(name)s was added.") % {"name": copy.name})
    return redirect_after_form(request, reverse("contacts:target-list"))


@company_view(perm=permissions.TARGETS_MANAGE)
@require_POST
def target_delete(request: PortalRequest, uuid: str) -> HttpResponse:
    target = get_for_company_or_404(Target.objects, company=request.company, uuid=uuid)
    services.target_delete(company=request.company, actor=request.user, target=target)
    messages.success(request, _("Target %(name)s was deleted.") % {"name": target.name})
    return redirect_after_form(request, reverse("contacts:target-list"))


# -- opt-out words (guide §8.3, inventory §8.5) ----------------------------------------------------------------

WORD_LIST = register_list(
    ListSpec(
        key="optout-words",
        columns=(
            Column("word", gettext_lazy("Opt-out word"), "word", required=True),
            Column(
                "channel", gettext_lazy("Channel"), "channel", Kind.CHOICE, choices=tuple(ChannelKind.choices)
            ),
            Column("sender", gettext_lazy("Sender ID Name"), "sender_id"),
            Column("from", gettext_lazy("Effective from"), "effective_from", Kind.DATETIME),
            Column("till", gettext_lazy("Effective till"), "effective_till", Kind.DATETIME),
        ),
        default_sort="-from",
    )
)


def _company_tz(request: PortalRequest) -> zoneinfo.ZoneInfo:
    # Guide §8.3: the validity period is in the time zone of the agreement, i.e. the company's.
    return zoneinfo.ZoneInfo(request.company.time_zone)


@company_view(perm=permissions.OPTOUT_WORDS_MANAGE)
@require_GET
def word_list(request: PortalRequest) -> HttpResponse:
    with timezone.override(_company_tz(request)):
        return list_response(
            request,
            qs=selectors.optout_word_list(company=request.company),
            spec=WORD_LIST,
            template="contacts/word_list.html",
            context=_ctx(request, "words", time_zone=request.company.time_zone),
        )


def _word_data(form: OptOutWordForm) -> services.OptOutWordData:
    data = form.cleaned_data
    return services.OptOutWordData(
        word=data["word"],
        channel=data["channel"],
        sender_id=data["sender_id"],
        effective_from=data["effective_from"],
        effective_till=data["effective_till"],
    )


def _word_form(request: PortalRequest, word: OptOutWord | None) -> HttpResponse:
    with timezone.override(_company_tz(request)):
        form = OptOutWordForm(request.POST or None, word=word)
        if request.method == "POST" and form.is_valid():
            try:
                if word is None:
                    services.optout_word_create(
                        company=request.company, actor=request.user, data=_word_data(form)
                    )
                else:
                    services.optout_word_update(
                        company=request.company, actor=request.user, word=word, data=_word_data(form)
                    )
            except ValidationError as exc:
                apply_service_error(form, exc)
            else:
                messages.success(request, _("The opt-out word was saved."))
                return redirect_after_form(request, reverse("contacts:word-list"))
        return render_page(
            request,
            "contacts/word_form.html",
            _ctx(request, "words", form=form, word=word, time_zone=request.company.time_zone),
            partial="form",
        )


@company_view(perm=permissions.OPTOUT_WORDS_MANAGE)
@require_http_methods(["GET", "POST"])
def word_create(request: PortalRequest) -> HttpResponse:
    return _word_form(request, None)


@company_view(perm=permissions.OPTOUT_WORDS_MANAGE)
@require_http_methods(["GET", "POST"])
def word_edit(request: PortalRequest, uuid: str) -> HttpResponse:
    word = get_for_company_or_404(OptOutWord.objects, company=request.company, uuid=uuid)
    return _word_form(request, word)


@company_view(perm=permissions.OPTOUT_WORDS_MANAGE)
@require_POST
def word_delete(request: PortalRequest, uuid: str) -> HttpResponse:
    word = get_for_company_or_404(OptOutWord.objects, company=request.company, uuid=uuid)
    services.optout_word_delete(company=request.company, actor=request.user, word=word)
    messages.success(request, _("The opt-out word was deleted."))
    return redirect_after_form(request, reverse("contacts:word-list"))
