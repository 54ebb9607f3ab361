# config-audit macro: all logic is in python-lib/nodeops (operation "config-audit").
from nodeops import dss


class MyRunnable(dss.MacroRunnable):
    macro_id = "config-audit"
