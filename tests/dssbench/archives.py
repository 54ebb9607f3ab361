"""Crafted backup archives for the restore and verify tests: any member sequence (files,
folders, symbolic links, hard links, FIFOs, devices), with a node-ops manifest that
matches the regular files (so that only the path checks can refuse them), a
previous-format manifest, or any manifest bytes."""

import hashlib
import io
import json
import tarfile

IDENTITY = "node-ops-archive.json"


def member(kind, name, arg=b"", mode=None):
    """kind: file (arg: bytes), dir, sym (arg: target), link (arg: target member), fifo, chr."""
    return (kind, name, arg, mode)


def _info(kind, name, arg, mode):
    info = tarfile.TarInfo(name)
    info.mtime = 1700000000
    info.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE, "link": tarfile.LNKTYPE,
                 "fifo": tarfile.FIFOTYPE, "chr": tarfile.CHRTYPE}[kind]
    info.mode = mode if mode is not None else (0o755 if kind == "dir" else 0o644)
    if kind in ("sym", "link"):
        info.linkname = arg
    if kind == "chr":
        info.devmajor, info.devminor = 1, 3
    return info


def craft(path, members, manifest="v2", identity=None):
    """Write a gzip archive of ``members`` to ``path``. ``manifest``: "v2" (identity first, a
    matching line manifest last), "legacy" (a matching {"files": [...]} manifest), None, or
    bytes (the content of node-ops-manifest.jsonl). ``identity``: whether the identity member
    comes first (by default with a "v2" manifest)."""
    entries = []
    with tarfile.open(str(path), "w:gz", format=tarfile.PAX_FORMAT) as tf:
        if manifest == "v2" if identity is None else identity:
            _add_bytes(tf, IDENTITY, json.dumps({"format": "node-ops-backup", "version": 2}).encode())
        for kind, name, arg, mode in members:
            info = _info(kind, name, arg, mode)
            if kind == "file":
                info.size = len(arg)
                tf.addfile(info, io.BytesIO(arg))
                entries.append({"path": name, "size": len(arg), "sha256": hashlib.sha256(arg).hexdigest()})
            else:
                tf.addfile(info)
        if manifest == "v2":
            lines = [{"format": "node-ops-manifest", "version": 2}] + entries
            _add_bytes(tf, "node-ops-manifest.jsonl", b"".join(json.dumps(x).encode() + b"\n" for x in lines))
        elif manifest == "legacy":
            _add_bytes(tf, "node-ops-manifest.json", json.dumps({"files": entries}).encode())
        elif isinstance(manifest, bytes):
            _add_bytes(tf, "node-ops-manifest.jsonl", manifest)
    return path


def _add_bytes(tf, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tf.addfile(info, io.BytesIO(data))
