"""Parameters, defined once per operation.

Each operation declares a tuple of :class:`Param`. The same declaration
validates the config DSS hands to a macro or a step, parses command-line values,
and is checked against ``runnable.json`` / ``step.json`` by the test suite, so a
parameter's name, type, default and bounds live in exactly one place.

The same tuple also lays out the DSS form: :func:`separator` entries start its
sections (they hold no value: parsing, the checks and the command line skip
them), ``visible_if`` hides a field that does not apply, ``choices_from`` makes
DSS offer a list it can compute (projects, users, time zones, mail channels;
``resource/choices.py`` lists them), ``step_only`` / ``macro_only`` keep a field
out of the component where it does nothing.
"""

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, List, Mapping, Optional, Tuple

from .errors import ParameterError

# Parameter types this module knows how to validate (a subset of DSS's types).
SUPPORTED_TYPES = ("INT", "DOUBLE", "BOOLEAN", "STRING", "STRINGS", "SELECT", "MULTISELECT", "SEPARATOR")

#: The lists DSS can offer in a form (``getChoicesFromPython``): a parameter with ``choices_from``
#: names one; the script of CHOICES_SCRIPT (``resource/``) lists it, for the value it describes.
CHOICE_LISTS = {
    "projects": "project keys",
    "users": "user logins",
    "timezones": "time zone names",
    "mail_channels": "messaging channel ids",
    "alert_channels": "messaging channel ids",
}
#: The ``paramsPythonSetup`` of every descriptor with such a parameter (a file of ``resource/``).
CHOICES_SCRIPT = "choices.py"

_TRUE = ("true", "1", "yes", "y", "on")
_FALSE = ("false", "0", "no", "n", "off")


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    label: str
    default: Any = None
    description: str = ""
    min: Optional[float] = None
    max: Optional[float] = None
    choices: Tuple[Tuple[str, str], ...] = ()  # (value, label)
    #: DSS's ``mandatory``: the form refuses an empty field. Missing from a config (the command
    #: line, an older saved step), such a parameter takes its default; without one it is refused.
    mandatory: bool = False
    #: Declared in step.json only (e.g. fail_on_error), not in runnable.json.
    step_only: bool = False
    #: Declared in runnable.json only: it does nothing in the step.
    macro_only: bool = False
    #: DSS's ``visibilityCondition``: a JavaScript expression on ``model.<name>`` (the values of the
    #: form); the field is shown only while it is true. Its value is still in the config when hidden.
    visible_if: str = ""
    #: A key of CHOICE_LISTS: DSS offers that list (``getChoicesFromPython``) instead of free text.
    choices_from: str = ""
    #: The plugin-level setting that gives this field its value when left empty (nodeops.settings).
    setting: str = ""

    def __post_init__(self):
        if self.type not in SUPPORTED_TYPES:
            raise ValueError("parameter %s: unsupported type %s" % (self.name, self.type))
        if self.choices_from and (self.choices_from not in CHOICE_LISTS or self.type not in ("SELECT", "MULTISELECT")
                                  or self.choices):
            raise ValueError("parameter %s: choices_from %r needs a SELECT or MULTISELECT without static choices, "
                             "and one of %s" % (self.name, self.choices_from, ", ".join(CHOICE_LISTS)))
        if self.step_only and self.macro_only:
            raise ValueError("parameter %s: step_only and macro_only exclude each other" % self.name)
        if self.type == "SEPARATOR" and (self.default is not None or self.mandatory or self.choices or self.setting):
            raise ValueError("separator %s holds no value" % self.name)

    @property
    def is_value(self):
        """False for a separator: a heading of the form, not a parameter."""
        return self.type != "SEPARATOR"

    @property
    def required(self):
        """A value must be given: mandatory, and no default to fall back on."""
        return self.mandatory and self.default is None

    def shown_in(self, component):
        """Whether the form of ``component`` ("macro": runnable.json, "step": step.json) declares it."""
        return not (self.step_only and component == "macro") and not (self.macro_only and component == "step")

    def describe_allowed(self):
        if self.type == "INT" or self.type == "DOUBLE":
            kind = "an integer" if self.type == "INT" else "a number"
            if self.min is not None and self.max is not None:
                return "%s from %s to %s" % (kind, _num(self.min), _num(self.max))
            if self.min is not None:
                return "%s >= %s" % (kind, _num(self.min))
            if self.max is not None:
                return "%s <= %s" % (kind, _num(self.max))
            return kind
        if self.type == "BOOLEAN":
            return "true or false"
        if self.choices_from:
            what = CHOICE_LISTS[self.choices_from]
            if self.type == "SELECT":
                return "one of the %s of this DSS" % what
            return "a list of %s (or a comma-separated string)" % what
        if self.type in ("SELECT", "MULTISELECT"):
            return "one of %s" % ", ".join(v for v, _ in self.choices)
        if self.type == "STRINGS":
            return "a list of strings (or a comma-separated string)"
        return "a string"


def _num(x):
    return int(x) if float(x).is_integer() else x


def separator(label, description="", visible_if=""):
    """A section heading of the form (DSS's SEPARATOR), named ``sep_<label>``; it holds no value."""
    name = "sep_" + re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")
    return Param(name, "SEPARATOR", label, description=description, visible_if=visible_if)


def values_of(params):
    """The parameters of a declaration that hold values (separators left out)."""
    return tuple(p for p in params if p.is_value)


class ParamValues(Mapping):
    """Validated, typed parameter values, readable as attributes or as a mapping."""

    def __init__(self, values):
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        raise AttributeError("parameter values are read-only")

    def __getitem__(self, key):
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)

    def __repr__(self):
        return "ParamValues(%r)" % (self._values,)


class _Invalid(Exception):
    pass


#: Upper bounds the code can honour, for the declarations of the operations.
MAX_DAYS = 36500  # 100 years: a datetime minus this many days is still a valid datetime
MAX_HOURS = MAX_DAYS * 24
MAX_COUNT = 1000000  # a number of entries, copies, kernels, runs
MAX_MIB = 1024 * 1024 * 1024  # 1 PiB in MiB
MAX_GB = 1000 ** 3  # 1 EB in GB

# Numbers as an administrator types them: ASCII digits only (Python's int() and
# float() also take '٣', '1_000', ' nan', 'infinity'), one optional sign.
_INT_RE = re.compile(r"[+-]?[0-9]{1,30}\Z", re.ASCII)
_FLOAT_RE = re.compile(r"[+-]?([0-9]{1,30}(\.[0-9]{0,30})?|\.[0-9]{1,30})([eE][+-]?[0-9]{1,4})?\Z", re.ASCII)
# Control characters (NUL first) have no place in a name, a path or a host.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def _shown(raw, limit=80):
    """``repr(raw)`` for a message: never raises (a 5000-digit int), never floods (a huge list)."""
    if isinstance(raw, int) and not isinstance(raw, bool) and raw.bit_length() > 200:
        return "an integer of about %d digits" % int(raw.bit_length() * 0.30103)
    try:
        text = repr(raw)
    except (ValueError, RecursionError):
        return "a value of type %s" % type(raw).__name__
    return text if len(text) <= limit else text[:limit - 5] + "...%s" % text[-2:]


def _text(raw):
    """A string parameter: stripped; refused when it holds control characters or
    cannot name a file on this system (a lone surrogate from JSON)."""
    if not isinstance(raw, str) or _CONTROL_RE.search(raw):
        raise _Invalid
    try:
        raw.encode("utf-8", "surrogateescape")  # what os.fsencode does on Linux
    except UnicodeEncodeError:
        raise _Invalid from None
    return raw.strip()


def _integer(raw):
    if isinstance(raw, bool):
        raise _Invalid
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():  # DSS may deliver INT params as floats; nan and inf are not
        return int(raw)
    if isinstance(raw, str) and _INT_RE.match(raw.strip()):
        return int(raw.strip())
    raise _Invalid


def _number(raw):
    if isinstance(raw, bool):
        raise _Invalid
    if isinstance(raw, int):
        if raw.bit_length() > 1000:
            raise _Invalid  # float() would overflow
        value = float(raw)
    elif isinstance(raw, float):
        value = raw
    elif isinstance(raw, str) and _FLOAT_RE.match(raw.strip()):
        value = float(raw.strip())
    else:
        raise _Invalid
    if math.isnan(value) or math.isinf(value):
        raise _Invalid
    return value


def _strings(raw):
    if isinstance(raw, str):
        items = raw.split(",")
    elif isinstance(raw, (list, tuple)):
        items = list(raw)
    else:
        raise _Invalid
    return tuple(x for x in (_text(item) for item in items) if x)


def _coerce(param, raw):
    t = param.type
    if t == "INT":
        value = _integer(raw)
    elif t == "DOUBLE":
        value = _number(raw)
    elif t == "BOOLEAN":
        if isinstance(raw, bool):
            value = raw
        elif isinstance(raw, str) and raw.strip().lower() in _TRUE + _FALSE:
            value = raw.strip().lower() in _TRUE
        else:
            raise _Invalid
    elif t in ("STRING", "SELECT"):
        value = _text(raw)
        if t == "SELECT" and not param.choices_from and value not in [v for v, _ in param.choices]:
            raise _Invalid
    else:  # STRINGS, MULTISELECT (a list, as DSS gives it; a comma-separated string from the command line)
        value = _strings(raw)
        if t == "MULTISELECT" and not param.choices_from:
            allowed = [v for v, _ in param.choices]
            if any(x not in allowed for x in value):
                raise _Invalid
    if t in ("INT", "DOUBLE"):
        if (param.min is not None and value < param.min) or (param.max is not None and value > param.max):
            raise _Invalid
    return value


def _is_missing(raw):
    return raw is None or (isinstance(raw, str) and raw.strip() == "")


def _default(p):
    if isinstance(p.default, list):
        return tuple(p.default)
    if p.type == "DOUBLE" and p.default is not None:
        return float(p.default)
    return p.default


def parse_params(operation: str, params: Iterable[Param], config: Optional[Mapping],
                 check: Optional[Callable[[ParamValues], List[str]]] = None) -> ParamValues:
    """Validate ``config`` (as DSS or the command line gives it) into typed values.

    Missing values take their default. ``check(values)``, the operation's own
    checks across parameters, returns a list of problems; it sees every
    parameter (a refused one at its default) and its problems about a
    parameter already refused are dropped. Every problem is reported at once,
    in one :class:`ParameterError` naming each parameter and what is allowed;
    nothing has happened yet when this raises.
    """
    params = values_of(params)  # a separator is a heading of the form, not a value
    config = dict(config or {}) if isinstance(config, Mapping) else {}
    problems, refused, values = [], set(), {}
    for p in params:
        raw = config.get(p.name)
        if _is_missing(raw):
            if p.required:
                problems.append("'%s' is mandatory (%s)" % (p.name, p.describe_allowed()))
                refused.add(p.name)
            values[p.name] = _default(p)
            continue
        try:
            values[p.name] = _coerce(p, raw)
        except _Invalid:
            problems.append("'%s' must be %s, got %s" % (p.name, p.describe_allowed(), _shown(raw)))
            refused.add(p.name)
            values[p.name] = _default(p)
    # Keys that are not declared are ignored: DSS keeps the values of parameters
    # a newer plugin version removed in saved scenario steps, and adds its own
    # (e.g. _projectFolderId).
    if check is not None:
        problems += [m for m in check(ParamValues(values))
                     if not any(m.startswith("'%s'" % name) for name in refused)]
    if problems:
        raise ParameterError(operation, problems)
    return ParamValues(values)


def timezone_problem(name, value):
    """None when ``value`` is a key of the time zone database (``zoneinfo``: the
    system's, else the ``tzdata`` package); else the problem, naming parameter ``name``."""
    zones = _timezones()
    if value in zones:
        return None
    if not zones:
        return "'%s' cannot be checked: this host has no time zone database (install the tzdata package)" % name
    return "'%s' must be a time zone name of the zone database, such as Europe/Paris or UTC, not %s" % (
        name, _shown(value))


_ZONES = []


def timezone_names():
    """The keys of the time zone database, sorted (empty when this host has none)."""
    return sorted(_timezones())


def _timezones():
    if not _ZONES:
        import zoneinfo

        _ZONES.append(frozenset(zoneinfo.available_timezones()))
    return _ZONES[0]


def to_dss_json(param: Param) -> dict:
    """The declaration of ``param`` as it stands in runnable.json / step.json."""
    out = {"name": param.name, "label": param.label, "type": param.type}
    description = param.description
    if param.setting:  # no defaultValue (it would always win over the setting), never mandatory
        description = (description + " " if description else "") + "Empty: the plugin setting %s%s." % (
            param.setting, "" if param.default in (None, "") else ", else %s" % _num_or_text(param.default))
    if description:
        out["description"] = description
    if param.visible_if:
        out["visibilityCondition"] = param.visible_if
    if not param.is_value:
        return out
    if param.default is not None and not param.setting:
        out["defaultValue"] = list(param.default) if isinstance(param.default, tuple) else param.default
    if param.mandatory and not param.setting:
        out["mandatory"] = True
    if param.type == "INT":
        if param.min is not None:
            out["minI"] = int(param.min)
        if param.max is not None:
            out["maxI"] = int(param.max)
    if param.type == "DOUBLE":
        if param.min is not None:
            out["minD"] = param.min
        if param.max is not None:
            out["maxD"] = param.max
    if param.choices:
        out["selectChoices"] = [{"value": v, "label": l} for v, l in param.choices]
    if param.choices_from:
        out["getChoicesFromPython"] = True
    return out


def _num_or_text(value):
    return _num(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def parse_setting(param: Param, value, source: str):
    """One setting outside any operation's form (an environment variable, a flag): its typed
    value (None or empty: the default), or a ParameterError that names ``source``."""
    try:
        return parse_params("node-ops", (param,), {param.name: value})[param.name]
    except ParameterError as e:
        raise ParameterError(e.operation, [p.replace("'%s'" % param.name, "'%s'" % source) for p in e.problems])
