"""The writer of the administration project: every API call setup-admin-project makes
on its project (the capability, built on the API layer in :mod:`nodeops.dssapi`).

Each write of a scenario is followed by a read: DSS normalises what it stores (it adds
fields, ids, drops what it does not know), so what node-ops remembers is what DSS
gave back, never what it sent."""

import requests

from . import dssapi
from .dssapi import DataikuException
from .errors import Unavailable


class AdminSetup:
    """Every API call the setup-admin-project macro makes, on one project.

    ``save_insight`` is ``dataiku.insights.save_data`` inside DSS (the only way to save a
    static insight under a given id), None on the command line."""

    def __init__(self, client, project_key, state_variable, save_insight=None):
        self.client, self.key, self.state_variable = client, project_key, state_variable
        self.project = client.get_project(project_key)
        self.save_insight = save_insight

    def exists(self):
        return self.key in dssapi.project_keys(self.client)

    def admin_groups(self):
        return dssapi.admin_groups(self.client)

    def messaging_channels(self):
        """The instance's messaging channels, or None when DSS cannot list them."""
        return dssapi.messaging_channels(self.client)

    def create_project(self, name, owner, description):
        dssapi.call("creating project %s" % self.key, self.client.create_project, self.key, name, owner,
                    description=description)

    def _variables(self):
        return dssapi.call("reading the variables of %s" % self.key, self.project.get_variables)

    def state(self):
        return (self._variables().get("standard") or {}).get(self.state_variable) or {}

    def save_state(self, state):
        variables = self._variables()
        variables.setdefault("standard", {})[self.state_variable] = state
        dssapi.call("saving the variables of %s" % self.key, self.project.set_variables, variables)

    # ---- permissions (the permissions API: the project's settings do not carry them) ----------
    def permissions(self):
        return dssapi.permissions(self.client, self.key).get("permissions") or []

    def set_permissions(self, entries):
        """Replace the permission entries, keeping the owner and whatever else DSS returns."""
        value = dict(dssapi.permissions(self.client, self.key))
        value["permissions"] = entries
        dssapi.set_permissions(self.client, self.key, value)

    # ---- scenarios ------------------------------------------------------------------------
    def scenario_ids(self):
        return [s["id"] for s in dssapi.call("listing the scenarios of %s" % self.key, self.project.list_scenarios)]

    def scenario(self, scenario_id):
        return dssapi.call("reading scenario %s.%s" % (self.key, scenario_id),
                           lambda: self.project.get_scenario(scenario_id).get_settings().get_raw())

    def _save(self, scenario_id, change):
        """Read the settings, ``change(raw)``, save; the settings as DSS stored them."""
        settings = dssapi.call("reading scenario %s.%s" % (self.key, scenario_id),
                               self.project.get_scenario(scenario_id).get_settings)
        change(settings.get_raw())
        dssapi.call("saving scenario %s.%s" % (self.key, scenario_id), settings.save)
        return self.scenario(scenario_id)

    def write_scenario(self, scenario_id, part, active=None):
        """Write node-ops's part (name, triggers, reporters, steps); ``active`` True/False sets it,
        None leaves it. Returns the settings as DSS stored them."""
        def change(raw):
            raw["name"] = part["name"]
            raw["triggers"] = part["triggers"]
            raw["reporters"] = part["reporters"]
            raw.setdefault("params", {})["steps"] = part["steps"]
            if active is not None:
                raw["active"] = active
        return self._save(scenario_id, change)

    def activate_scenario(self, scenario_id):
        return self._save(scenario_id, lambda raw: raw.__setitem__("active", True))

    def create_scenario(self, stable_id, name, part, active):
        """Create a step-based scenario (asking for ``stable_id``); (the id DSS gave it, its settings)."""
        scenario = dssapi.call("creating scenario %s in %s" % (name, self.key), self.project.create_scenario, name,
                               "step_based", definition={"id": stable_id, "params": {"steps": []}})
        return scenario.id, self.write_scenario(scenario.id, part, active)

    # ---- dashboard and insights --------------------------------------------------------------
    def dashboard(self, dashboard_id):
        """The dashboard's settings, or None when it no longer exists."""
        try:
            return self.project.get_dashboard(dashboard_id).get_settings().get_raw()
        except requests.exceptions.RequestException as e:
            raise Unavailable(dssapi.unreachable("reading dashboard %s" % dashboard_id, e)) from e
        except DataikuException:
            return None

    def create_dashboard(self, name, pages):
        return dssapi.call("creating dashboard %s in %s" % (name, self.key), self.project.create_dashboard, name,
                           {"pages": pages}).dashboard_id

    def create_insight(self, prototype):
        return dssapi.call("creating insight %s in %s" % (prototype.get("name"), self.key),
                           self.project.create_insight, prototype).insight_id

    def insight_ids(self):
        return dssapi.insight_ids(self.client, self.key)

    def save_static_insight(self, insight_id, html, label):
        """Save an HTML static insight under ``insight_id`` (as the steps do), through ``save_insight``."""
        try:
            self.save_insight(insight_id, html, "text/html", label=label, project_key=self.key)
        except Exception as e:  # dataiku raises plain exceptions on a refused backend call
            raise Unavailable("DSS refused saving the static insight %s in %s: %s" % (insight_id, self.key, e)) from e
