# purge-exports macro: all logic is in python-lib/nodeops (operation "purge-exports").
from nodeops import dss


class MyRunnable(dss.MacroRunnable):
    macro_id = "purge-exports"
