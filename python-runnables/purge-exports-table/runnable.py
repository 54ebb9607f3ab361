# purge-exports-table macro: the table face of operation "purge-exports" (all logic is in python-lib/nodeops).
from nodeops import dss


class MyRunnable(dss.MacroRunnable):
    macro_id = "purge-exports-table"
