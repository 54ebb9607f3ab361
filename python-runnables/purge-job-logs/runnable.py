# purge-job-logs macro: all logic is in python-lib/nodeops (operation "purge-job-logs").
from nodeops import dss


class MyRunnable(dss.MacroRunnable):
    macro_id = "purge-job-logs"
