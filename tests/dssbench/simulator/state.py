"""The simulated DSS's state: configuration read from and written to the
DATA_DIR (as DSS keeps it in config/), runtime state (job history, scenario
runs, notebook sessions, user activity: DSS's runtime databases and memory) in
an in-memory model built by :func:`dssbench.datadir.build_datadir`.

Everything the simulated backend writes into DIP_HOME goes through
:meth:`State.write_bytes`, :meth:`State.write_json`, :meth:`State.append_text`
and :meth:`State.makedirs`. In User Isolation mode (``owner``: the service
account's ``(uid, gid)``) what they create belongs to the service account, as
it does when the real backend, which runs as that account, writes it.
"""

import copy
import json
import os
import secrets
import threading
import time
from pathlib import Path

from . import guesses


class NotFound(Exception):
    pass


def _read_json(path, default=None):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        if default is not None:
            return copy.deepcopy(default)
        raise


class State:
    def __init__(self, dip_home, model, clock=None, owner=None):
        self.dip_home = Path(dip_home)
        #: (uid, gid) of the DSS service account in User Isolation mode, else None (files stay the
        #: test process's own).
        self.owner = owner
        self.model = copy.deepcopy(model)
        self.lock = threading.RLock()
        self.clock = clock or (lambda: int(time.time() * 1000))
        self.tickets = {}  # internal ticket -> login
        self.kernels = {}  # sessionId -> Kernel
        self.macro_runs = {}  # runId -> dict
        self.insight_data = {}  # (projectKey, insightId) -> payload saved by dataiku.insights
        self.step_runs = {}  # (projectKey, scenarioId, runId) -> [step run], for runs the scenario runner made
        self.scenario_variables = {}  # (projectKey, scenarioId, runId) -> {name: value} set by its steps
        self.model.setdefault("jobs", {})
        self.model.setdefault("scenario_runs", {})
        self.model.setdefault("notebooks", {})
        self.model.setdefault("activity", {})
        self.model.setdefault("api_keys", [])

    # ---- files the backend writes into DIP_HOME ------------------------------
    def own(self, path):
        """Give ``path`` (not followed) to the service account, in User Isolation mode."""
        if self.owner is not None:
            os.lchown(str(path), self.owner[0], self.owner[1])

    def makedirs(self, path):
        """``path`` and its missing parents, each new one owned as the backend's."""
        path = Path(path)
        missing = []
        while not path.is_dir():
            missing.append(path)
            path = path.parent
        for d in reversed(missing):
            try:
                d.mkdir()
            except FileExistsError:
                continue
            self.own(d)

    def write_bytes(self, path, data):
        """Replace ``path`` with ``data`` atomically (a temporary file renamed over it)."""
        path = Path(path)
        self.makedirs(path.parent)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        self.own(tmp)
        os.replace(tmp, path)

    def write_json(self, path, data):
        self.write_bytes(path, json.dumps(data, indent=2).encode("utf-8"))

    def append_text(self, path, text):
        path = Path(path)
        self.makedirs(path.parent)
        new = not path.exists()
        with open(path, "a", encoding="utf-8") as f:
            f.write(text)
        if new:
            self.own(path)

    # ---- identity -------------------------------------------------------
    def users_file(self):
        return _read_json(self.dip_home / guesses.USERS_FILE, {"users": [], "groups": []})

    def user(self, login):
        for u in self.users_file()["users"]:
            if u["login"] == login:
                return u
        return None

    def group(self, name):
        for g in self.users_file()["groups"]:
            if g["name"] == name:
                return g
        return None

    def is_admin(self, login):
        u = self.user(login)
        if not u:
            return False
        return any((self.group(g) or {}).get("admin") for g in u.get("groups", []))

    def login_for_key(self, key):
        for k in self.model["api_keys"]:
            if k["key"] == key:
                return k["user"]
        return None

    def issue_ticket(self, login):
        ticket = secrets.token_hex(16)
        self.tickets[ticket] = login
        return ticket

    def add_api_key(self, login):
        key = secrets.token_hex(16)
        self.model["api_keys"].append({"key": key, "user": login})
        return key

    # ---- projects -------------------------------------------------------
    def projects_dir(self):
        return self.dip_home / "config" / "projects"

    def project_keys(self):
        d = self.projects_dir()
        if not d.is_dir():
            return []
        return sorted(p.name for p in d.iterdir() if (p / "params.json").is_file())

    def project(self, key):
        path = self.projects_dir() / key / "params.json"
        if not path.is_file():
            raise NotFound("Project %s does not exist" % key)
        return _read_json(path)

    def save_project(self, key, params):
        self.write_json(self.projects_dir() / key / "params.json", params)

    def can_read_project(self, login, key):
        if self.is_admin(login):
            return True
        p = self.project(key)
        if p.get("owner") == login:
            return True
        groups = set((self.user(login) or {}).get("groups", []))
        for perm in p.get("permissions", []):
            if perm.get("user") == login or perm.get("group") in groups:
                if perm.get("readProjectContent") or perm.get("admin") or perm.get("writeProjectContent"):
                    return True
        return False

    def can_write_project(self, login, key):
        if self.is_admin(login) or self.project(key).get("owner") == login:
            return True
        groups = set((self.user(login) or {}).get("groups", []))
        return any((perm.get("user") == login or perm.get("group") in groups)
                   and (perm.get("admin") or perm.get("writeProjectContent"))
                   for perm in self.project(key).get("permissions", []))

    # ---- scenarios ------------------------------------------------------
    def scenario_path(self, key, scenario_id):
        return self.projects_dir() / key / "scenarios" / ("%s.json" % scenario_id)

    def scenario_ids(self, key):
        d = self.projects_dir() / key / "scenarios"
        if not d.is_dir():
            return []
        return sorted(p.stem for p in d.glob("*.json"))

    def scenario(self, key, scenario_id):
        self.project(key)
        path = self.scenario_path(key, scenario_id)
        if not path.is_file():
            raise NotFound("Scenario %s.%s does not exist" % (key, scenario_id))
        return _read_json(path)

    def save_scenario(self, key, scenario_id, data):
        self.write_json(self.scenario_path(key, scenario_id), data)

    def delete_scenario(self, key, scenario_id):
        self.scenario(key, scenario_id)
        self.scenario_path(key, scenario_id).unlink()

    def runs(self, key, scenario_id):
        return self.model["scenario_runs"].setdefault(key, {}).setdefault(scenario_id, [])

    # ---- plugin settings (what an administrator sets in Plugins > <plugin> > Settings) --------
    def plugin_settings(self, plugin_id):
        """The settings object of an installed plugin (guesses.PLUGIN_SETTINGS_FIELDS)."""
        data = _read_json(self.dip_home / (guesses.PLUGIN_SETTINGS_FILE % plugin_id), {})
        out = {"config": {}, "codeEnvName": None, "presets": [], "parameterSets": [],
               "accessibleParameterSetDescs": []}
        out.update(data)
        return out

    def save_plugin_settings(self, plugin_id, data):
        self.write_json(self.dip_home / (guesses.PLUGIN_SETTINGS_FILE % plugin_id), data)

    def plugin_config(self, plugin_id):
        """What DSS hands a macro of the plugin as plugin_config: the saved values, flat."""
        config = self.plugin_settings(plugin_id).get("config")
        return dict(config) if isinstance(config, dict) else {}

    # ---- general settings -----------------------------------------------
    def general_settings(self):
        return _read_json(self.dip_home / "config" / "general-settings.json")

    def save_general_settings(self, data):
        self.write_json(self.dip_home / "config" / "general-settings.json", data)

    # ---- dashboards and insights (config/projects/<KEY>/{dashboards,insights}/<id>.json)
    def objects_dir(self, key, kind):
        return self.projects_dir() / key / kind

    def list_objects(self, key, kind):
        d = self.objects_dir(key, kind)
        if not d.is_dir():
            return []
        return [_read_json(p) for p in sorted(d.glob("*.json"))]

    def get_object(self, key, kind, obj_id):
        path = self.objects_dir(key, kind) / ("%s.json" % obj_id)
        if not path.is_file():
            raise NotFound("%s %s.%s does not exist" % (kind[:-1], key, obj_id))
        return _read_json(path)

    def save_object(self, key, kind, obj_id, data):
        self.write_json(self.objects_dir(key, kind) / ("%s.json" % obj_id), data)

    def delete_object(self, key, kind, obj_id):
        self.get_object(key, kind, obj_id)
        (self.objects_dir(key, kind) / ("%s.json" % obj_id)).unlink()

    def new_id(self, existing, length=7):
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        while True:
            candidate = "".join(secrets.choice(alphabet) for _ in range(length))
            if candidate not in existing:
                return candidate
