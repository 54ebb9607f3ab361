# Capacity report macro: all logic is in python-lib/nodeops (operation "capacity-report").
from nodeops import dss


class MyRunnable(dss.MacroRunnable):
    macro_id = "capacity-report"
