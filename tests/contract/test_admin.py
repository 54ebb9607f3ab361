"""Instance administration: general settings, users, activity, groups, auth info, instance info, licensing.

Reference: dss-rest-api-and-datadir.md section B, "General settings", "Users" and
"Instance, licensing and diagnostics". Saving settings runs on its own instance.
"""

import datetime as dt
import json

import pytest
from dataikuapi.dss.admin import DSSGeneralSettings, DSSUser, DSSUserActivity
from dataikuapi.dssclient import DSSClient, DSSInstanceInfo
from dataikuapi.utils import DataikuException

USER_ITEM = {"login": str, "displayName": str, "email": str, "groups": list, "userProfile": str,
             "sourceType": str, "enabled": bool}
ACTIVITY = {"login": str, "lastSuccessfulLogin": int, "lastFailedLogin": int, "lastSessionActivity": int}


def users_file(sim):
    return json.loads((sim.state.dip_home / "config" / "users.json").read_text())


# ---- general settings ---------------------------------------------------------
def test_general_settings_are_the_json_file(admin_client, sim, shape):
    settings = admin_client.get_general_settings()
    assert isinstance(settings, DSSGeneralSettings)
    raw = settings.get_raw()
    assert raw == json.loads((sim.state.dip_home / "config" / "general-settings.json").read_text())
    assert settings.settings is raw
    shape(raw, {"maxRunningActivities": int, "maxRunningActivitiesPerJob": int, "jekSettings": dict,
                "limits": dict, "cgroupSettings": dict}, "general settings")
    assert isinstance(raw["jekSettings"]["maxRunningJobs"], int)


def test_save_general_settings_writes_the_json_file(fresh_sim, connect):
    sim = fresh_sim()
    settings = connect(sim).get_general_settings()
    settings.get_raw()["maxRunningActivities"] = 7
    settings.settings["jekSettings"]["maxRunningJobs"] = 3
    settings.save()  # PUT /admin/general-settings with the whole dict
    on_disk = json.loads((sim.state.dip_home / "config" / "general-settings.json").read_text())
    assert on_disk == settings.get_raw()
    assert (on_disk["maxRunningActivities"], on_disk["jekSettings"]["maxRunningJobs"]) == (7, 3)
    assert connect(sim).get_general_settings().get_raw() == on_disk
    assert [(h.method, h.status) for h in sim.hits if h.path.endswith("/admin/general-settings")][-2:] == [
        ("PUT", 200), ("GET", 200)]


def test_general_settings_are_admin_only(user_client, sim):
    with pytest.raises(DataikuException):
        user_client.get_general_settings()
    assert sim.hits[-1].status == 403


# ---- users and activity ---------------------------------------------------------
def test_list_users(admin_client, sim, shape):
    users = admin_client.list_users()
    for u in users:
        shape(u, USER_ITEM, "list_users item")
    assert [u["login"] for u in users] == [u["login"] for u in users_file(sim)["users"]]
    alice = next(u for u in users if u["login"] == "alice")
    assert (alice["displayName"], alice["groups"], alice["enabled"]) == ("Alice Martin", ["data_team"], True)
    assert next(u for u in users if u["login"] == "dave")["enabled"] is False
    objects = admin_client.list_users(as_objects=True)
    assert all(isinstance(o, DSSUser) for o in objects)
    assert [o.login for o in objects] == [u["login"] for u in users]


def test_list_users_activity(admin_client, sim, shape):
    activity = admin_client.list_users_activity()
    assert all(isinstance(a, DSSUserActivity) for a in activity)
    by_login = {}
    for a in activity:
        raw = a.get_raw()
        shape(raw, ACTIVITY, "user activity")
        assert a.login == raw["login"]
        by_login[raw["login"]] = a
    assert set(by_login) == {u["login"] for u in users_file(sim)["users"]}
    model = sim.state.model["activity"]
    for login, a in by_login.items():
        assert a.get_raw()["lastSessionActivity"] == model.get(login, {}).get("lastSessionActivity", 0)
    # Milliseconds: the admin was active 2 minutes before the instance's "now".
    admin_last = by_login["admin"].last_session_activity
    assert isinstance(admin_last, dt.datetime)
    assert abs(admin_last.timestamp() * 1000 - (sim.state.model["now_ms"] - 2 * 60000)) < 1000
    assert by_login["carol"].last_session_activity is None  # 0 means never
    enabled = {a.login for a in admin_client.list_users_activity(enabled_users_only=True)}
    assert "dave" not in enabled and "alice" in enabled
    assert [h for h in sim.hits if h.path.endswith("/admin/users-activity")][-1].query == "enabledUsersOnly=True"


def test_user_activity_of_one_user(admin_client, sim, shape):
    activity = admin_client.get_user("alice").get_activity()
    assert isinstance(activity, DSSUserActivity)
    shape(activity.get_raw(), ACTIVITY, "user activity")
    assert activity.get_raw()["login"] == "alice"
    assert activity.get_raw()["lastSessionActivity"] == sim.state.model["activity"]["alice"]["lastSessionActivity"]
    with pytest.raises(DataikuException, match="UnknownObjectException"):
        admin_client.get_user("nobody").get_activity()


def test_users_and_activity_are_admin_only(user_client, sim):
    with pytest.raises(DataikuException):
        user_client.list_users()
    assert sim.hits[-1].status == 403
    with pytest.raises(DataikuException):
        user_client.list_users_activity()
    assert sim.hits[-1].status == 403
    with pytest.raises(DataikuException):
        user_client.get_user("alice").get_activity()
    assert sim.hits[-1].status == 403


def test_list_users_info_needs_no_admin(user_client, sim, requires):
    requires(DSSClient, "list_users_info")
    infos = user_client.list_users_info()  # GET /users
    assert {i.login for i in infos} == {u["login"] for u in users_file(sim)["users"]}
    alice = next(i for i in infos if i.login == "alice")
    assert (alice.display_name, alice.email, alice.groups, alice.enabled) == (
        "Alice Martin", "alice@example.com", ["data_team"], True)


# ---- auth info and groups ----------------------------------------------------------
def test_auth_info_for_admin_and_user(admin_client, user_client, shape):
    for client, login, group in ((admin_client, "admin", "administrators"), (user_client, "alice", "data_team")):
        info = client.get_auth_info()
        shape(info, {"authIdentifier": str, "groups": list}, "auth info")
        assert info["authIdentifier"] == login and group in info["groups"]


def test_group_definition(admin_client, shape):
    admins = admin_client.get_group("administrators").get_definition()
    shape(admins, {"name": str, "admin": bool, "sourceType": str}, "group")
    assert admins["name"] == "administrators" and admins["admin"] is True
    assert admin_client.get_group("data_team").get_definition()["admin"] is False
    assert {g["name"] for g in admin_client.list_groups()} >= {"administrators", "data_team"}
    with pytest.raises(DataikuException, match="UnknownObjectException"):
        admin_client.get_group("no_such_group").get_definition()


def test_groups_are_admin_only(user_client, sim):
    with pytest.raises(DataikuException):
        user_client.get_group("data_team").get_definition()
    assert sim.hits[-1].status == 403


# ---- instance info and licensing -----------------------------------------------------
def test_instance_info(admin_client, user_client, sim, shape):
    info = admin_client.get_instance_info()
    assert isinstance(info, DSSInstanceInfo)
    shape(info.raw, {"nodeId": str, "nodeName": str, "nodeType": str, "dataDirPath": str,
                     "dssStartupTimestamp": int, "installId": str, "dipInstanceId": str}, "instance info")
    assert info.node_type in ("DESIGN", "AUTOMATION", "DEPLOYER")
    assert (info.node_id, info.node_name) == (info.raw["nodeId"], info.raw["nodeName"])
    assert info.raw["dataDirPath"] == str(sim.state.dip_home)
    assert info.raw["dssStartupTimestamp"] <= sim.state.model["now_ms"]
    assert user_client.get_instance_info().raw == info.raw  # not an admin endpoint


def test_licensing_status(admin_client, user_client, shape):
    status = admin_client.get_licensing_status()
    shape(status, {"base": dict}, "licensing status")
    base = status["base"]
    shape(base, {"hasLicense": bool, "valid": bool, "expired": bool, "sublicense": dict}, "licensing base")
    assert isinstance(base["sublicense"]["profileLimits"], dict)
    assert base["hasLicense"] and base["valid"] and not base["expired"]
    with pytest.raises(DataikuException):
        user_client.get_licensing_status()
