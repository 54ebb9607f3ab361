# backup macro: all logic is in python-lib/nodeops (operation "backup").
from nodeops import dss


class MyRunnable(dss.MacroRunnable):
    macro_id = "backup"
