"""Managed folders (the capacity and metrics histories)."""

import requests

from ..errors import Unavailable
from .connection import DataikuException, call, unreachable


# ---- managed folders (capacity history) -------------------------------------------------
def managed_folder(client, project_key, name, create):
    """The managed folder called ``name`` in a project (created when ``create``), or None."""
    project = client.get_project(project_key)
    folders = call("listing the managed folders of project %s" % project_key, project.list_managed_folders)
    for f in folders:
        if f.get("name") == name:
            return project.get_managed_folder(f["id"])
    if not create:
        return None
    return call("creating managed folder %s in project %s" % (name, project_key), project.create_managed_folder, name)


def read_folder_file(folder, path):
    """Text of a file of a managed folder; None when it does not exist."""
    try:
        with folder.get_file(path) as resp:
            return resp.content.decode("utf-8")
    except requests.exceptions.RequestException as e:
        raise Unavailable(unreachable("reading %s" % path, e)) from e
    except DataikuException as e:
        if "UnknownObject" in str(e) or "404" in str(e) or "does not exist" in str(e).lower():
            return None
        raise Unavailable("the DSS API refused reading %s: %s" % (path, e)) from e


def write_folder_file(folder, path, data):
    import io

    call("writing %s" % path, folder.put_file, path, io.BytesIO(data))


def list_folder_files(folder):
    """Paths (``/name``) of the files of a managed folder."""
    contents = call("listing the files of a managed folder", folder.list_contents)
    return [item["path"] for item in (contents or {}).get("items", []) if isinstance(item.get("path"), str)]


def delete_folder_file(folder, path):
    call("deleting %s" % path, folder.delete_file, path)
