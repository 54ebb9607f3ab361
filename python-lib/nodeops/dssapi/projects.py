"""Projects: their keys, settings, permissions, scenario settings and insights."""

from .connection import call


def project_keys(client):
    """Keys of every project (the caller is an administrator, so it sees them all)."""
    return set(call("listing projects", client.list_project_keys))


def project_names(client):
    """``{key: name}`` of the projects the client's user can see (every one for an administrator)."""
    return {p["projectKey"]: p.get("name") or p["projectKey"] for p in call("listing projects", client.list_projects)}


def permissions(client, project_key):
    """``{"owner", "permissions": [...]}`` of a project (the permissions API: the project's settings
    do not carry them)."""
    project = client.get_project(project_key)
    return call("reading the permissions of project %s" % project_key, project.get_permissions)


def set_permissions(client, project_key, value):
    """Save ``{"owner", "permissions": [...]}`` as the project's permissions."""
    project = client.get_project(project_key)
    call("saving the permissions of project %s" % project_key, project.set_permissions, value)


def insight_ids(client, project_key):
    """Ids of the insights of a project."""
    project = client.get_project(project_key)
    return {i["id"] for i in call("listing the insights of project %s" % project_key, project.list_insights)}


def project_setup(client, project_key):
    """{"permissions", "owner", "scenarios": [scenario settings]} of a project; None when it does not exist."""
    if project_key not in project_keys(client):
        return None
    project = client.get_project(project_key)
    perms = permissions(client, project_key)
    scenarios = []
    for item in call("listing the scenarios of project %s" % project_key, project.list_scenarios):
        sid = item["id"]
        scenarios.append(call("reading scenario %s.%s" % (project_key, sid),
                               lambda: project.get_scenario(sid).get_settings().get_raw()))
    return {"permissions": perms.get("permissions") or [], "owner": perms.get("owner"), "scenarios": scenarios}
