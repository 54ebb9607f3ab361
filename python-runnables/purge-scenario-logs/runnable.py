# purge-scenario-logs macro: all logic is in python-lib/nodeops (operation "purge-scenario-logs").
from nodeops import dss


class MyRunnable(dss.MacroRunnable):
    macro_id = "purge-scenario-logs"
