"""The writer of the administration project: every API call setup-admin-project makes
on its project (the capability, built on the API layer in :mod:`nodeops.dssapi`)."""

import requests

from . import dssapi
from .dssapi import DataikuException
from .errors import Unavailable


class AdminSetup:
    """Every API call the setup-admin-project macro makes, on one project."""

    def __init__(self, client, project_key, state_variable):
        self.client, self.key, self.state_variable = client, project_key, state_variable
        self.project = client.get_project(project_key)

    def exists(self):
        return self.key in dssapi.project_keys(self.client)

    def admin_groups(self):
        return dssapi.admin_groups(self.client)

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

    def permissions(self):
        return dssapi.call("reading the settings of %s" % self.key,
                     lambda: self.project.get_settings().get_raw().get("permissions") or [])

    def set_permissions(self, permissions):
        settings = dssapi.call("reading the settings of %s" % self.key, self.project.get_settings)
        settings.get_raw()["permissions"] = permissions
        dssapi.call("saving the permissions of %s" % self.key, settings.save)

    def scenario_ids(self):
        return [s["id"] for s in dssapi.call("listing the scenarios of %s" % self.key, self.project.list_scenarios)]

    def scenario(self, scenario_id):
        return dssapi.call("reading scenario %s.%s" % (self.key, scenario_id),
                     lambda: self.project.get_scenario(scenario_id).get_settings().get_raw())

    def _write_scenario(self, scenario_id, part, active=None):
        settings = dssapi.call("reading scenario %s.%s" % (self.key, scenario_id),
                         self.project.get_scenario(scenario_id).get_settings)
        raw = settings.get_raw()
        raw["name"] = part["name"]
        raw["triggers"] = part["triggers"]
        raw["reporters"] = part["reporters"]
        raw.setdefault("params", {})["steps"] = part["steps"]
        if active is not None:
            raw["active"] = active
        dssapi.call("saving scenario %s.%s" % (self.key, scenario_id), settings.save)

    def create_scenario(self, stable_id, name, part, active):
        """Create a step-based scenario (asking for ``stable_id``); the id DSS gave it."""
        scenario = dssapi.call("creating scenario %s in %s" % (name, self.key), self.project.create_scenario, name,
                         "step_based", definition={"id": stable_id, "params": {"steps": []}})
        self._write_scenario(scenario.id, part, active)
        return scenario.id

    def update_scenario(self, scenario_id, part):
        self._write_scenario(scenario_id, part)

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
        return dssapi.call("creating insight %s in %s" % (prototype.get("name"), self.key), self.project.create_insight,
                     prototype).insight_id
