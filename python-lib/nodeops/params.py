"""Parameters, defined once per operation.

Each operation declares a tuple of :class:`Param`. The same declaration
validates the config DSS hands to a macro or a step, parses command-line values,
and is checked against ``runnable.json`` / ``step.json`` by the test suite, so a
parameter's name, type, default and bounds live in exactly one place.
"""

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, Tuple

from .errors import ParameterError

# Parameter types this module knows how to validate (a subset of DSS's types).
SUPPORTED_TYPES = ("INT", "DOUBLE", "BOOLEAN", "STRING", "STRINGS", "SELECT", "MULTISELECT")

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
    mandatory: bool = False
    #: Declared in step.json only (e.g. fail_on_error), not in runnable.json.
    step_only: bool = False

    def __post_init__(self):
        if self.type not in SUPPORTED_TYPES:
            raise ValueError("parameter %s: unsupported type %s" % (self.name, self.type))

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
        if self.type in ("SELECT", "MULTISELECT"):
            return "one of %s" % ", ".join(v for v, _ in self.choices)
        if self.type == "STRINGS":
            return "a list of strings (or a comma-separated string)"
        return "a string"


def _num(x):
    return int(x) if float(x).is_integer() else x


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


def _coerce(param, raw):
    t = param.type
    if t == "INT":
        if isinstance(raw, bool):
            raise _Invalid
        if isinstance(raw, int):
            value = raw
        elif isinstance(raw, float) and raw.is_integer():
            value = int(raw)  # DSS may deliver INT params as floats
        elif isinstance(raw, str) and raw.strip().lstrip("+-").isdigit():
            value = int(raw.strip())
        else:
            raise _Invalid
    elif t == "DOUBLE":
        if isinstance(raw, bool):
            raise _Invalid
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise _Invalid from None
        if math.isnan(value) or math.isinf(value):
            raise _Invalid
    elif t == "BOOLEAN":
        if isinstance(raw, bool):
            value = raw
        elif isinstance(raw, str) and raw.strip().lower() in _TRUE + _FALSE:
            value = raw.strip().lower() in _TRUE
        else:
            raise _Invalid
    elif t in ("STRING", "SELECT"):
        if not isinstance(raw, str):
            raise _Invalid
        value = raw.strip()
        if t == "SELECT" and value not in [v for v, _ in param.choices]:
            raise _Invalid
    else:  # STRINGS, MULTISELECT: lists
        if isinstance(raw, str):
            items = [x.strip() for x in raw.split(",")]
        elif isinstance(raw, (list, tuple)):
            if not all(isinstance(x, str) for x in raw):
                raise _Invalid
            items = [x.strip() for x in raw]
        else:
            raise _Invalid
        value = tuple(x for x in items if x)
        if t == "MULTISELECT":
            allowed = [v for v, _ in param.choices]
            if any(x not in allowed for x in value):
                raise _Invalid
    if t in ("INT", "DOUBLE"):
        if (param.min is not None and value < param.min) or (param.max is not None and value > param.max):
            raise _Invalid
    return value


def _is_missing(raw):
    return raw is None or (isinstance(raw, str) and raw.strip() == "")


def parse_params(operation: str, params: Iterable[Param], config: Optional[Mapping]) -> ParamValues:
    """Validate ``config`` (as DSS or the command line gives it) into typed values.

    Missing values take their default. Every problem is collected and reported
    at once, naming the parameter and what is allowed; nothing has happened yet
    when this raises.
    """
    config = dict(config or {})
    problems = []
    values = {}
    for p in params:
        raw = config.get(p.name)
        if _is_missing(raw):
            if p.mandatory:
                problems.append("'%s' is mandatory (%s)" % (p.name, p.describe_allowed()))
                continue
            values[p.name] = p.default if not isinstance(p.default, list) else tuple(p.default)
            continue
        try:
            values[p.name] = _coerce(p, raw)
        except _Invalid:
            problems.append("'%s' must be %s, got %r" % (p.name, p.describe_allowed(), raw))
    # Keys that are not declared are ignored: DSS keeps the values of parameters
    # a newer plugin version removed in saved scenario steps, and adds its own
    # (e.g. _projectFolderId).
    if problems:
        raise ParameterError(operation, problems)
    return ParamValues(values)


def to_dss_json(param: Param) -> dict:
    """The declaration of ``param`` as it stands in runnable.json / step.json."""
    out = {"name": param.name, "label": param.label, "type": param.type}
    if param.description:
        out["description"] = param.description
    if param.default is not None:
        out["defaultValue"] = list(param.default) if isinstance(param.default, tuple) else param.default
    if param.mandatory:
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
    return out
