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


# ---- bounds, malformed numbers, huge values: a refusal naming the parameter, never a traceback ------------
from nodeops import operations  # noqa: E402
from nodeops.context import Context  # noqa: E402
from nodeops.params import MAX_DAYS  # noqa: E402

NUMERIC = [(op, p) for op in operations.OPERATIONS.values() for p in op.params if p.type in ("INT", "DOUBLE")]


@pytest.mark.parametrize("op,p", NUMERIC, ids=["%s.%s" % (op.id, p.name) for op, p in NUMERIC])
def test_every_number_has_bounds_and_both_bounds_are_accepted(op, p):
    assert p.min is not None and p.max is not None, "%s.%s needs a lower and an upper bound" % (op.id, p.name)
    for bound in (p.min, p.max):
        assert op.parse(_valid(op, {p.name: bound}))[p.name] == bound
        assert op.parse(_valid(op, {p.name: str(_num(bound))}))[p.name] == bound


def _num(x):
    return int(x) if float(x).is_integer() else x


def _valid(op, config):
    """``config`` plus what an operation needs besides (its mandatory parameters without a default)."""
    base = {p.name: "/tmp/x" for p in op.params if p.required}
    return dict(base, **config)


BAD_NUMBERS = ["--5", "+-5", "-+5", "²", "٣", "1_000", "0x10", " nan", "inf", "-infinity", "1e400", "5 5", "",
               "1.5.", ".", "e5", 10 ** 400, str(10 ** 400), "9" * 5000, 1e400, -1e400, float("nan"), 1e300, -1e300,
               True, [], {}, [5], "5,"]


@pytest.mark.parametrize("op,p", NUMERIC, ids=["%s.%s" % (op.id, p.name) for op, p in NUMERIC])
def test_malformed_or_huge_numbers_are_refused_naming_the_parameter(op, p):
    for raw in BAD_NUMBERS + [p.max + 1, p.min - 1, str(_num(p.max + 1))]:
        if raw == "":
            continue  # empty: the default
        with pytest.raises(ParameterError) as e:
            op.parse(_valid(op, {p.name: raw}))
        assert e.value.problems and e.value.problems[0].startswith("'%s' must be " % p.name), (raw, e.value)
        assert len(str(e.value)) < 400  # a 400-digit value is not echoed whole


def test_the_day_bound_is_one_the_code_can_honour():
    import datetime as dt

    now = dt.datetime.now().astimezone()
    assert (now - dt.timedelta(days=MAX_DAYS)).timestamp() < now.timestamp()
    op = operations.get("purge-job-logs")
    with pytest.raises(ParameterError, match="'retention_days' must be an integer from 0 to 36500"):
        op.parse({"retention_days": 10 ** 9})  # timedelta(days=10**9) would raise OverflowError


def test_strings_with_control_characters_or_lone_surrogates_are_refused():
    for raw in ("/x\x00y", "a\nb", "\ud800", ["ok", "a\x00"]):
        with pytest.raises(ParameterError, match="'target'|'projects'"):
            parse_params("op", PARAMS, {"target": raw} if not isinstance(raw, list) else {"target": "t",
                                                                                          "projects": raw})
    # a non-UTF-8 file name as the command line hands it over (surrogateescape) is a valid path
    assert parse_params("op", PARAMS, {"target": "/tmp/caf\udce9"}).target == "/tmp/caf\udce9"


def test_timezone_is_checked_against_the_zone_database():
    op = operations.get("setup-admin-project")
    for good in ("Europe/Paris", "UTC", "America/Argentina/Buenos_Aires", "SERVER", "Etc/GMT+5", ""):
        assert op.parse({"timezone": good}).timezone == good
    for bad in ("Mars/Olympus", "Europe/Pariss", "Europe", "../../etc/passwd", "/etc/localtime", "europe/paris",
                "Europe/Paris/", "zone.tab"):
        with pytest.raises(ParameterError, match="'timezone' must be a time zone name of the zone database"):
            op.parse({"timezone": bad})


def test_every_bad_parameter_is_named_in_one_message_cross_checks_included(tmp_path):
    cases = {
        "collect-metrics": ({"graphite_host": "not a host", "graphite_port": 70000, "prefix": "a b",
                             "prometheus_file": "rel.prom", "history": "maybe"},
                            ["graphite_host", "graphite_port", "prefix", "prometheus_file", "history"]),
        "purge-job-logs": ({"projects_mode": "INCLUDED", "projects": ["../config"], "retention_days": "--5",
                            "keep_last": 10 ** 400, "dry_run": "perhaps"},
                           ["projects", "retention_days", "keep_last", "dry_run"]),
        "backup": ({"target_dir": "relative", "exclude": "a/b", "keep_daily": "٣", "scope": "ALL"},
                   ["target_dir", "exclude", "keep_daily", "scope"]),
        "setup-admin-project": ({"project_key": "bad key", "alert_email": "nobody", "timezone": "Mars/Olympus",
                                 "backup_dir": "rel", "max_idle_hours": "1e400", "retention_days": 36501},
                                ["project_key", "alert_email", "timezone", "backup_dir", "max_idle_hours",
                                 "retention_days"]),
        "config-audit": ({"admin_project_key": "a b", "backup_dir": "rel", "backup_max_age_hours": 0},
                         ["admin_project_key", "backup_dir", "backup_max_age_hours"]),
    }
    ctx = Context(dip_home=tmp_path, user="admin", is_admin=True)
    for op_id, (config, names) in cases.items():
        with pytest.raises(ParameterError) as e:
            operations.get(op_id).parse(config, ctx)
        named = sorted(n for n in names if any(p.startswith("'%s'" % n) for p in e.value.problems))
        assert named == sorted(names), (op_id, e.value.problems)
        assert len(e.value.problems) == len(names), (op_id, e.value.problems)  # once each
        for n in names:
            assert "'%s'" % n in str(e.value)


def test_a_check_across_parameters_is_not_repeated_for_a_refused_one():
    with pytest.raises(ParameterError) as e:  # refused as a list, and not again as an empty INCLUDED list
        operations.get("purge-job-logs").parse({"projects_mode": "INCLUDED", "projects": 5})
    assert e.value.problems == ["'projects' must be a list of project keys (or a comma-separated string), got 5"]


# ---- the form's declaration: separators, pickers, components ----------------------------------------------
from nodeops.operations import Operation  # noqa: E402
from nodeops.params import separator  # noqa: E402

FORM = (
    separator("Scope", "Which entries."),
    Param("mode", "SELECT", "Mode", default="ALL", choices=(("ALL", "All"), ("SOME", "Some")), mandatory=True),
    Param("projects", "MULTISELECT", "Projects", default=(), choices_from="projects",
          visible_if="model.mode == 'SOME'"),
    Param("zone", "SELECT", "Zone", default="", choices_from="timezones"),
    separator("Run"),
    Param("fail_on_error", "BOOLEAN", "Fail", default=True, step_only=True),
    separator("Macro only"),
    Param("fmt", "SELECT", "Format", default="HTML", choices=(("HTML", "HTML"),), macro_only=True),
)


def test_separators_hold_no_value_and_parsing_ignores_them():
    v = parse_params("op", FORM, {"sep_scope": "anything", "sep_run": 5, "mode": "SOME", "projects": ["A"]})
    assert "sep_scope" not in v and "sep_run" not in v and "sep_macro_only" not in v
    assert set(v) == {"mode", "projects", "zone", "fail_on_error", "fmt"}
    assert to_dss_json(FORM[0]) == {"name": "sep_scope", "label": "Scope", "type": "SEPARATOR",
                                    "description": "Which entries."}
    with pytest.raises(ValueError, match="holds no value"):
        Param("sep_x", "SEPARATOR", "X", default="y")


def test_an_operation_keeps_the_form_and_exposes_only_values():
    op = Operation("form-op", "Form", FORM, lambda ctx, params, progress=None: None, reads_dip_home=False)
    assert [p.name for p in op.params] == ["mode", "projects", "zone", "fail_on_error", "fmt"]
    assert [p.name for p in op.form][:2] == ["sep_scope", "mode"]
    macro = [p.name for p in op.declared_params("macro")]
    step = [p.name for p in op.declared_params("step")]
    assert macro == ["sep_scope", "mode", "projects", "zone", "sep_macro_only", "fmt"]  # Run: empty, dropped
    assert step == ["sep_scope", "mode", "projects", "zone", "sep_run", "fail_on_error"]  # Macro only: dropped
    desc = op.descriptor("macro", {"meta": {}, "paramsPythonSetup": "old.py", "params": []})
    assert desc["paramsPythonSetup"] == "choices.py" and desc["impersonate"] is True
    assert [p["name"] for p in desc["params"]] == macro
    assert "paramsPythonSetup" not in Operation("plain", "P", FORM[:2], None, reads_dip_home=True).descriptor(
        "step", {"paramsPythonSetup": "old.py", "params": []})
    with pytest.raises(ValueError, match="declared twice"):
        Operation("dup", "D", FORM + (separator("Scope"),), None, reads_dip_home=False)


def test_a_setting_fed_field_is_neither_mandatory_nor_prefilled_nor_hides_another():
    host = Param("host", "STRING", "Host", default="", mandatory=True, setting="graphite_host")
    port = Param("port", "INT", "Port", default=2003, setting="graphite_port", visible_if="model.host")
    out = to_dss_json(host)
    assert "mandatory" not in out and "defaultValue" not in out
    assert out["description"] == "Empty: the plugin setting graphite_host."
    with pytest.raises(ValueError, match="plugin setting"):  # empty host means "the setting", not "no Graphite"
        Operation("hides", "H", (separator("Sink"), host, port), None, reads_dip_home=False)
    with pytest.raises(ValueError, match="holds no value"):
        Param("sep_x", "SEPARATOR", "X", setting="backup_dir")


def test_the_command_line_has_no_flag_for_a_separator():
    from nodeops import cli

    text = cli._build_parser()._subparsers._group_actions[0].choices["cull-kernels"].format_help()
    assert "--max-idle-hours" in text and "--exempt-users" in text
    assert "--sep-" not in text and "sep_" not in text


def test_picked_values_are_lists_or_comma_separated_strings():
    v = parse_params("op", FORM, {"projects": ["A", " B "], "zone": "Europe/Paris"})
    assert v.projects == ("A", "B") and v.zone == "Europe/Paris"
    assert parse_params("op", FORM, {"projects": "A,B"}).projects == ("A", "B")  # the command line
    with pytest.raises(ParameterError, match="'projects' must be a list of project keys .or a comma-separated"):
        parse_params("op", FORM, {"projects": {"A": 1}})
    with pytest.raises(ParameterError, match="'zone' must be one of the time zone names of this DSS"):
        parse_params("op", FORM, {"zone": ["Europe/Paris"]})
    with pytest.raises(ValueError, match="choices_from"):
        Param("p", "STRINGS", "P", choices_from="projects")
    with pytest.raises(ValueError, match="choices_from"):
        Param("p", "SELECT", "P", choices_from="planets")


def test_mandatory_with_a_default_falls_back_to_it_without_one_is_refused():
    assert parse_params("op", FORM, {"mode": ""}).mode == "ALL"  # an older saved step, the command line
    assert Param("t", "STRING", "T", mandatory=True).required and not FORM[1].required
    with pytest.raises(ParameterError, match="'target' is mandatory"):
        parse_params("op", PARAMS, {"target": " "})


def test_one_parameter_name_picks_from_one_list_in_every_form():
    from nodeops import choices

    picks = {}
    for op in operations.OPERATIONS.values():
        for p in op.params:
            picks.setdefault(p.name, set()).add(p.choices_from)
    for name, lists in picks.items():
        assert len(lists) == 1, (name, lists)  # a picker in one form, a picker in all
        assert choices.list_of(name) == (lists.pop() or None)
    assert choices.list_of("projects") == "projects" and choices.list_of("exempt_users") == "users"
    assert choices.list_of("alert_channel") == "alert_channels" and choices.list_of("dry_run") is None


def test_the_delegated_audit_step_fails_at_its_own_severity():
    """fail_severity is a step-only field: the macro reports at the default (FAIL); the step that
    handed it the work applies its own threshold on the macro's report."""
    from nodeops.report import Finding, Report

    op = operations.get("config-audit")
    assert "fail_severity" not in [p.name for p in op.declared_params("macro")]

    def macro_report():
        r = Report("config-audit", "Configuration audit", 0)
        r.findings = [Finding("WARN", "Log rotation"), Finding("PASS", "Java heap")]
        return r

    at_warn = op.apply_step_params(macro_report(), op.parse({"fail_severity": "WARN"}))
    assert at_warn.failure == "Configuration audit: 1 check(s) at WARN or above: WARN Log rotation"
    assert op.apply_step_params(macro_report(), op.parse({"fail_severity": "FAIL"})).failure is None
