import pytest

from nodeops.errors import ParameterError
from nodeops.params import Param, parse_params, to_dss_json

PARAMS = (
    Param("retention_days", "INT", "Retention", default=30, min=0),
    Param("ratio", "DOUBLE", "Ratio", default=0.5, min=0, max=1),
    Param("dry_run", "BOOLEAN", "Dry run", default=True),
    Param("mode", "SELECT", "Mode", default="ALL", choices=(("ALL", "All"), ("CURRENT", "Current"))),
    Param("projects", "STRINGS", "Projects", default=()),
    Param("target", "STRING", "Target", mandatory=True),
)


def test_defaults_fill_missing_values():
    v = parse_params("op", PARAMS, {"target": "/x"})
    assert (v.retention_days, v.ratio, v.dry_run, v.mode, v.projects) == (30, 0.5, True, "ALL", ())


def test_values_are_coerced_from_dss_and_command_line_forms():
    v = parse_params("op", PARAMS, {"retention_days": 7.0, "ratio": "0.25", "dry_run": "false", "mode": "CURRENT",
                                    "projects": "A, B,,C", "target": " /x "})
    assert v.retention_days == 7 and isinstance(v.retention_days, int)
    assert v.ratio == 0.25 and v.dry_run is False and v.mode == "CURRENT"
    assert v.projects == ("A", "B", "C") and v.target == "/x"
    assert parse_params("op", PARAMS, {"projects": ["A", "B"], "target": "t"}).projects == ("A", "B")


def test_every_problem_is_reported_at_once_naming_parameter_and_allowed_values():
    with pytest.raises(ParameterError) as e:
        parse_params("purge", PARAMS, {"retention_days": -1, "ratio": 2, "dry_run": "maybe", "mode": "SOME",
                                       "projects": 3})
    msg = str(e.value)
    for fragment in ("'retention_days' must be an integer >= 0, got -1", "'ratio' must be a number from 0 to 1",
                     "'dry_run' must be true or false", "'mode' must be one of ALL, CURRENT",
                     "'projects' must be a list of strings", "'target' is mandatory"):
        assert fragment in msg
    assert len(e.value.problems) == 6


def test_booleans_and_ints_are_not_confused():
    with pytest.raises(ParameterError):
        parse_params("op", PARAMS, {"retention_days": True, "target": "t"})
    with pytest.raises(ParameterError):
        parse_params("op", PARAMS, {"retention_days": 1.5, "target": "t"})


def test_values_are_read_only():
    v = parse_params("op", PARAMS, {"target": "t"})
    with pytest.raises(AttributeError):
        v.retention_days = 3


def test_dss_declaration():
    assert to_dss_json(PARAMS[0]) == {"name": "retention_days", "label": "Retention", "type": "INT",
                                      "defaultValue": 30, "minI": 0}
    assert to_dss_json(PARAMS[3])["selectChoices"] == [{"value": "ALL", "label": "All"},
                                                       {"value": "CURRENT", "label": "Current"}]
