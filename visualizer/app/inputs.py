"""What a browser may send: a validator for every state key and every trigger of the page.

Every value that comes from a browser is hostile until checked here: its type, that numbers are
finite and in range, string and list lengths, enum members and (through ``choices``) membership of
the sets the server was started with (protocol ids, landmark names).  ``visualizer.app.guard`` runs
these checks on each ``trame.state.update`` and ``trame.trigger`` request BEFORE the app sees it,
and answers a refusal with a clear message on the page (values quoted in it are cut short first).

Coordinates (pain point, landmarks, cameras) are in the head mesh's frame, millimetres.
Pixel values are CSS pixels of the page.

A state key or a trigger that is not listed here is refused: a new control on the page needs an
entry in :data:`STATE` or :data:`TRIGGERS` (the fuzz test ``tests/e2e/test_fuzz.py`` fails when the
page uses one that has none).
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from visualizer.body_type import AGE_RANGE
from visualizer.checks import MAX_IMAGE_PX, MIN_IMAGE_PX
from visualizer.landmarks import LANDMARKS
from visualizer.pain import REGIONS as PAIN_REGIONS
from visualizer.records.rules import CODE_RE
from visualizer.scan_upload import CHUNK_BYTES, MAX_UPLOAD_BYTES

# ------------------------------------------------------------------------------------------
# limits
# ------------------------------------------------------------------------------------------
MAX_VIEW_PX = 4096  # a view the browser reports (clicks are picked in a window of this size)
MAX_COORD_MM = 10_000.0  # no coordinate of a head scene is 10 m away
MAX_PAGE_PX = 100_000.0  # pointer positions on the page
MAX_NAME = 64  # ids and names (protocol, landmark, site)
PatientCode = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
MAX_LANDMARKS = 2 * len(LANDMARKS)  # every landmark of the registry, with room for a scan's extras
QUOTE_CHARS = 60  # a value quoted in a message or a log line is cut to about this many characters

TABS = ("plan", "patient", "trainer", "record")
SIDES = ("left", "both", "right")
CLICK_ACTIONS = ("pain", "select", "landmark")
VIEW_MODES = ("local", "remote")
CAMERA_VIEWS = ("front", "back", "left", "right", "top", "reset")  # scene.VIEWS + "reset"


class InputRefused(ValueError):
    """A value from the browser was refused; ``str()`` is the message shown on the page."""


# ------------------------------------------------------------------------------------------
# quoting hostile values (never echo a 60 MB string)
# ------------------------------------------------------------------------------------------
_REPR = reprlib.Repr()
_REPR.maxstring = QUOTE_CHARS
_REPR.maxother = QUOTE_CHARS
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 4
_REPR.maxlevel = 2
_REPR.maxlong = 24


def quote(value: Any, limit: int = QUOTE_CHARS) -> str:
    """A short, bounded ``repr`` of any value (strings, containers and nesting cut short)."""
    try:
        text = _REPR.repr(value)
    except Exception:  # a hostile object whose repr fails
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit + 8 else text[:limit] + "..."


# ------------------------------------------------------------------------------------------
# value types
# ------------------------------------------------------------------------------------------
Coord = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-MAX_COORD_MM, le=MAX_COORD_MM)]
Vec3 = Annotated[list[Coord], Field(min_length=3, max_length=3)]
PagePx = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-MAX_PAGE_PX, le=MAX_PAGE_PX)]
PagePoint = Annotated[list[PagePx], Field(min_length=2, max_length=2)]
ViewPx = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=MAX_VIEW_PX)]
ImagePx = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=MIN_IMAGE_PX, le=MAX_IMAGE_PX)]
Name = Annotated[str, Field(strict=True, min_length=1, max_length=MAX_NAME)]
# a pain chip: a region, or a region with its own side ("left-temporal")
Chip = Annotated[
    str, Field(strict=True, max_length=MAX_NAME, pattern="^(left-|right-)?(" + "|".join(PAIN_REGIONS) + ")$")
]
Chips = Annotated[list[Chip], Field(max_length=3 * len(PAIN_REGIONS))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Camera(_Strict):
    """A vtk.js camera as the page sends it (mesh frame, mm; view angle in degrees)."""

    position: Vec3
    focalPoint: Vec3
    viewUp: Vec3 | None = None
    viewAngle: Annotated[float, Field(allow_inf_nan=False, ge=1.0, le=170.0)] | None = None
    width: ViewPx | None = None  # the view's size in CSS px, when the page sends it along
    height: ViewPx | None = None

    @model_validator(mode="after")
    def _usable(self) -> Camera:
        d = [a - b for a, b in zip(self.position, self.focalPoint, strict=True)]
        n = math.sqrt(sum(v * v for v in d))
        if n < 1e-3:
            raise ValueError("camera position and focal point coincide")
        if self.viewUp is not None:
            u = self.viewUp
            un = math.sqrt(sum(v * v for v in u))
            if un < 1e-6:
                raise ValueError("camera view-up is a zero vector")
            cross = (d[1] * u[2] - d[2] * u[1], d[2] * u[0] - d[0] * u[2], d[0] * u[1] - d[1] * u[0])
            if math.sqrt(sum(c * c for c in cross)) < 1e-6 * n * un:
                raise ValueError("camera view-up is parallel to the view direction")
        return self


class _PixelXY(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)
    x: PagePx
    y: PagePx


class ClickEvent(BaseModel):
    """A click on the 3D view (trame-vtk's picking event; unknown fields are dropped)."""

    model_config = ConfigDict(extra="ignore", strict=True)
    mode: Literal["local", "remote"] | None = None
    position: _PixelXY | None = None
    worldPosition: Vec3 | None = None
    remoteId: Annotated[str, Field(max_length=MAX_NAME)] | Annotated[int, Field(ge=0, le=2**53)] | None = None


# ------------------------------------------------------------------------------------------
# the patient's record (visualizer.app.records_ctrl): forms the page sends with its actions
# ------------------------------------------------------------------------------------------
MAX_VISIT_SITES = 400
PatientCode = Annotated[str, Field(strict=True, min_length=1, max_length=40, pattern=CODE_RE.pattern)]
DateText = Annotated[str, Field(strict=True, max_length=10, pattern=r"^(\d{4}-\d{2}-\d{2})?$")]
MonthText = Annotated[str, Field(strict=True, max_length=7, pattern=r"^\d{4}-\d{2}$")]
VisitId = Annotated[int, Field(strict=True, ge=1, le=2**31)]


def _text(limit: int) -> Any:
    return Annotated[str, Field(strict=True, max_length=limit)]


def _number_or_blank(value: Any) -> Any:
    """A number field of the page: a number, or its text (blank = not given); never a bool."""
    if isinstance(value, bool):
        raise ValueError("must be a number")
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if len(text) > 16:
            raise ValueError("must be a number")
        try:
            return float(text) if any(c in text for c in ".eE") else int(text)
        except ValueError:
            raise ValueError("must be a number") from None
    return value


Units = Annotated[Annotated[float, Field(allow_inf_nan=False, ge=0, le=50)] | None, BeforeValidator(_number_or_blank)]
DayCount = Annotated[Annotated[int, Field(ge=0, le=31)] | None, BeforeValidator(_number_or_blank)]
BirthYear = Annotated[Annotated[int, Field(ge=1900, le=2200)] | None, BeforeValidator(_number_or_blank)]


class SiteEntry(_Strict):
    """One row of the visit's site table: units given, or skipped with a reason."""

    given: Units = None
    skip: StrictBool = False
    skip_reason: _text(500) = ""  # type: ignore[valid-type]


class VisitForm(_Strict):
    """The visit form (dates ``YYYY-MM-DD``; blank = not given); every field is sent."""

    date: DateText
    product: _text(200)  # type: ignore[valid-type]
    lot: _text(100)  # type: ignore[valid-type]
    expiry: DateText
    injector: _text(200)  # type: ignore[valid-type]
    reason: _text(2000)  # type: ignore[valid-type]
    override: _text(2000)  # type: ignore[valid-type]
    amend_reason: _text(2000)  # type: ignore[valid-type]
    sites: Annotated[dict[Name, SiteEntry], Field(max_length=MAX_VISIT_SITES)]


class NewPatient(_Strict):
    """A new patient: a pseudonym code, optional name and birth year, and whether the plan's origin is usual."""

    code: PatientCode
    name: _text(200)  # type: ignore[valid-type]
    birth_year: BirthYear
    with_origin: StrictBool


class DiaryEntry(_Strict):
    """One month of the headache diary."""

    month: MonthText
    headache_days: DayCount
    migraine_days: DayCount
    acute_days: DayCount
    replace: StrictBool


# the doses an injector chose within the sites' ranges (visualizer.app.doses): {expanded site id:
# units}; the type, finiteness and size are checked here, the ids, signs and ranges against the
# protocol by the session (Session.checked_units, the checks of ``plan --dose``)
MAX_CHOSEN_UNITS = 128  # more sites than any protocol has (PREEMPT with follow-the-pain: 39)
DoseUnits = Annotated[float, Field(strict=True, allow_inf_nan=False)]
ChosenUnits = Annotated[dict[Name, DoseUnits], Field(max_length=MAX_CHOSEN_UNITS)]


class SavedInputs(_Strict):
    """The inputs a page keeps in its address to restore after a reload or a reconnect.

    ``point`` and ``landmarks`` are in the head mesh's frame (mm).
    """

    v: Literal[1] = 1
    protocol: Name | None = None
    regions: Chips = []
    side: Literal[SIDES] = "both"  # type: ignore[valid-type]
    point: Vec3 | None = None
    ftp: StrictBool = True
    landmarks: Annotated[dict[Name, Vec3], Field(max_length=MAX_LANDMARKS)] = {}
    tab: Literal[TABS] = "plan"  # type: ignore[valid-type]
    patient: PatientCode | None = None  # the patient record open in the page (visualizer.app.records_ctrl)
    units: ChosenUnits = {}  # the doses chosen within the sites' ranges (visualizer.app.doses)


# ------------------------------------------------------------------------------------------
# checks
# ------------------------------------------------------------------------------------------
Choices = Callable[[Any], Iterable[str]]


def _allowed_tabs(app: Any) -> Iterable[str]:
    """The tabs this session's account may open (a viewer: the patient view only)."""
    from visualizer.app.access import tabs_allowed

    return tabs_allowed(TABS)


def _protocol_ids(app: Any) -> Iterable[str]:
    return [str(p.id) for p in app.session.protocols]


def _landmark_names(app: Any) -> Iterable[str]:
    return list(app.session.head.landmarks)


def _site_ids(app: Any) -> Iterable[str]:
    return [str(s.id) for s in app.session.plan.sites]


@dataclass(frozen=True)
class Check:
    """One value: its type (a pydantic ``TypeAdapter``) and, optionally, the app's allowed set."""

    adapter: TypeAdapter
    choices: Choices | None = None
    what: str = "value"

    def __call__(self, value: Any, app: Any = None, *, field: str = "value") -> Any:
        try:
            out = self.adapter.validate_python(value)
        except ValidationError as exc:
            raise InputRefused(f"{field} {quote(value)}: {_reason(exc)}") from None
        except (RecursionError, MemoryError):
            raise InputRefused(f"{field}: the value is nested too deeply or too large") from None
        if isinstance(out, BaseModel):
            out = out.model_dump(exclude_none=True)
        if self.choices is not None and app is not None and out is not None:  # membership
            allowed = sorted(self.choices(app))
            members = out if isinstance(out, list) else [out]
            for m in members:
                if m not in allowed:
                    shown = ", ".join(allowed[:12]) + (", ..." if len(allowed) > 12 else "")
                    raise InputRefused(f"{field} {quote(m)}: unknown {self.what}; choose one of {shown}")
        return out


def _reason(exc: ValidationError) -> str:
    errs = exc.errors(include_input=False, include_url=False, include_context=False)
    parts = []
    for e in errs[:3]:
        loc = ".".join(str(p) for p in e.get("loc", ()))
        msg = str(e.get("msg", "invalid"))[:160]
        parts.append(f"{loc}: {msg}" if loc else msg)
    more = f" (+{len(errs) - 3} more)" if len(errs) > 3 else ""
    return "; ".join(parts) + more


def _check(tp: Any, choices: Choices | None = None, what: str = "value") -> Check:
    return Check(TypeAdapter(tp), choices, what)


_BOOL = _check(StrictBool)
_PAGE_POINT = _check(PagePoint | None)

#: Every state key the page may change, with its check.  Keys not listed are the server's own
#: (totals, rows, messages, ...) and a page may not write them.
STATE: dict[str, Check] = {
    "drawer": _BOOL,
    "tab": _check(Literal[TABS], _allowed_tabs, "tab for this account"),  # type: ignore[valid-type]
    "protocol_id": _check(Name, _protocol_ids, "protocol"),
    "pain_chips": _check(Chips),
    "pain_side": _check(Literal[SIDES]),  # type: ignore[valid-type]
    "follow_the_pain": _BOOL,
    "click_action": _check(Literal[CLICK_ACTIONS]),  # type: ignore[valid-type]
    "landmark_name": _check(Name, _landmark_names, "landmark"),
    "view_mode": _check(Literal[VIEW_MODES]),  # type: ignore[valid-type]
    "selected_site": _check(Name | None, _site_ids, "site of this plan"),
    "show_muscles": _BOOL,
    "show_labels": _BOOL,
    "show_landmarks": _BOOL,
    "show_answers": _BOOL,
    "message": _check(Literal[""]),  # the page may only close the message
    # body type of the bundled head (issue 10; visualizer/app/body.py): the sliders' ranges
    "body_sex": _check(Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.0, le=1.0)]),
    "body_age": _check(Annotated[float, Field(strict=True, allow_inf_nan=False, ge=AGE_RANGE[0], le=AGE_RANGE[1])]),
    "body_weight": _check(Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.0, le=1.0)]),
    "body_muscle": _check(Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.0, le=1.0)]),
    "pick_down": _PAGE_POINT,
    "pick_up": _PAGE_POINT,
    # set by the page's script: layout hints
    "debug": _BOOL,
    "portrait": _BOOL,
    "view_size": _check(Annotated[list[ViewPx], Field(min_length=2, max_length=2)] | None),
}

# the record's forms live in the page only (client-only keys: typing is never sent); checked like
# any other key should a page send them anyway
STATE.update(
    {
        "rec_query": _check(_text(64)),
        "rec_new": _check(NewPatient),
        "rec_form": _check(VisitForm),
        "rec_diary": _check(DiaryEntry),
        "rec_amending": _BOOL,
    }
)

_REQUIRED = object()


@dataclass(frozen=True)
class Params:
    """The arguments of one trigger: ``(name, check, default)``; ``_REQUIRED`` marks no default."""

    params: tuple[tuple[str, Check, Any], ...] = ()

    def bind(self, app: Any, args: Sequence[Any], kwargs: Mapping[str, Any]) -> tuple[list, dict]:
        """Validated positional arguments (and no keyword arguments) for the trigger's function.

        Arguments after the last one given are left out (the function's own defaults apply);
        a gap before it gets the default listed here.
        """
        names = [p[0] for p in self.params]
        if len(args) > len(self.params):
            raise InputRefused(f"takes at most {len(self.params)} argument(s), got {len(args)}")
        values: dict[str, Any] = dict(zip(names, args, strict=False))
        for k, v in kwargs.items():
            if k not in names:
                raise InputRefused(f"no argument named {quote(k)}")
            if k in values:
                raise InputRefused(f"argument {quote(k)} given twice")
            values[k] = v
        last = max((i for i, n in enumerate(names) if n in values), default=-1)
        out = []
        for i, (name, check, default) in enumerate(self.params):
            if i > last:
                if default is _REQUIRED:
                    raise InputRefused(f"argument {name} is missing")
                continue
            if name not in values:
                if default is _REQUIRED:
                    raise InputRefused(f"argument {name} is missing")
                out.append(default)
                continue
            out.append(check(values[name], app, field=name))
        return out, {}


def _p(*params: tuple[str, Check, Any]) -> Params:
    return Params(tuple(params))


_OPT_CAMERA = _check(Camera | None)
_NONE: Params = _p()

#: Every trigger the page may call, by the name of the app method it runs.
TRIGGERS: dict[str, Params] = {
    "plan_json": _NONE,
    "plan_csv": _NONE,
    "snapshot_png": _p(
        ("camera", _OPT_CAMERA, None),
        ("size", _check(Annotated[list[ImagePx], Field(min_length=2, max_length=2)] | None), None),
        ("figure", _BOOL, True),
    ),  # a printable figure or the bare view
    "on_local_click": _p(
        ("x", _check(PagePx), _REQUIRED),
        ("y", _check(PagePx), _REQUIRED),
        ("width", _check(ViewPx), _REQUIRED),
        ("height", _check(ViewPx), _REQUIRED),
        ("camera", _OPT_CAMERA, None),
        ("down", _PAGE_POINT, None),
        ("up", _PAGE_POINT, None),
    ),
    "on_click": _p(("event", _check(ClickEvent | None), None), ("down", _PAGE_POINT, None), ("up", _PAGE_POINT, None)),
    "camera": _p(("view", _check(Literal[CAMERA_VIEWS]), _REQUIRED)),  # type: ignore[valid-type]
    "clear_pain": _NONE,
    "clear_pain_point": _NONE,
    "reset_landmarks": _NONE,
    "patient_prev": _NONE,
    "patient_next": _NONE,
    "patient_play": _NONE,
    "patient_pause": _NONE,
    "patient_restart": _NONE,
    "quiz_start": _NONE,
    "quiz_stop": _NONE,
    "quiz_next": _NONE,
    "restore_inputs": _p(("saved", _check(SavedInputs), _REQUIRED)),
    # the doses chosen within the sites' ranges (visualizer.app.doses)
    "set_units": _p(("units", _check(ChosenUnits), _REQUIRED)),
    "reset_units": _NONE,
    # the browser's camera after a rotate/zoom, and a row of the site table
    "on_view_camera": _p(
        ("camera", _OPT_CAMERA, None), ("width", _check(ViewPx | None), None), ("height", _check(ViewPx | None), None)
    ),
    "focus_site": _p(("site_id", _check(Name, _site_ids, "site of this plan"), _REQUIRED)),
    "print_view": _p(("camera", _OPT_CAMERA, None)),  # the bare view for the page's print layout
    # visualizer.app.access: a patient's summary from the records (injector only, audited)
    "records_patient": _p(("code", _check(PatientCode), _REQUIRED)),
}

# "Load a scan" (visualizer.app.scan_ctrl): the file in pieces; its name, size, format and every
# piece are checked again, with a message naming the file, by visualizer.scan_upload
_UPLOAD_ID = ("upload_id", _check(Annotated[str, Field(strict=True, min_length=1, max_length=32)]), _REQUIRED)
TRIGGERS.update(
    {
        "scan_begin": _p(
            ("name", _check(Annotated[str, Field(strict=True, min_length=1, max_length=255)]), _REQUIRED),
            ("size", _check(Annotated[int, Field(strict=True, ge=0, le=2**53)]), _REQUIRED),
        ),
        "scan_chunk": _p(
            _UPLOAD_ID,
            ("offset", _check(Annotated[int, Field(strict=True, ge=0, le=MAX_UPLOAD_BYTES)]), _REQUIRED),
            ("data", _check(Annotated[bytes, Field(strict=True, min_length=1, max_length=CHUNK_BYTES)]), _REQUIRED),
        ),
        "scan_end": _p(_UPLOAD_ID),
        "scan_use": _NONE,
        "scan_cancel": _NONE,
    }
)

_VISIT = ("visit_id", _check(VisitId), _REQUIRED)
TRIGGERS.update(
    {  # the patient's record (visualizer.app.records_ctrl.RecordsController)
        "rec_search": _p(("query", _check(_text(64)), "")),
        "rec_create": _p(("form", _check(NewPatient), _REQUIRED)),
        "rec_open": _p(("code", _check(PatientCode), _REQUIRED)),
        "rec_close": _NONE,
        "rec_save_origin": _NONE,
        "rec_save_protocol": _NONE,
        "rec_new_visit": _NONE,
        "rec_open_visit": _p(_VISIT),
        "rec_save_draft": _p(("form", _check(VisitForm), _REQUIRED)),
        "rec_sign": _p(("form", _check(VisitForm), _REQUIRED)),
        "rec_amend": _p(("form", _check(VisitForm), _REQUIRED)),
        "rec_compare": _NONE,
        "rec_compare_clear": _NONE,
        "rec_diary_add": _p(("entry", _check(DiaryEntry), _REQUIRED)),
        "rec_visit_pdf": _p(_VISIT),
        "rec_handout_pdf": _p(_VISIT),
    }
)

# Other RPCs the page sends on its own.  trame-vtk's views: sizes are bounded (a hostile
# 16384 x 16384 view would freeze the session).  Positional arguments after ``self``.
_VIEW_ID = _check(Annotated[str, Field(max_length=MAX_NAME)] | Annotated[int, Field(ge=-1, le=2**31)])
# a view size for VTK: finite, bounded, whole pixels (a browser may report fractions)
ViewSizePx = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=MAX_VIEW_PX), AfterValidator(round)]
_SIZE_PX = _check(ViewSizePx)


class ImagePushOptions(BaseModel):
    """``viewport.image.push`` options (only the fields trame-vtk reads are checked)."""

    model_config = ConfigDict(extra="allow", strict=True)
    view: Annotated[str, Field(max_length=MAX_NAME)] | Annotated[int, Field(ge=-1, le=2**31)] = -1
    size: Annotated[list[ViewSizePx], Field(min_length=2, max_length=2)] | None = None
    quality: Annotated[int, Field(ge=0, le=100)] | None = None
    mtime: Annotated[int, Field(ge=-1, le=2**53)] | None = None


def _state_key(app: Any) -> Iterable[str]:
    return list(app.state.to_dict()) if app is not None else []


_KEYS = Check(TypeAdapter(Name), _state_key, "state key")

#: RPCs (besides ``trame.state.update`` and ``trame.trigger``) whose arguments are checked first.
RPCS: dict[str, Params] = {
    # a state key only if the server has it (a hostile name would be echoed back)
    "trame.force.push": _p(*((f"key{i}", _KEYS, None) for i in range(8))),
    # the client's life-cycle events (any other name would grow the controller without bound)
    "trame.lifecycle.update": _p(
        ("name", _check(Literal["client_connected", "client_unmounted", "client_exited"]), _REQUIRED)
    ),
    # a JavaScript error message is logged: cut short
    "trame.error.client": _p(("message", _check(Annotated[str, Field(strict=True, max_length=2000)] | None), None)),
    "viewport.image.push": _p(("options", Check(TypeAdapter(ImagePushOptions)), _REQUIRED)),
    "viewport.image.push.original.size": _p(
        ("view_id", _VIEW_ID, _REQUIRED), ("width", _SIZE_PX, _REQUIRED), ("height", _SIZE_PX, _REQUIRED)
    ),
    "viewport.image.push.quality": _p(
        ("view_id", _VIEW_ID, _REQUIRED),
        ("quality", _check(Annotated[int, Field(strict=True, ge=0, le=100)]), _REQUIRED),
        ("ratio", _check(Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0, le=1)]), 1),
    ),
}


def check_state(app: Any, key: Any, value: Any) -> Any:
    """The validated value of one state change from the page (raises :class:`InputRefused`)."""
    if not isinstance(key, str) or key not in STATE:
        raise InputRefused(f"the page may not change {quote(key)}")
    return STATE[key](value, app, field=key)


#: What a viewer's page (the waiting-room kiosk: the patient step-through only) may run; the
#: records are refused to trainers and viewers by :func:`visualizer.app.access.records` itself.
VIEWER_TRIGGERS = frozenset(
    {
        "patient_prev",
        "patient_next",
        "patient_play",
        "patient_pause",
        "patient_restart",
        "camera",
        "on_view_camera",
        "on_click",
        "on_local_click",
        "restore_inputs",
        "snapshot_png",
        "print_view",
    }
)


def _role_refuses(method: str) -> bool:
    from visualizer.app.access import identity

    ident = identity()
    return ident is not None and ident.login and ident.role == "viewer" and method not in VIEWER_TRIGGERS


def check_trigger(app: Any, method: str, args: Any, kwargs: Any) -> tuple[list, dict]:
    """Validated arguments for a trigger running the app method ``method``."""
    spec = TRIGGERS.get(method)
    if spec is None:
        raise InputRefused("this action is not accepted from the page")
    if _role_refuses(method):
        raise InputRefused("this action is not available to your account (the patient view only)")
    if not isinstance(args, list) or not isinstance(kwargs, dict):
        raise InputRefused("the arguments are not a list and a dictionary")
    return spec.bind(app, args, kwargs)


def check_rpc(app: Any, method: str, args: list, kwargs: dict) -> tuple[list, dict] | None:
    """Validated arguments for another RPC (``None``: not one that is checked here)."""
    spec = RPCS.get(method)
    if spec is None:
        return None
    out, kw = spec.bind(app, args, kwargs)
    if method == "trame.force.push":
        out = [k for k in out if k is not None]
    return out, kw
