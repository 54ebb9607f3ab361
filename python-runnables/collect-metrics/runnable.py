# collect-metrics macro: all logic is in python-lib/nodeops (operation "collect-metrics").
from nodeops import dss


class MyRunnable(dss.MacroRunnable):
    macro_id = "collect-metrics"
