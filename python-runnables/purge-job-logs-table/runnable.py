# purge-job-logs-table macro: the table face of operation "purge-job-logs" (all logic is in python-lib/nodeops).
from nodeops import dss


class MyRunnable(dss.MacroRunnable):
    macro_id = "purge-job-logs-table"
