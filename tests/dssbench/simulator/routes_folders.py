"""Managed folders of the ``filesystem_folders`` connection: configuration in
config/projects/<KEY>/managed_folders/<id>.json, files under
<DIP_HOME>/managed_folders/<KEY>/<id>/ (the connection's root and the client's
default path ``/${projectKey}/${odbId}``). Response shapes follow the
dataikuapi 15.2 docstrings (list_contents items: path, size, lastModified;
put_file: the same for the file written); see guesses.MANAGED_FOLDER_*.
"""

import json
import os
import random
import string

from . import guesses
from .routing import HTTPError, Raw, route
from .state import NotFound


def _configs_dir(call, key):
    return call.state.projects_dir() / key / "managed_folders"


def _configs(call, key):
    d = _configs_dir(call, key)
    out = []
    if d.is_dir():
        for p in sorted(d.glob("*.json")):
            with open(p, encoding="utf-8") as f:
                out.append(json.load(f))
    return out


def _config(call, key, folder_id):
    for c in _configs(call, key):
        if c.get("id") == folder_id:
            return c
    raise NotFound("Managed folder %s.%s does not exist" % (key, folder_id))


def _root(call, key, folder_id):
    c = _config(call, key, folder_id)
    rel = c.get("params", {}).get("path", "${projectKey}/${odbId}")
    rel = rel.replace("${projectKey}", key).replace("${odbId}", folder_id).lstrip("/")
    return call.state.dip_home / "managed_folders" / rel


def _file(call, key, folder_id, path):
    parts = [p for p in path.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise HTTPError(400, "Invalid path in managed folder: %r" % path)
    return _root(call, key, folder_id).joinpath(*parts)


def _item(root, f):
    st = f.stat()
    return {"path": "/" + f.relative_to(root).as_posix(), "size": st.st_size, "lastModified": int(st.st_mtime * 1000)}


@route("GET", "/projects/<key>/managedfolders/")
def list_managed_folders(call, key):
    call.require_project(key)
    return _configs(call, key)


@route("POST", "/projects/<key>/managedfolders/")
def create_managed_folder(call, key):
    call.require_project(key)
    body = call.json or {}
    if not body.get("name"):
        raise HTTPError(400, "A managed folder needs a name")
    if any(c.get("name") == body["name"] for c in _configs(call, key)):
        raise HTTPError(409, "Managed folder %s already exists in %s" % (body["name"], key))
    folder_id = "".join(random.choice(string.ascii_letters + string.digits) for _ in range(8))
    config = {"id": folder_id, "projectKey": key, "name": body["name"],
              "type": body.get("type") or guesses.MANAGED_FOLDER_DEFAULT_TYPE,
              "params": body.get("params") or {"connection": "filesystem_folders", "path": "${projectKey}/${odbId}"}}
    call.state.write_json(_configs_dir(call, key) / ("%s.json" % folder_id), config)
    call.state.makedirs(_root(call, key, folder_id))
    return {"id": folder_id, "projectKey": key, "name": body["name"]}


@route("GET", "/projects/<key>/managedfolders/<folder_id>/contents")
def list_contents(call, key, folder_id):
    call.require_project(key)
    root = _root(call, key, folder_id)
    items = []
    if root.is_dir():
        for dirpath, _, files in os.walk(root):
            for name in sorted(files):
                items.append(_item(root, root.joinpath(os.path.relpath(os.path.join(dirpath, name), root))))
    return {"items": items}


@route("GET", "/projects/<key>/managedfolders/<folder_id>/contents/<filepath:path>")
def get_file(call, key, folder_id, path):
    call.require_project(key)
    f = _file(call, key, folder_id, path)
    if not f.is_file():
        raise NotFound("File %s does not exist in managed folder %s.%s" % (path, key, folder_id))
    return Raw(f.read_bytes(), "application/octet-stream")


@route("POST", "/projects/<key>/managedfolders/<folder_id>/contents/<filepath:path>")
def put_file(call, key, folder_id, path):
    call.require_project(key)
    upload = call.request.files.get("file")
    if upload is None:
        raise HTTPError(400, "No file in the upload (multipart field 'file')")
    f = _file(call, key, folder_id, path)
    call.state.write_bytes(f, upload.read())
    return _item(_root(call, key, folder_id), f)


@route("DELETE", "/projects/<key>/managedfolders/<folder_id>/contents/<filepath:path>")
def delete_file(call, key, folder_id, path):
    call.require_project(key)
    f = _file(call, key, folder_id, path)
    if f.is_file():
        f.unlink()
    return {}
