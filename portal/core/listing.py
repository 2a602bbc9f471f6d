"""The one list-page engine of the portal (guide §7.3 "Filtering and sorting", used in every table).

A page declares a :class:`ListSpec` (its columns); :func:`list_page` reads the query string, applies the single
active filter and the sort, and returns one page by **keyset pagination** so that paging stays fast at millions
of rows (the cursor carries the last row's sort value and primary key, never an OFFSET).

Query string (shareable, pushed to the URL by htmx):

- ``sort=<key>`` ascending, ``sort=-<key>`` descending. Guide §7.3: the first click on a header sorts descending,
  the second ascending, the third returns to the default order.
- ``filter=<key>&mode=value|range|empty|nonempty&q=<text>&from=<v>&to=<v>``. Guide §7.3: one filter at a time.
- ``after=<cursor>`` / ``before=<cursor>`` for the next and previous pages.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlencode

from django.db import models
from django.db.models import F, Q
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

_M = TypeVar("_M", bound=models.Model)

# Above this many matching rows the total is shown as "N+" instead of being counted exactly, so that the
# count stays a short index-only scan on lists of millions of rows.
COUNT_CAP = 10_000


class Kind:
    TEXT = "text"
    NUMBER = "number"
    DATETIME = "datetime"
    DATE = "date"
    BOOL = "bool"
    CHOICE = "choice"


class Mode:
    VALUE = "value"
    RANGE = "range"
    EMPTY = "empty"
    NONEMPTY = "nonempty"


MODE_LABELS = {
    Mode.VALUE: gettext_lazy("By value"),
    Mode.RANGE: gettext_lazy("By range"),
    Mode.EMPTY: gettext_lazy("Empty value"),
    Mode.NONEMPTY: gettext_lazy("Non-empty values"),
}


@dataclass(frozen=True)
class Column:
    key: str
    label: str | Promise
    field: str | None = None  # ORM path used to sort and filter; None = display only
    kind: str = Kind.TEXT
    choices: Sequence[tuple[str, str | Promise]] = ()
    default: bool = True  # shown until the user picks columns
    required: bool = False  # cannot be hidden by the column picker
    value: Callable[[Any], Any] | None = None  # how to read the cell; defaults to ``field``
    # A column may build its own filter condition (e.g. a tag or a JSON attribute); it may raise ListQueryError.
    filter_q: Callable[[Filter], Q] | None = None

    @property
    def sortable(self) -> bool:
        return self.field is not None

    @property
    def modes(self) -> list[str]:
        if self.field is None and self.filter_q is None:
            return []
        if self.field is None:
            return [Mode.VALUE, Mode.EMPTY, Mode.NONEMPTY]
        if self.kind in (Kind.NUMBER, Kind.DATETIME, Kind.DATE):
            return [Mode.VALUE, Mode.RANGE, Mode.EMPTY, Mode.NONEMPTY]
        return [Mode.VALUE, Mode.EMPTY, Mode.NONEMPTY]

    def read(self, obj: Any) -> Any:
        """The value shown in the cell."""
        if self.value is not None:
            return self.value(obj)
        return read_path(obj, self.field or self.key)


def read_path(obj: Any, path: str) -> Any:
    current = obj
    for part in path.split("__"):
        # A dict is a JSON field: the rest of the path names keys inside it.
        current = current.get(part) if isinstance(current, dict) else getattr(current, part, None)
        if current is None:
            return None
    return current


@dataclass(frozen=True)
class ListSpec:
    key: str  # identifies the list for the saved column choice, e.g. "users"
    columns: tuple[Column, ...]
    default_sort: str  # e.g. "-created_at" as a column key with an optional "-"
    page_size: int = 50

    def column(self, key: str) -> Column | None:
        return next((c for c in self.columns if c.key == key), None)


class ListQueryError(ValueError):
    """The query string names an unknown column or carries a value of the wrong type."""


@dataclass
class Filter:
    column: Column
    mode: str
    q: str = ""
    low: str = ""
    high: str = ""

    def describe(self) -> str:
        if self.mode == Mode.EMPTY:
            return _("%(col)s is empty") % {"col": self.column.label}
        if self.mode == Mode.NONEMPTY:
            return _("%(col)s is not empty") % {"col": self.column.label}
        if self.mode == Mode.RANGE:
            return _("%(col)s from %(low)s to %(high)s") % {
                "col": self.column.label,
                "low": self.low or "…",
                "high": self.high or "…",
            }
        return _("%(col)s: %(q)s") % {"col": self.column.label, "q": self.q}


@dataclass
class ListState:
    sort_key: str
    descending: bool
    filter: Filter | None = None
    after: str = ""
    before: str = ""
    errors: list[str] = field(default_factory=list)


@dataclass
class Page:
    spec: ListSpec
    state: ListState
    visible: list[Column]
    rows: list[tuple[Any, list[tuple[Column, Any]]]]
    number: int
    total: int
    total_capped: bool
    next_cursor: str | None
    prev_cursor: str | None
    base_query: dict[str, str]

    @property
    def first_row(self) -> int:
        return 0 if not self.rows else (self.number - 1) * self.spec.page_size + 1

    @property
    def last_row(self) -> int:
        return 0 if not self.rows else self.first_row + len(self.rows) - 1

    @property
    def page_count(self) -> int:
        return max(1, -(-self.total // self.spec.page_size))

    def url(self, **changes: str | None) -> str:
        """Query string of this list with ``changes`` applied (``None`` removes a parameter)."""
        params = dict(self.base_query)
        for key, value in changes.items():
            if value is None:
                params.pop(key, None)
            else:
                params[key] = value
        return "?" + urlencode(params) if params else "?"

    @property
    def next_url(self) -> str | None:
        return self.url(after=self.next_cursor, before=None) if self.next_cursor else None

    @property
    def prev_url(self) -> str | None:
        return self.url(before=self.prev_cursor, after=None) if self.prev_cursor else None

    def sort_url(self, column: Column) -> str:
        """Guide §7.3: first click descending, second ascending, third back to the default order."""
        if self.state.sort_key != column.key or self._is_default_sort():
            target: str | None = f"-{column.key}"
        elif self.state.descending:
            target = column.key
        else:
            target = None
        return self.url(sort=target, after=None, before=None)

    def sort_state(self, column: Column) -> str:
        if self.state.sort_key != column.key:
            return ""
        return "desc" if self.state.descending else "asc"

    def _is_default_sort(self) -> bool:
        return "sort" not in self.base_query

    @property
    def headers(self) -> list[dict[str, Any]]:
        return [
            {
                "column": c,
                "url": self.sort_url(c) if c.sortable else None,
                "state": self.sort_state(c),
            }
            for c in self.visible
        ]

    @property
    def filterable(self) -> list[Column]:
        return [c for c in self.spec.columns if c.modes]

    @property
    def filter_modes(self) -> list[tuple[str, str | Promise]]:
        return list(MODE_LABELS.items())

    @property
    def clear_filter_url(self) -> str:
        return self.url(filter=None, mode=None, q=None, to=None, after=None, before=None, **{"from": None})

    @property
    def refresh_url(self) -> str:
        return self.url()


def parse_state(spec: ListSpec, params: Mapping[str, str]) -> ListState:
    """Read sort, filter and cursors from a query string; unknown keys fall back to the defaults with an error."""
    errors: list[str] = []
    sort = params.get("sort") or spec.default_sort
    key = sort.lstrip("-")
    column = spec.column(key)
    if column is None or not column.sortable:
        errors.append(_("Unknown sort column: %(key)s.") % {"key": key})
        sort = spec.default_sort
        key = sort.lstrip("-")
    state = ListState(sort_key=key, descending=sort.startswith("-"))
    filter_key = params.get("filter")
    if filter_key:
        col = spec.column(filter_key)
        mode = params.get("mode") or Mode.VALUE
        if col is None or mode not in col.modes:
            errors.append(_("This filter is not available."))
        else:
            state.filter = Filter(
                column=col,
                mode=mode,
                q=params.get("q", "").strip(),
                low=params.get("from", "").strip(),
                high=params.get("to", "").strip(),
            )
    state.after = params.get("after", "")
    state.before = params.get("before", "") if not state.after else ""
    state.errors = errors
    return state


def _typed(column: Column, raw: str) -> Any:
    if column.kind == Kind.NUMBER:
        try:
            return decimal.Decimal(raw.replace(",", "."))
        except decimal.InvalidOperation as exc:
            raise ListQueryError(_("%(col)s needs a number.") % {"col": column.label}) from exc
    if column.kind in (Kind.DATETIME, Kind.DATE):
        date = parse_date(raw)
        if date is not None:
            return date
        moment = parse_datetime(raw)
        if moment is None:
            raise ListQueryError(_("%(col)s needs a date as YYYY-MM-DD.") % {"col": column.label})
        return moment
    if column.kind == Kind.BOOL:
        lowered = raw.lower()
        if lowered in ("1", "true", "yes", str(_("Yes")).lower()):
            return True
        if lowered in ("0", "false", "no", str(_("No")).lower()):
            return False
        raise ListQueryError(_("%(col)s needs yes or no.") % {"col": column.label})
    return raw


def apply_filter(qs: models.QuerySet[_M], flt: Filter) -> models.QuerySet[_M]:
    """Apply the one active filter of guide §7.3. Raises ListQueryError on a value of the wrong type."""
    if flt.column.filter_q is not None:
        return qs.filter(flt.column.filter_q(flt))
    path = flt.column.field
    assert path is not None  # noqa: S101  (Column.modes is empty without a field)
    column = flt.column
    if flt.mode == Mode.EMPTY:
        cond = Q(**{f"{path}__isnull": True})
        if column.kind in (Kind.TEXT, Kind.CHOICE):
            cond |= Q(**{path: ""})
        return qs.filter(cond)
    if flt.mode == Mode.NONEMPTY:
        qs = qs.filter(**{f"{path}__isnull": False})
        return qs.exclude(**{path: ""}) if column.kind in (Kind.TEXT, Kind.CHOICE) else qs
    if flt.mode == Mode.RANGE:
        if not flt.low and not flt.high:
            raise ListQueryError(_("Give at least one end of the range."))
        if flt.low:
            qs = qs.filter(**{_range_lookup(column, path, "gte"): _typed(column, flt.low)})
        if flt.high:
            qs = qs.filter(**{_range_lookup(column, path, "lte"): _typed(column, flt.high)})
        return qs
    if not flt.q:
        raise ListQueryError(_("Type a value to filter by."))
    if column.kind == Kind.TEXT:
        return qs.filter(**{f"{path}__icontains": flt.q})
    if column.kind == Kind.CHOICE:
        labels = {str(label).lower(): value for value, label in column.choices}
        return qs.filter(**{path: labels.get(flt.q.lower(), flt.q)})
    value = _typed(column, flt.q)
    if column.kind == Kind.DATETIME and isinstance(value, datetime.date):
        return qs.filter(**{f"{path}__date": value})
    return qs.filter(**{path: value})


def _range_lookup(column: Column, path: str, op: str) -> str:
    return f"{path}__date__{op}" if column.kind == Kind.DATETIME else f"{path}__{op}"


# -- keyset pagination ---------------------------------------------------------------------------------------


def _encode(value: Any, pk: Any, number: int) -> str:
    payload: dict[str, Any]
    if isinstance(value, datetime.datetime):
        payload = {"t": "dt", "v": value.isoformat()}
    elif isinstance(value, datetime.date):
        payload = {"t": "d", "v": value.isoformat()}
    elif isinstance(value, decimal.Decimal):
        payload = {"t": "dec", "v": str(value)}
    else:
        payload = {
            "t": "raw",
            "v": value if value is None or isinstance(value, str | int | float | bool) else str(value),
        }
    payload.update({"pk": pk, "n": number})
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[Any, Any, int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        kind, raw = data["t"], data["v"]
        if kind == "dt":
            value: Any = datetime.datetime.fromisoformat(raw)
        elif kind == "d":
            value = datetime.date.fromisoformat(raw)
        elif kind == "dec":
            value = decimal.Decimal(raw)
        else:
            value = raw
        return value, data["pk"], int(data["n"])
    except (ValueError, KeyError, TypeError, decimal.InvalidOperation) as exc:
        raise ListQueryError(_("The page link is no longer valid.")) from exc


def _ordering(path: str, descending: bool) -> list[Any]:
    # PostgreSQL's default NULL placement (NULL is the largest value) keeps ORDER BY identical to the
    # (company, field, id) indexes in both directions, so a page is an index range scan.
    if descending:
        return [F(path).desc(), F("pk").desc()]
    return [F(path).asc(), F("pk").asc()]


def _nullable(model: type[models.Model], path: str) -> bool:
    """Whether the column at ``path`` (possibly across relations) can hold NULL."""
    opts = model._meta
    nullable = False
    for part in path.split("__"):
        model_field = opts.get_field(part)
        if isinstance(model_field, models.JSONField):
            return True  # the rest of the path is a key, and an absent key reads as NULL
        nullable = nullable or bool(getattr(model_field, "null", False))
        related = getattr(model_field, "related_model", None)
        if related is not None:
            opts = related._meta
    return nullable


def _seek(path: str, descending: bool, value: Any, pk: Any, *, nullable: bool = True) -> Q:
    """Rows strictly after (value, pk) in the order of ``_ordering(path, descending)``.

    The redundant bound (``field <= value`` when descending) lets PostgreSQL start the index scan at the
    cursor instead of filtering every row before it; NULL branches are added only for nullable columns, because
    an ``OR field IS NULL`` would stop the planner from using the index range.
    """
    nulls_last = not descending
    pk_after = Q(pk__lt=pk) if descending else Q(pk__gt=pk)
    is_null = Q(**{f"{path}__isnull": True})
    if value is None:
        after = is_null & pk_after
        return after if nulls_last else after | Q(**{f"{path}__isnull": False})
    bound = Q(**{f"{path}__lte" if descending else f"{path}__gte": value})
    beyond = Q(**{f"{path}__lt" if descending else f"{path}__gt": value})
    after = bound & (beyond | (Q(**{path: value}) & pk_after))
    return after | is_null if nulls_last and nullable else after


def list_page(
    qs: models.QuerySet[_M],
    spec: ListSpec,
    params: Mapping[str, str],
    *,
    visible_keys: Sequence[str] | None = None,
) -> Page:
    """Filter, sort and cut one keyset page of ``qs`` as the query string asks.

    ``qs`` must already be scoped to the company. Errors in the query string are reported on
    ``page.state.errors`` and the list falls back to showing everything, so a stale link never breaks the page.
    """
    state = parse_state(spec, params)
    if state.filter is not None:
        try:
            qs = apply_filter(qs, state.filter)
        except ListQueryError as exc:
            state.errors.append(str(exc))
            state.filter = None
    column = spec.column(state.sort_key)
    if column is None or column.field is None:  # parse_state only keeps sortable columns
        raise ListQueryError(_("Unknown sort column: %(key)s.") % {"key": state.sort_key})
    path = column.field
    nullable = _nullable(qs.model, path)
    size = spec.page_size
    number = 1
    rows: list[_M]
    try:
        if state.before:
            value, pk, number = _decode(state.before)
            rev = qs.filter(_seek(path, not state.descending, value, pk, nullable=nullable))
            rows = list(rev.order_by(*_ordering(path, not state.descending))[: size + 1])
            has_prev = len(rows) > size
            rows = list(reversed(rows[:size]))
            has_next = True
            number = max(1, number - 1)
        else:
            ordered = qs
            if state.after:
                value, pk, number = _decode(state.after)
                ordered = qs.filter(_seek(path, state.descending, value, pk, nullable=nullable))
                number += 1
            rows = list(ordered.order_by(*_ordering(path, state.descending))[: size + 1])
            has_next = len(rows) > size
            rows = rows[:size]
            has_prev = number > 1
    except ListQueryError as exc:
        state.errors.append(str(exc))
        state.after = state.before = ""
        rows = list(qs.order_by(*_ordering(path, state.descending))[: size + 1])
        has_next, has_prev, number = len(rows) > size, False, 1
        rows = rows[:size]
    if not rows:
        has_prev = has_prev and number > 1
    total = qs.order_by()[: COUNT_CAP + 1].count()
    visible = visible_columns(spec, visible_keys)
    base_query = {k: v for k, v in params.items() if k not in ("after", "before") and v != ""}
    first_id = rows[0] if rows else None
    last_id = rows[-1] if rows else None
    return Page(
        spec=spec,
        state=state,
        visible=visible,
        rows=[(obj, [(c, c.read(obj)) for c in visible]) for obj in rows],
        number=number,
        total=min(total, COUNT_CAP),
        total_capped=total > COUNT_CAP,
        next_cursor=_encode(read_path(last_id, path), last_id.pk, number) if has_next and last_id else None,
        prev_cursor=_encode(read_path(first_id, path), first_id.pk, number)
        if has_prev and first_id
        else None,
        base_query=base_query,
    )


def visible_columns(spec: ListSpec, keys: Sequence[str] | None) -> list[Column]:
    if not keys:
        return [c for c in spec.columns if c.default or c.required]
    wanted = set(keys)
    return [c for c in spec.columns if c.key in wanted or c.required]


LIST_SPECS: dict[str, ListSpec] = {}


def register_list(spec: ListSpec) -> ListSpec:
    """Make a list known to the column picker, which validates saved column keys against it."""
    if LIST_SPECS.get(spec.key, spec) is not spec:
        raise ValueError(f"list {spec.key!r} is registered twice")
    LIST_SPECS[spec.key] = spec
    return spec
