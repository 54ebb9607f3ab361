# purge-scenario-logs-table macro: the table face of operation "purge-scenario-logs" (all logic is in python-lib/nodeops).
from nodeops import dss


class MyRunnable(dss.MacroRunnable):
    macro_id = "purge-scenario-logs-table"
