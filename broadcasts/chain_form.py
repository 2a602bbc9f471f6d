"""The chain form page shared by the New/Edit broadcast form (guide §6.6) and the New/Edit template form (guide §7.3).

Both pages are one flow: GET shows the stored (or blank) form; a POST with ``op`` is a steps-editor operation (add,
remove or reorder a step, guide §6.7) that re-renders the form with the posted values and saves nothing; any other
POST validates the form and hands it, with the steps, to the page's service. A page states only what differs in a
:class:`ChainPage`; :func:`chain_form_page` runs the flow. The message constructor's own requests (a step's format
switch, its list items) go to channels_out/constructor/views.py and re-render one editor block, not this page.

Here too: the steps editor's context (each step's fields and wait choices, the SMS composer's counter, the
constructor block from :mod:`broadcasts.step_editor`) and the split of a save error between the form and the steps.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import models
from django.forms import Form
from django.http import HttpResponse
from django.utils.translation import gettext as _

from broadcasts import selectors
from broadcasts.forms import ChainForm, step_data, steps_edit, steps_from_post
from broadcasts.models import BroadcastStep
from broadcasts.personalize import has_placeholders, placeholder_choices
from broadcasts.services import TITLE_KEY, WAIT_FOR_ALLOWED, StepData
from broadcasts.step_editor import with_editors
from channels_out.kinds import ChannelKind
from channels_out.sms import GSM7, GSM7_BASIC, GSM7_EXTENSION, sms_info
from portal.core.exceptions import ApplicationError
from portal.core.forms import apply_service_error
from portal.core.htmx import redirect_after_form, render_page
from portal.core.request import PortalRequest

FormT = TypeVar("FormT", bound=ChainForm)
ObjT = TypeVar("ObjT", bound=models.Model)

Rows = list[dict[str, Any]]
StepErrors = dict[str, list[str]]


@dataclass(frozen=True)
class ChainPage(Generic[FormT, ObjT]):
    """What one chain form page has of its own; the flow is :func:`chain_form_page`."""

    template: str
    form_class: type[FormT]
    # The context name of the edited object (``None`` on New).
    object_name: str
    # The Save buttons' ``action`` values; the first one is taken for a missing or unknown action.
    actions: tuple[str, ...]
    # The form's initial values: of a stored object (Edit), and on New (which may read the query string).
    initial_of: Callable[[ObjT], dict[str, Any]]
    blank_initial: Callable[[PortalRequest], dict[str, Any]]
    # The steps editor's rows of a stored object.
    rows_of: Callable[[ObjT], Rows]
    # Call the page's service: (request, valid form, typed steps, edited object or None, action) -> saved object.
    save: Callable[[PortalRequest, FormT, list[StepData], ObjT | None, str], ObjT]
    # After a save: (action, saved object) -> (success message, where to go).
    done: Callable[[str, ObjT], tuple[str, str]]


def chain_form_page(request: PortalRequest, page: ChainPage[FormT, ObjT], obj: ObjT | None) -> HttpResponse:
    """Run a chain form page for ``obj`` (``None``: New): GET, a steps-editor ``op``, or Save by ``action``."""
    company = request.company
    if request.method == "GET":
        if obj is not None:
            form = page.form_class(initial=page.initial_of(obj), company=company)
            rows = page.rows_of(obj)
        else:
            form = page.form_class(initial=page.blank_initial(request), company=company)
            rows = []
        return _render(request, page, form, rows, obj)
    rows = steps_from_post(request.POST)
    op = request.POST.get("op", "")
    if op:
        # Steps editor (add / remove / reorder): re-render with the posted values, nothing saved, no errors.
        form = page.form_class(initial=page.form_class.posted_initial(request.POST), company=company)
        return _render(request, page, form, steps_edit(rows, op), obj)
    action = request.POST.get("action", "")
    if action not in page.actions:
        action = page.actions[0]
    form = page.form_class(request.POST, company=company)
    step_errors: StepErrors = {}
    if form.is_valid():
        try:
            saved = page.save(request, form, step_data(rows), obj, action)
        except ValidationError as exc:
            step_errors = chain_errors(form, exc)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            text, url = page.done(action, saved)
            messages.success(request, text)
            return redirect_after_form(request, url)
    return _render(request, page, form, rows, obj, step_errors)


def _render(
    request: PortalRequest,
    page: ChainPage[FormT, ObjT],
    form: FormT,
    rows: Rows,
    obj: ObjT | None,
    step_errors: StepErrors | None = None,
) -> HttpResponse:
    context = {**chain_context(request, rows, step_errors), "form": form, page.object_name: obj}
    return render_page(request, page.template, context, partial="form")


def chain_errors(form: Form, exc: ValidationError) -> StepErrors:
    """Split a save error: ``steps.*`` messages stay for the steps editor, the rest go on the form's fields."""
    step_errors = {k: v for k, v in exc.message_dict.items() if k.startswith("steps.")}
    others = {k: v for k, v in exc.message_dict.items() if not k.startswith("steps.")}
    if others:
        apply_service_error(form, ValidationError(others))
    if step_errors and not others:
        form.add_error(None, _("Check the steps of the chain."))
    return step_errors


def chain_context(request: PortalRequest, rows: Rows, step_errors: StepErrors | None) -> dict[str, Any]:
    """What the shared recipients and steps editor (``_chain_fields.html``) needs, for both forms alike."""
    errors = step_errors or {}
    return {
        "steps": with_editors(request, step_context(rows, errors), errors),
        "has_rcs": any(r.get("channel") == ChannelKind.RCS for r in rows),
        "channels": ChannelKind.choices,
        "units": BroadcastStep.Unit.choices,
        "placeholders": placeholder_choices(selectors.attribute_list(company=request.company)),
        "moderation": request.company.moderation_required,
        "active_menu": "broadcasts",
    }


def step_context(rows: Rows, errors: Mapping[str, list[str]]) -> list[dict[str, Any]]:
    """Each step's block: its row, label, allowed wait statuses, title field, SMS counter and own errors."""
    steps = []
    for index, row in enumerate(rows):
        channel = row.get("channel", "")
        allowed = WAIT_FOR_ALLOWED.get(channel, frozenset(BroadcastStep.WaitFor.values))
        text = row.get("text", "")
        steps.append(
            {
                "n": index,
                "row": row,
                "label": ChannelKind(channel).label if channel in ChannelKind.values else channel,
                "wait_choices": [(v, label) for v, label in BroadcastStep.WaitFor.choices if v in allowed],
                "title_key": TITLE_KEY.get(channel, ""),
                "is_sms": channel == ChannelKind.SMS,
                "counter": sms_counter_of(text) if channel == ChannelKind.SMS else None,
                "errors": {
                    key.split(".", 2)[2]: msgs
                    for key, msgs in errors.items()
                    if key.startswith(f"steps.{index}.")
                },
            }
        )
    return steps


def sms_counter_of(text: str) -> dict[str, Any]:
    """The SMS composer's counter (inventory A §10 [GAP] decision: characters, parts, GSM-7 or UCS-2), with the
    characters that force UCS-2 marked, computed by channels_out/sms.py."""
    info = sms_info(text)
    forcing = (
        []
        if info.encoding == GSM7
        else sorted({c for c in text if c not in GSM7_BASIC and c not in GSM7_EXTENSION})
    )
    marked = [
        {"char": c, "bad": c in forcing} for c in text
    ]  # fmt: skip
    return {
        "encoding": "GSM-7" if info.encoding == GSM7 else "UCS-2",
        "characters": len(text),
        "units": info.units,
        "segments": info.segments,
        "per_segment": info.per_segment,
        "forcing": [{"char": c, "name": unicodedata.name(c, f"U+{ord(c):04X}").title()} for c in forcing],
        "marked": marked if forcing else [],
        "personalised": has_placeholders(text),
    }
