"""Stand-in for ``dataiku.scenario``: the parts a custom step uses."""

import json
import os

from . import _record


class Scenario(object):
    def set_scenario_variables(self, **kwargs):
        _record.append("scenario-variables", kwargs)

    def add_report_item(self, object_ref, partition, report_item):
        _record.append("report-items", {"objectRef": object_ref, "partition": partition, "item": report_item})

    def get_all_variables(self):
        """The variables earlier steps of this scenario run set (DSS also returns the project's and
        the instance's; the bench's scenario runner passes only the run's)."""
        return json.loads(os.environ.get("DSSBENCH_SCENARIO_VARIABLES") or "{}")
