"""Projects: their keys, settings and scenario settings."""

from .connection import call


def project_keys(client):
    """Keys of every project (the caller is an administrator, so it sees them all)."""
    return set(call("listing projects", client.list_project_keys))


def project_setup(client, project_key):
    """{"permissions", "owner", "scenarios": [scenario settings]} of a project; None when it does not exist."""
    if project_key not in project_keys(client):
        return None
    project = client.get_project(project_key)
    raw = call("reading the settings of project %s" % project_key, lambda: project.get_settings().get_raw())
    scenarios = []
    for item in call("listing the scenarios of project %s" % project_key, project.list_scenarios):
        sid = item["id"]
        scenarios.append(call("reading scenario %s.%s" % (project_key, sid),
                               lambda: project.get_scenario(sid).get_settings().get_raw()))
    return {"permissions": raw.get("permissions") or [], "owner": raw.get("owner"), "scenarios": scenarios}
