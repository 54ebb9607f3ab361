"""Stand-in for ``dataiku.runnables``: the macro base class and ResultTable."""

import json


class Runnable(object):
    """Base class of macros. DSS instantiates the single subclass found in runnable.py (see run_runnable.py)."""

    def __init__(self, project_key, config, plugin_config):
        self.project_key = project_key
        self.config = config
        self.plugin_config = plugin_config

    def get_progress_target(self):
        return None

    def run(self, progress_callback):
        raise NotImplementedError


class ResultTable(object):
    """A table result (resultType RESULT_TABLE); columns are {name, displayName, type}."""

    def __init__(self):
        self.records = []
        self.columns = []
        self.header = None
        self.name = None

    def add_column(self, name, display_name, type="STRING"):
        self.columns.append({"name": name, "displayName": display_name, "type": type})

    def add_record(self, record):
        if len(record) != len(self.columns):
            raise ValueError("record has %d values for %d columns" % (len(record), len(self.columns)))
        self.records.append(record)

    def set_header(self, header):
        self.header = header

    def set_name(self, name):
        self.name = name

    def to_json(self):
        return json.dumps({"records": self.records, "columns": self.columns, "header": self.header,
                           "name": self.name})
