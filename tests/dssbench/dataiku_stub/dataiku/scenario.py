"""Stand-in for ``dataiku.scenario``: the parts a custom step uses."""

from . import _record


class Scenario(object):
    def set_scenario_variables(self, **kwargs):
        _record.append("scenario-variables", kwargs)

    def add_report_item(self, object_ref, partition, report_item):
        _record.append("report-items", {"objectRef": object_ref, "partition": partition, "item": report_item})
