"""Property-based tests of the parameter parser: any string or JSON value for any
parameter of any operation is either refused with a ParameterError naming the
parameter, or parsed into a valid value of the declared type within its bounds.
Never another exception."""

import math
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nodeops import operations
from nodeops.context import Context
from nodeops.errors import ParameterError

PAIRS = [(op, p) for op in operations.OPERATIONS.values() for p in op.params]

_numbers_as_text = st.one_of(
    st.from_regex(r"\A[ +\-]{0,3}[0-9]{0,6}([.,][0-9]{0,3})?([eE][+\-]?[0-9]{0,4})?[ ]{0,2}\Z"),
    st.text(alphabet=st.characters(categories=("Nd", "No", "Nl")), max_size=6),  # '٣', '²', 'Ⅻ'
    st.sampled_from(["--5", "+-5", "nan", "-inf", "Infinity", "1e400", "1_000", "0x1f", str(10 ** 400), "9" * 5000]),
)
_scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(), st.integers(min_value=-(10 ** 500), max_value=10 ** 500), st.sampled_from([10 ** 400, -(10 ** 400)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(), _numbers_as_text,
)
_json = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=5), inner, max_size=3)),
                     max_leaves=8)


def _value_for(param):
    """Any JSON value, plus values close to what the parameter expects."""
    near = [st.sampled_from([c for c, _ in param.choices] + ["x"])] if param.choices else []
    if param.type in ("INT", "DOUBLE"):
        near.append(st.sampled_from([param.min, param.max, param.min - 1, param.max + 1, param.max + 0.5]))
    return st.one_of(_json, *near)


def _base(op):
    return {p.name: "/srv/backups/x" for p in op.params if p.required}


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    dip_home = tmp_path_factory.mktemp("ph") / "dss_data"
    dip_home.mkdir()
    return Context(dip_home=dip_home, user="admin", is_admin=True, project_key="ADMIN")


def _assert_valid(param, value):
    t = param.type
    if t == "INT":
        assert type(value) is int and param.min <= value <= param.max
    elif t == "DOUBLE":
        assert type(value) is float and math.isfinite(value) and param.min <= value <= param.max
    elif t == "BOOLEAN":
        assert type(value) is bool
    elif t == "STRING" or t == "SELECT" and param.choices_from:  # a list DSS offers: the checks judge the value
        assert type(value) is str and value == value.strip() and not re.search(r"[\x00-\x1f\x7f]", value)
    elif t == "SELECT":
        assert value in [c for c, _ in param.choices]
    elif t == "STRINGS" or t == "MULTISELECT" and param.choices_from:
        assert type(value) is tuple and all(type(x) is str and x and x == x.strip()
                                            and not re.search(r"[\x00-\x1f\x7f]", x) for x in value)
    else:
        raise AssertionError("untested type %s" % t)


SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
                database=None)


@settings(max_examples=1500, **SETTINGS)
@given(data=st.data())
def test_any_value_for_any_parameter_is_refused_by_name_or_valid(ctx, data):
    op, param = data.draw(st.sampled_from(PAIRS), label="parameter")
    raw = data.draw(_value_for(param), label="value")
    try:
        values = op.parse(dict(_base(op), **{param.name: raw}), ctx)
    except ParameterError as e:
        assert e.problems and all("'%s'" % param.name in p for p in e.problems), e.problems
        str(e)  # the message itself never raises (a 5000-digit integer, a lone surrogate)
        return
    _assert_valid(param, values[param.name])


@settings(max_examples=300, **SETTINGS)
@given(data=st.data())
def test_any_configuration_is_refused_naming_each_bad_parameter_or_fully_valid(ctx, data):
    op = data.draw(st.sampled_from(list(operations.OPERATIONS.values())), label="operation")
    names = data.draw(st.lists(st.sampled_from([p.name for p in op.params]), unique=True), label="names")
    config = _base(op)
    for p in op.params:
        if p.name in names:
            config[p.name] = data.draw(_value_for(p), label=p.name)
    try:
        values = op.parse(config, ctx)
    except ParameterError as e:
        declared = [p.name for p in op.params]
        for problem in e.problems:  # each problem names a parameter, each refused parameter once
            assert re.match(r"'(%s)'" % "|".join(declared), problem), problem
        return
    for p in op.params:
        _assert_valid(p, values[p.name])
